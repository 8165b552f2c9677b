"""Documents: walk folders, extract text per format, detect encodings, chunk, identify languages.

In: folder paths and patterns, files. Out: :class:`FileEntry` (walk), :class:`Extracted`
(text + title) or :class:`ExtractError` (a reason to show the user), :class:`Chunk` lists.

Libraries: pypdf (PDF), python-docx (DOCX), odfpy (ODT), ebooklib + BeautifulSoup (EPUB),
BeautifulSoup (HTML), striprtf (RTF), charset-normalizer (legacy encodings), py3langid
(language identification), the encoder's ``tokenizers`` tokenizer (token-bounded chunks).
"""

from __future__ import annotations

import codecs
import fnmatch
import io
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

#: Extensions indexed, mapped to the file type stored (``htm`` is ``html``).
FILE_TYPES = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html",
              ".pdf": "pdf", ".docx": "docx", ".odt": "odt", ".epub": "epub", ".rtf": "rtf"}
#: Folder names skipped by default besides hidden (dot) folders: system and tool folders.
SYSTEM_FOLDERS = {"$RECYCLE.BIN", "System Volume Information", "__pycache__", "node_modules",
                  "__MACOSX", "lost+found"}
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class ExtractError(Exception):
    """A file that cannot be indexed; ``str(exc)`` is the reason shown to the user."""


@dataclass
class FileEntry:
    path: str
    size: int
    mtime: float
    file_type: str


@dataclass
class Extracted:
    text: str
    title: str


@dataclass
class Chunk:
    """A piece of a document's text: ``text == doc_text[start:end]``."""

    text: str
    start: int
    end: int
    n_tokens: int
    language: str | None = None


# -- walking ----------------------------------------------------------------------------------------
def _hidden(entry: os.DirEntry) -> bool:
    if entry.name.startswith(".") or entry.name in SYSTEM_FOLDERS:
        return True
    attrs = getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)
    return bool(attrs & (getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 2) | getattr(stat, "FILE_ATTRIBUTE_SYSTEM", 4)))


def _match(rel: str, patterns: list[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    for p in patterns:
        if fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p):
            return True
        if p.endswith("/**") and (rel + "/").startswith(p[:-2]):
            return True
    return False


def walk(root: str | Path, include: list[str] | None = None, exclude: list[str] | None = None,
         skip_hidden: bool = True):
    """Yield :class:`FileEntry` for supported files under ``root``.

    Symlinks are followed, but each directory (device, inode) is visited once, so link loops end.
    ``include``: patterns a file must match (relative path or name); ``exclude``: patterns that
    drop files or whole folders. Unreadable folders are skipped.
    """
    root = Path(root)
    include = include or []
    exclude = exclude or []
    seen: set[tuple[int, int]] = set()
    stack = [(str(root), "")]
    while stack:
        d, rel = stack.pop()
        try:
            st = os.stat(d)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for e in entries:
            r = f"{rel}/{e.name}" if rel else e.name
            try:
                is_dir = e.is_dir(follow_symlinks=True)
                is_file = not is_dir and e.is_file(follow_symlinks=True)
            except OSError:
                continue
            if is_dir:
                if (skip_hidden and _hidden(e)) or _match(r, exclude):
                    continue
                subdirs.append((e.path, r))
            elif is_file:
                ftype = FILE_TYPES.get(os.path.splitext(e.name)[1].lower())
                if ftype is None or (skip_hidden and e.name.startswith(".")):
                    continue
                if (include and not _match(r, include)) or _match(r, exclude):
                    continue
                try:
                    st = e.stat(follow_symlinks=True)
                except OSError:
                    continue
                yield FileEntry(path=e.path, size=st.st_size, mtime=st.st_mtime, file_type=ftype)
        stack.extend(reversed(subdirs))


# -- text decoding ---------------------------------------------------------------------------------
_BOMS = [(codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]


def decode_text(data: bytes) -> str:
    """Decode bytes of a text file: BOM, UTF-8, BOM-less UTF-16, then charset-normalizer.

    Raises :class:`ExtractError` for binary data (NUL bytes that are not UTF-16, control
    characters, or no plausible encoding).
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return _check(data[len(bom):].decode(enc, errors="replace"))
    if not data:
        return ""
    if b"\x00" in data:
        # BOM-less UTF-16: strict decoding fails on most binary data (lone surrogates) and
        # _check rejects the rest (NULs, control characters)
        sample = data[:4096]
        order = ["utf-16-le", "utf-16-be"] if sample[1::2].count(0) >= sample[0::2].count(0) else [
            "utf-16-be", "utf-16-le"]
        if len(data) % 2 == 0:
            for enc in order:
                try:
                    return _check(data.decode(enc))
                except (UnicodeDecodeError, ExtractError):
                    continue
        raise ExtractError("binary data, not text (NUL bytes)")
    try:
        return _check(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:1 << 20]).best()
    if best is None:
        raise ExtractError("binary data or unknown text encoding")
    return _check(data.decode(best.encoding, errors="replace"))


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _check(text: str) -> str:
    sample = text[:20000]
    if sample and len(_CONTROL.findall(sample)) > max(8, len(sample) // 100):
        raise ExtractError("binary data, not text (control characters)")
    return text


# -- extractors -------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t\f\v\u00a0]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _txt(data: bytes, path: Path) -> Extracted:
    return Extracted(decode_text(data), "")


def _md(data: bytes, path: Path) -> Extracted:
    text = decode_text(data)
    m = re.search(r"^#\s+(.+)$", text, re.M)
    return Extracted(text, m.group(1).strip() if m else "")


def _html_text(soup) -> str:
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    body = soup.body or soup
    return body.get_text("\n")


def _html(data: bytes, path: Path) -> Extracted:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")  # bytes: BeautifulSoup's UnicodeDammit finds the charset
    title = soup.title.get_text(strip=True) if soup.title else ""
    return Extracted(_html_text(soup), title)


def _pdf(data: bytes, path: Path) -> Extracted:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise ExtractError("encrypted PDF (password-protected)")
        pages = [(p.extract_text() or "") for p in reader.pages]
        title = ""
        try:
            title = (reader.metadata.title or "") if reader.metadata else ""
        except Exception:
            pass
    except ExtractError:
        raise
    except Exception as exc:
        if "decrypt" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise ExtractError("encrypted PDF (password-protected)") from exc
        raise ExtractError(f"damaged or unreadable PDF ({type(exc).__name__}: {str(exc)[:120]})") from exc
    text = "\n\n".join(pages)
    if not text.strip():
        raise ExtractError("no text in PDF (scanned images?)")
    return Extracted(text, str(title))


def _docx(data: bytes, path: Path) -> Extracted:
    import docx

    try:
        d = docx.Document(io.BytesIO(data))
    except Exception as exc:
        if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # OLE container: encrypted Office file
            raise ExtractError("encrypted document (password-protected)") from exc
        raise ExtractError(f"damaged or unreadable DOCX ({type(exc).__name__})") from exc
    parts = [p.text for p in d.paragraphs]
    for table in d.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    return Extracted("\n\n".join(parts), d.core_properties.title or "")


def _odt(data: bytes, path: Path) -> Extracted:
    from odf import teletype
    from odf.namespaces import TEXTNS
    from odf.opendocument import load

    try:
        doc = load(io.BytesIO(data))
    except Exception as exc:
        if b"encryption-data" in data or b"manifest:encryption" in data:
            raise ExtractError("encrypted document (password-protected)") from exc
        raise ExtractError(f"damaged or unreadable ODT ({type(exc).__name__})") from exc
    parts: list[str] = []

    def visit(node):  # paragraphs and headings in document order
        for child in node.childNodes:
            if getattr(child, "qname", None) in ((TEXTNS, "p"), (TEXTNS, "h")):
                parts.append(teletype.extractText(child))
            elif child.nodeType == child.ELEMENT_NODE:
                visit(child)

    visit(doc.text)
    title = ""
    try:
        from odf import dc

        t = doc.meta.getElementsByType(dc.Title)
        title = teletype.extractText(t[0]) if t else ""
    except Exception:
        pass
    return Extracted("\n\n".join(parts), title)


def _epub(data: bytes, path: Path) -> Extracted:
    import warnings

    import ebooklib
    from bs4 import BeautifulSoup
    from ebooklib import epub

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = epub.read_epub(str(path), options={"ignore_ncx": True})
    except Exception as exc:
        raise ExtractError(f"damaged or unreadable EPUB ({type(exc).__name__})") from exc
    parts = []
    for idref, _ in book.spine:
        item = book.get_item_with_id(idref)
        if item is not None and item.get_type() == ebooklib.ITEM_DOCUMENT:
            parts.append(_html_text(BeautifulSoup(item.get_content(), "html.parser")))
    meta = book.get_metadata("DC", "title")
    return Extracted("\n\n".join(parts), meta[0][0] if meta else "")


def _rtf(data: bytes, path: Path) -> Extracted:
    from striprtf.striprtf import rtf_to_text

    if not data.lstrip().startswith(b"{\\rtf"):
        raise ExtractError("not an RTF file")
    m = re.search(rb"\\ansicpg(\d+)", data[:4096])
    enc = f"cp{int(m.group(1))}" if m else "cp1252"
    try:
        codecs.lookup(enc)
    except LookupError:
        enc = "cp1252"
    try:
        return Extracted(rtf_to_text(data.decode("latin-1"), encoding=enc, errors="replace"), "")
    except Exception as exc:
        raise ExtractError(f"damaged RTF ({type(exc).__name__})") from exc


EXTRACTORS = {"txt": _txt, "md": _md, "html": _html, "pdf": _pdf, "docx": _docx, "odt": _odt,
              "epub": _epub, "rtf": _rtf}


def extract(path: str | Path, file_type: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
            data: bytes | None = None) -> Extracted:
    """Extract a file's text (normalised newlines) and title (metadata, heading or file name).

    Raises :class:`ExtractError` with the reason when the file cannot be indexed.
    """
    path = Path(path)
    ftype = file_type or FILE_TYPES.get(path.suffix.lower())
    if ftype not in EXTRACTORS:
        raise ExtractError(f"unsupported file type {path.suffix or '(none)'}")
    if data is None:
        data = read_bytes(path, max_bytes)
    out = EXTRACTORS[ftype](data, path)
    text = _norm(out.text)
    if not text:
        raise ExtractError("no text")
    title = (out.title or "").strip()[:200] or path.stem
    return Extracted(text, title)


def read_bytes(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read a file; an :class:`ExtractError` says why not (too large, permission, I/O)."""
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise ExtractError(f"file too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB limit)")
        with open(path, "rb") as fh:
            return fh.read(max_bytes + 1)
    except PermissionError as exc:
        raise ExtractError("permission denied") from exc
    except FileNotFoundError as exc:
        raise ExtractError("file disappeared") from exc
    except OSError as exc:
        raise ExtractError(f"cannot read file ({exc.strerror or exc})") from exc


# -- chunking ----------------------------------------------------------------------------------------
_PARA = re.compile(r"\n[ \t]*\n\s*")
#: Sentence ends: Latin/Cyrillic/Greek punctuation + space, or CJK/Devanagari/Arabic/Ethiopic
#: terminators (no space needed after fullwidth ones). Thai marks sentences with a space.
_SENT = re.compile(r"(?<=[.!?;…])[\"'”’)\]]*\s+|(?<=[。！？；])[」』”’）]*\s*|(?<=[।॥؟۔።])\s*"
                   r"|(?<=[\u0e00-\u0e7f])\s+(?=[\u0e00-\u0e7f])|\n")


def _spans(text: str, pattern: re.Pattern, start: int, end: int) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` at ``pattern``; spans exclude leading/trailing whitespace."""
    out, pos = [], start
    for m in pattern.finditer(text, start, end):
        if m.end() == m.start() and m.start() in (start, end):
            continue
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, end))
    res = []
    for s, e in out:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            res.append((s, e))
    return res


def split_sentences(text: str) -> list[str]:
    """``text`` cut at sentence ends (the chunker's rules), without surrounding whitespace."""
    return [text[s:e] for s, e in _spans(text, _SENT, 0, len(text))]


def chunk_text(text: str, tokenizer, max_tokens: int = 180, overlap_tokens: int = 32) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``max_tokens`` tokens at sentence/paragraph ends.

    Sentences are packed until the budget is full; a paragraph end closes a chunk that is at
    least half full (so chunks follow paragraphs); the last sentence(s) of a chunk, up to
    ``overlap_tokens``, start the next one within a paragraph. A sentence longer than the budget
    is cut at token boundaries (works for scripts without spaces). Offsets index ``text``.
    """
    paras = _spans(text, _PARA, 0, len(text))
    sents: list[tuple[int, int, bool]] = []  # (start, end, ends_paragraph)
    for ps, pe in paras:
        ss = _spans(text, _SENT, ps, pe)
        for i, (s, e) in enumerate(ss):
            sents.append((s, e, i == len(ss) - 1))
    if not sents:
        return []
    # count by attention mask: a tokenizer file may come with padding switched on
    counts = [sum(enc.attention_mask) for enc in tokenizer.encode_batch([text[s:e] for s, e, _ in sents],
                                                            add_special_tokens=False)]
    units: list[tuple[int, int, int, bool]] = []  # (start, end, tokens, ends_paragraph)
    for (s, e, pend), n in zip(sents, counts):
        if n <= max_tokens:
            units.append((s, e, n, pend))
            continue
        enc = tokenizer.encode(text[s:e], add_special_tokens=False)
        offs = [o for o, m in zip(enc.offsets, enc.attention_mask) if m]
        for i in range(0, len(offs), max_tokens):
            part = offs[i:i + max_tokens]
            us = s if i == 0 else s + part[0][0]
            ue = e if i + max_tokens >= len(offs) else s + offs[i + max_tokens][0]
            while ue > us and text[ue - 1].isspace():
                ue -= 1
            units.append((us, ue, len(part), pend and i + max_tokens >= len(offs)))
    chunks: list[Chunk] = []
    cur: list[tuple[int, int, int, bool]] = []
    fresh = 0  # units in cur that are not overlap from the previous chunk

    def emit():
        s, e = cur[0][0], cur[-1][1]
        chunks.append(Chunk(text[s:e], s, e, sum(u[2] for u in cur)))

    for u in units:
        total = sum(x[2] for x in cur)
        if cur and total + u[2] > max_tokens:
            emit()
            keep: list = []
            if not cur[-1][3]:  # overlap only inside a paragraph
                for x in reversed(cur):
                    if sum(y[2] for y in keep) + x[2] > overlap_tokens or len(keep) + 1 >= len(cur):
                        break
                    keep.insert(0, x)
            if sum(x[2] for x in keep) + u[2] > max_tokens:
                keep = []
            cur, fresh = keep, 0
        cur.append(u)
        fresh += 1
        if u[3] and sum(x[2] for x in cur) >= max_tokens // 2:
            emit()
            cur, fresh = [], 0
    if cur and fresh:
        emit()
    return chunks


# -- language identification ----------------------------------------------------------------------
_langid = None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` (py3langid), or None for text with too few letters."""
    global _langid
    sample = text[:5000]
    if sum(ch.isalpha() for ch in sample[:400]) < 3:
        return None
    if _langid is None:
        import py3langid

        _langid = py3langid.classify
    return _langid(sample)[0]


def detect_document_language(text: str, chunks: list[Chunk]) -> str | None:
    """A document's language: the language covering most characters of its chunks."""
    if not chunks:
        return detect_language(text)
    weight: dict[str, int] = {}
    for ch in chunks:
        if ch.language:
            weight[ch.language] = weight.get(ch.language, 0) + len(ch.text)
    return max(weight, key=weight.get) if weight else None
