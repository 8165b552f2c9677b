"""Documents: walk folders, extract text per format, detect encodings, chunk, identify languages.

In: folder paths and patterns, files. Out: :class:`FileEntry` (walk), :class:`Extracted`
(text + title) or :class:`ExtractError` (a reason to show the user), :class:`Chunk` lists.

Libraries: pypdf (PDF), python-docx (DOCX), python-pptx (PPTX), openpyxl (XLSX), odfpy (ODT),
ebooklib + BeautifulSoup (EPUB), BeautifulSoup (HTML), striprtf (RTF), charset-normalizer (legacy encodings), py3langid
(language identification), the encoder's ``tokenizers`` tokenizer (token-bounded chunks).
"""

from __future__ import annotations

import bisect
import codecs
import fnmatch
import io
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from hybridsearch import language

#: Extensions indexed, mapped to the file type stored (``htm`` is ``html``).
FILE_TYPES = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html",
              ".pdf": "pdf", ".docx": "docx", ".odt": "odt", ".epub": "epub", ".rtf": "rtf",
              ".pptx": "pptx", ".xlsx": "xlsx", ".csv": "csv", ".tsv": "csv"}
#: Folder names skipped by default besides hidden (dot) folders: system and tool folders.
SYSTEM_FOLDERS = {"$RECYCLE.BIN", "System Volume Information", "__pycache__", "node_modules",
                  "__MACOSX", "lost+found"}
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
MIB = 1024 * 1024
#: Text kept per document: past this many characters (about 2,000 pages) the rest is not indexed,
#: so one huge file cannot hold indexing for hours (a 64 MiB text is ~80,000 chunks to embed).
MAX_TEXT_CHARS = 4_000_000
#: Zip containers (DOCX, PPTX, XLSX, ODT, EPUB): limits checked in the zip directory before anything is
#: unpacked. Only text parts (XML, XHTML, ...) are unpacked at all, each read with a cap, so a
#: zip bomb is refused at once and a real document stays within a few hundred MB of memory.
ZIP_MAX_MEMBERS = 20_000
ZIP_MAX_PART = 32 * MIB
ZIP_MAX_TEXT = 96 * MIB
_ZIP_TEXT_PARTS = (".xml", ".rels", ".xhtml", ".html", ".htm", ".opf", ".ncx", ".txt")


class ExtractError(Exception):
    """A file that cannot be indexed; ``str(exc)`` is the reason shown to the user."""


@dataclass
class FileEntry:
    path: str
    size: int
    mtime: float
    file_type: str
    #: why the walk could not look at this file or folder (it is recorded as failed), else None
    error: str | None = None


@dataclass
class Extracted:
    text: str
    title: str
    #: characters of text dropped past :data:`MAX_TEXT_CHARS` (0: the whole text is kept)
    truncated: int = 0
    #: paged formats (PDF pages, PPTX slides): where each page's text starts in ``text`` (page 1 at
    #: index 0; a page without text starts where the next one does); None for formats without pages
    page_starts: list[int] | None = None


@dataclass
class Chunk:
    """A piece of a document's text: ``text == doc_text[start:end]``."""

    text: str
    start: int
    end: int
    n_tokens: int
    language: str | None = None
    #: the page the chunk starts on (paged formats), else None
    page: int | None = None


def readable(name: str) -> str:
    """A file name for people: bytes that are not UTF-8 (kept as surrogates by os.fsdecode) become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


# -- walking ----------------------------------------------------------------------------------------
def _hidden(entry: os.DirEntry) -> bool:
    if entry.name.startswith(".") or entry.name in SYSTEM_FOLDERS:
        return True
    try:
        attrs = getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)
    except OSError:  # gone since the listing: the scan of it records that, not this check
        return False
    return bool(attrs & (getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 2) | getattr(stat, "FILE_ATTRIBUTE_SYSTEM", 4)))


def _match(rel: str, patterns: list[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    for p in patterns:
        if fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p):
            return True
        if p.endswith("/**") and (rel + "/").startswith(p[:-2]):
            return True
    return False


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _inside(path: str, roots: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def walk(root: str | Path, include: list[str] | None = None, exclude: list[str] | None = None,
         skip_hidden: bool = True, follow_links: bool = False):
    """Yield :class:`FileEntry` for supported files under ``root``.

    Symbolic links are followed only when they point inside ``root`` (``follow_links``: anywhere),
    and each directory (device, inode) is visited once, so link loops end. ``include``: patterns
    a file must match (relative path or name); ``exclude``: patterns that drop files or whole
    folders. A folder that cannot be listed (permission, vanished during the scan, path too long)
    and a file whose information cannot be read are yielded with ``error`` set, and the walk goes on.
    """
    root = Path(root)
    include = include or []
    exclude = exclude or []
    roots = [os.path.realpath(root)]
    seen: set[tuple[int, int]] = set()
    stack = [(str(root), "")]
    while stack:
        d, rel = stack.pop()
        try:
            st = os.stat(d)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if rel and isinstance(exc, FileNotFoundError):
                continue  # deleted during the scan: nothing to record, its documents go
            yield FileEntry(path=d, size=-1, mtime=0.0, file_type="folder",
                            error=f"cannot read folder ({_os_reason(exc)})")
            continue
        subdirs = []
        for e in entries:
            r = f"{rel}/{e.name}" if rel else e.name
            try:
                is_dir = e.is_dir(follow_symlinks=True)
                is_file = not is_dir and e.is_file(follow_symlinks=True)
                if (is_dir or is_file) and not follow_links and e.is_symlink() and not _inside(e.path, roots):
                    continue  # a link out of the library's folder (to /etc, say): not followed
            except OSError:
                continue  # a link loop or a dangling link: nothing to index
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
                except FileNotFoundError:
                    continue  # deleted during the scan
                except OSError as exc:  # path too long, permission, I/O: record it, go on
                    yield FileEntry(path=e.path, size=-1, mtime=0.0, file_type=ftype,
                                    error=f"cannot read file information ({_os_reason(exc)})")
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
        # the high byte of UTF-16 text varies little (one script's block): its lane says the order
        order = ["utf-16-le", "utf-16-be"] if len(set(sample[1::2])) <= len(set(sample[0::2])) else [
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
        # mixed encodings in one file (UTF-8 with some legacy lines): keep the UTF-8, mark the rest
        text = data.decode("utf-8", errors="replace")
        if text.count("\ufffd") > len(text) // 3:
            raise ExtractError("binary data or unknown text encoding")
        return _check(text)
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
    # per line, not a regex: "[ \t]+\n" retries every start of a long run of spaces (quadratic)
    text = "\n".join(line.rstrip(" \t\f\v\u00a0") for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


#: Signatures of binary formats that are never text, whatever the file is called.
_MAGIC = [(b"\x7fELF", "an ELF executable"), (b"MZ", "a Windows executable"),
          (b"\xcf\xfa\xed\xfe", "a Mach-O executable"), (b"\xfe\xed\xfa", "a Mach-O executable"),
          (b"\xca\xfe\xba\xbe", "a Mach-O or Java binary"), (b"\x00asm", "a WebAssembly binary"),
          (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"PK\x03\x04", "a zip archive"), (b"\x1f\x8b", "a gzip archive"), (b"7z\xbc\xaf", "a 7z archive"),
          (b"Rar!", "a RAR archive"), (b"BZh", "a bzip2 archive"), (b"\xfd7zXZ", "an xz archive"),
          (b"SQLite format 3\x00", "an SQLite database"), (b"%PDF-", "a PDF file"),
          (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE file (old Office or encrypted)")]


def _refuse_binary(data: bytes, ftype: str) -> None:
    """Raise :class:`ExtractError` when a text-format file (txt, md, html, rtf) holds binary data."""
    for magic, what in _MAGIC:
        if data.startswith(magic) and (magic != b"MZ" or b"\x00" in data[:64]):
            raise ExtractError(f"binary data, not {ftype.upper()} (the content is {what})")
    sample = data[:65536]
    if b"\x00" in sample and not any(data.startswith(b) for b, _ in _BOMS):
        for enc in ("utf-16-le", "utf-16-be"):  # BOM-less UTF-16 is text; binary data fails strict decoding
            try:
                _check(codecs.getincrementaldecoder(enc)().decode(sample, final=False))
                return
            except (UnicodeDecodeError, ExtractError):
                continue
        raise ExtractError(f"binary data, not {ftype.upper()} (NUL bytes)")


def _txt(data: bytes, path: Path) -> Extracted:
    _refuse_binary(data, "txt")
    return Extracted(decode_text(data), "")


def _csv(data: bytes, path: Path) -> Extracted:
    """Comma- or tab-separated values: read as text (a row a line), the encoding detected."""
    _refuse_binary(data, "csv")
    return Extracted(decode_text(data), "")


def _md(data: bytes, path: Path) -> Extracted:
    _refuse_binary(data, "md")
    text = decode_text(data)
    m = re.search(r"^#\s+(.+)$", text, re.M)
    return Extracted(text, m.group(1).strip() if m else "")


#: HTML elements that end a paragraph or a line: their text never runs into the next element's
#: ("<h1>Title</h1><p>Body" is "Title", a blank line, "Body"); inline ones (b, i, a, span) join
#: as written ("<b>bold</b>er" is "bolder").
_HTML_PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "div", "section", "article", "main", "header",
                    "footer", "nav", "aside", "blockquote", "pre", "ul", "ol", "dl", "table", "form",
                    "fieldset", "figure", "figcaption", "address", "details", "summary", "hr"}
_HTML_LINES = {"li", "dt", "dd", "tr", "caption", "option", "legend"}
_HTML_CELLS = {"td", "th"}
#: Private-use characters that stand for the boundaries while the text is put together (any in
#: the document itself are removed first).
_HTML_PARA, _HTML_LINE, _HTML_BR, _HTML_CELL = "\ue000", "\ue001", "\ue002", "\ue003"
_HTML_MARKS = re.compile("[\ue000-\ue003]")
_HTML_SPACE = re.compile("[ \t\r\n\f\v]+")
_BOUNDARY = re.compile("[ \ue000-\ue003]*[\ue000-\ue003][ \ue000-\ue003]*")


def _boundary(m: re.Match) -> str:
    run = m.group()
    if _HTML_PARA in run or run.count(_HTML_BR) >= 2:
        return "\n\n"
    if _HTML_LINE in run or _HTML_BR in run:
        return "\n"
    return "\t"


def _html_text(soup) -> str:
    """The text of an HTML document as a reader sees it: paragraphs and headings apart (a blank
    line), list items, table rows and ``<br>`` on lines of their own, table cells apart (a tab),
    the source's white space collapsed (line breaks kept in ``<pre>``)."""
    from bs4 import NavigableString
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    skip = (Comment, Declaration, Doctype, ProcessingInstruction)
    parts: list[str] = []
    # a walk with its own stack (entering and leaving each element), not recursion: documents
    # nest elements 50,000 deep
    stack = [(soup.body or soup, 0, "", False)]
    while stack:
        node, i, mark, pre = stack.pop()
        if i >= len(node.contents):
            parts.append(mark)
            continue
        stack.append((node, i + 1, mark, pre))
        child = node.contents[i]
        if isinstance(child, NavigableString):
            if not isinstance(child, skip):
                text = _HTML_MARKS.sub("", str(child))
                parts.append(text.replace("\r", "").replace("\n", _HTML_BR) if pre else text)
            continue
        name = (child.name or "").lower()
        if name == "br":
            parts.append(_HTML_BR)
            continue
        mark = _HTML_PARA if name in _HTML_PARAGRAPHS else _HTML_LINE if name in _HTML_LINES else (
            _HTML_CELL if name in _HTML_CELLS else "")
        parts.append(mark)
        stack.append((child, 0, mark, pre or name == "pre"))
    text = _HTML_SPACE.sub(" ", "".join(parts))
    return _BOUNDARY.sub(_boundary, text)


def _html(data: bytes, path: Path) -> Extracted:
    from bs4 import BeautifulSoup

    _refuse_binary(data, "html")

    soup = BeautifulSoup(data, "html.parser")  # bytes: BeautifulSoup's UnicodeDammit finds the charset
    title = soup.title.get_text(strip=True) if soup.title else ""
    return Extracted(_html_text(soup), title)


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _text_parts_zip(data: bytes, kind: str) -> io.BytesIO:
    """A DOCX/ODT/EPUB zip checked in its directory and rebuilt with only its text parts.

    Images and other binary parts become empty (the readers load every part into memory, and
    text needs none of them). Raises :class:`ExtractError` for a file that is not a zip, and for
    one whose directory declares more than the limits (a zip bomb): nothing is unpacked then.
    Reads are capped too: zipfile never returns more than a member's declared size.
    """
    import zipfile

    if data.startswith(_OLE):
        raise ExtractError("encrypted document (password-protected)")
    if not data.startswith(b"PK"):
        raise ExtractError(f"not a {kind} file (no zip container; the content is "
                           f"{_describe(data)})")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise ExtractError(f"damaged or unreadable {kind} (broken zip: {str(exc)[:80]})") from exc
    if len(infos) > ZIP_MAX_MEMBERS:
        raise ExtractError(f"{kind} holds {len(infos):,} parts (limit {ZIP_MAX_MEMBERS:,}): not indexed")
    text_parts = [i for i in infos if i.filename == "mimetype" or i.filename.lower().endswith(_ZIP_TEXT_PARTS)]
    total = sum(i.file_size for i in text_parts)
    worst = max(text_parts, key=lambda i: i.file_size, default=None)
    if worst is not None and worst.file_size > ZIP_MAX_PART:
        raise ExtractError(f"{kind} part {worst.filename[:60]} unpacks to {worst.file_size / MIB:,.0f} MiB "
                           f"(limit {ZIP_MAX_PART // MIB} MiB; a zip bomb?): not indexed")
    if total > ZIP_MAX_TEXT:
        raise ExtractError(f"{kind} text unpacks to {total / MIB:,.0f} MiB (limit {ZIP_MAX_TEXT // MIB} MiB; "
                           "a zip bomb?): not indexed")
    out = io.BytesIO()
    try:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as slim:
            for info in infos:
                if info.is_dir():
                    continue
                body = b""
                if info in text_parts:
                    with zf.open(info) as fh:
                        body = fh.read(ZIP_MAX_PART + 1)
                slim.writestr(info.filename, body)
    except ExtractError:
        raise
    except Exception as exc:  # bad CRC, unsupported compression, truncated data, encrypted member
        raise ExtractError(f"damaged or unreadable {kind} ({type(exc).__name__}: {str(exc)[:80]})") from exc
    out.seek(0)
    return out


def _describe(data: bytes) -> str:
    """What some bytes look like, for a message: "empty", a known binary format, "text" or "binary data"."""
    if not data:
        return "empty"
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    sample = data[:4096]
    return "binary data" if b"\x00" in sample or len(_CONTROL.findall(sample.decode("latin-1"))) > 8 else "text"



def _pdf(data: bytes, path: Path) -> Extracted:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files: the reason is recorded instead

    if b"%PDF-" not in data[:1024]:
        raise ExtractError(f"not a PDF file (no PDF header; the content is {_describe(data)})")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise ExtractError("encrypted PDF (password-protected)")
        pages, n_chars = [], 0
        for page in reader.pages:  # stop once the document's text budget is used
            pages.append(page.extract_text() or "")
            n_chars += len(pages[-1])
            if n_chars > MAX_TEXT_CHARS:
                break
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
    text, starts = _join_pages(pages)
    if not text:
        raise ExtractError("no text in PDF (scanned images?)")
    return Extracted(text, str(title), page_starts=starts)


#: A line break inside a run of Chinese or Japanese (or of Thai) text: scripts without spaces
#: between words, where a PDF's line ends fall inside words ("世\n纪" for "世纪"). CSS Text 3's
#: segment-break rule removes such a break between two wide characters (Hangul aside: Korean puts
#: spaces between words); a break after a sentence-final mark is kept.
_WIDE = ("\u3001\u3003-\u303f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uff60"
         "\U00020000-\U0003ffff")
_WRAPPED = re.compile(f"(?<=[{_WIDE}])(?<![\uff01\uff0e\uff1f])\n[ \t\u3000]*(?=[{_WIDE}])"
                      "|(?<=[\u0e01-\u0e5b])\n[ \t]*(?=[\u0e01-\u0e5b])")


def _unwrap_lines(page: str) -> str:
    """A PDF page's text with the line breaks that fall inside CJK or Thai text removed: a word
    (and a keyword's two-character run) wrapped over two lines is whole again."""
    return _WRAPPED.sub("", page)


#: Arabic presentation forms: the shaped letters (initial, medial, final) a PDF's font draws;
#: text holds the plain letters (NFKC maps each form to its letter).
_PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufefc]+")
_RTL_LETTER = re.compile("[\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_HEBREW_FINALS = "\u05da\u05dd\u05df\u05e3\u05e5"  # ך ם ן ף ץ: only at the end of a word
_LTR_STRONG = re.compile("[0-9A-Za-z\u00c0-\u02af\u0370-\u03ff\u0400-\u04ff]")
_INITIAL_FORMS = frozenset(chr(c) for c in range(0xFB50, 0xFEFD) if "INITIAL FORM" in unicodedata.name(chr(c), ""))
_FINAL_FORMS = frozenset(chr(c) for c in range(0xFB50, 0xFEFD) if "FINAL FORM" in unicodedata.name(chr(c), ""))
_MIRRORED = str.maketrans("()[]{}<>«»", ")(][}{><»«")


def _looks_visual(text: str) -> bool:
    """Whether the Arabic or Hebrew in ``text`` runs in visual order (the letters of each line
    left to right as drawn, so each word reversed), as PDF text extraction gives it for many
    files. The cue is how words begin: Arabic words often start with the article "ال" (a
    reversed word ends with "لا"), and in shaped letters with an initial form (a reversed word
    with a final form: Persian and Urdu too); Hebrew final letters end words (a reversed word
    starts with one)."""
    logical = visual = 0
    for word in _PRESENTATION_FORMS.findall(text):
        logical += word[0] in _INITIAL_FORMS
        visual += word[0] in _FINAL_FORMS
    for word in re.findall("[\u0590-\u05ff\u0600-\u06ff]{3,}", _PRESENTATION_FORMS.sub(_plain_letters, text)):
        logical += word.startswith("\u0627\u0644") + (word[-1] in _HEBREW_FINALS)
        visual += word.endswith("\u0644\u0627") + (word[0] in _HEBREW_FINALS)
    return visual >= 3 and visual > 3 * logical


def _plain_letters(m: re.Match) -> str:
    return unicodedata.normalize("NFKC", m.group())


def _logical_line(line: str) -> str:
    """One line of visual-order text in reading order: the runs of right-to-left words in reverse,
    each word's letters reversed (brackets mirrored); runs of other words (Latin, numbers) keep
    their order."""
    runs: list[tuple[bool, list[str]]] = []
    for word in line.split():
        rtl = _RTL_LETTER.search(word) is not None or _LTR_STRONG.search(word) is None  # marks go with RTL
        if runs and runs[-1][0] == rtl:
            runs[-1][1].append(word)
        else:
            runs.append((rtl, [word]))
    out = []
    for rtl, words in reversed(runs):
        out += [w[::-1].translate(_MIRRORED) for w in reversed(words)] if rtl else words
    return " ".join(out)


def _reading_order(page: str) -> str:
    """A PDF page's text with Arabic presentation forms as plain letters and, when its Arabic or
    Hebrew came out in visual order, every line holding such words in reading order."""
    if _RTL_LETTER.search(page) is None:
        return page
    if _looks_visual(page):  # reordered before the forms become letters: "ﻻ" is two letters, lam then alef
        page = "\n".join(_logical_line(line) if _RTL_LETTER.search(line) else line for line in page.split("\n"))
    return _PRESENTATION_FORMS.sub(_plain_letters, page)


def read_differently_now(text: str) -> bool:
    """Whether ``text`` (a PDF's text as readers before 2026-12 extracted it) is read differently
    now: whether :func:`_reading_order` or :func:`_unwrap_lines` change it (Latin ligatures aside:
    search folds them either way)."""
    return _unwrap_lines(_reading_order(text)) != text


#: Latin ligatures a PDF font draws as one glyph ("ﬁ" in "ﬁrst"), as their letters: keyword search
#: folds them anyway; shown and copied text reads as typed. (Stored chunks keep theirs until the
#: file changes: search is the same either way.)
_LIGATURES = {c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)}


def _join_pages(pages: list[str], pdf: bool = True) -> tuple[str, list[int]]:
    """Pages' (or slides') texts, each normalised, joined by a blank line -> (text, start of each).

    Normalised here, page by page, so that :func:`extract`'s normalising of the whole text
    changes nothing and the page starts stay true. ``pdf``: PDF text is also put right
    (:func:`_reading_order`, Latin ligatures as letters, :func:`_unwrap_lines`).
    """
    parts, starts, pos = [], [], 0
    for page in pages:
        page = _unwrap_lines(_norm(_reading_order(page).translate(_LIGATURES))) if pdf else _norm(page)
        if page and parts:
            pos += 2  # the blank line between pages
        starts.append(pos)
        if page:
            parts.append(page)
            pos += len(page)
    for i in range(len(starts) - 2, -1, -1):  # a page without text starts where the next one does
        if not _norm(pages[i]) and i + 1 < len(starts):
            starts[i] = starts[i + 1]
    return "\n\n".join(parts), starts


def page_at(page_starts: list[int] | None, offset: int) -> int | None:
    """The page (1-based) holding character ``offset`` of a paged document's text, else None."""
    if not page_starts:
        return None
    return max(1, bisect.bisect_right(page_starts, offset))


def _docx(data: bytes, path: Path) -> Extracted:
    import docx

    slim = _text_parts_zip(data, "DOCX")
    try:
        d = docx.Document(slim)
    except Exception as exc:
        raise ExtractError(f"damaged or unreadable DOCX ({type(exc).__name__})") from exc
    parts = [p.text for p in d.paragraphs]
    for table in d.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    return Extracted("\n\n".join(parts), d.core_properties.title or "")


def _pptx_shape_texts(shapes) -> list[str]:
    """The text of slide shapes in their order: text boxes and placeholders, tables (a row a line,
    cells by tabs) and the shapes inside groups."""
    out = []
    for shape in shapes:
        if getattr(shape, "shapes", None) is not None and not getattr(shape, "has_text_frame", False):
            out += _pptx_shape_texts(shape.shapes)  # a group
        elif getattr(shape, "has_text_frame", False):
            out.append(shape.text_frame.text)
        elif getattr(shape, "has_table", False):
            out += ["\t".join(cell.text for cell in row.cells) for row in shape.table.rows]
    return out


def _pptx(data: bytes, path: Path) -> Extracted:
    """A presentation's slides in order (their text, then their speaker notes), a blank line apart;
    each passage records the slide it starts on."""
    from pptx import Presentation

    slim = _text_parts_zip(data, "PPTX")
    try:
        deck = Presentation(slim)
        slides = []
        for slide in deck.slides:
            parts = _pptx_shape_texts(slide.shapes)
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                parts.append(slide.notes_slide.notes_text_frame.text)
            # python-pptx writes a line break inside a paragraph as a vertical tab
            slides.append("\n".join(p for p in parts if p.strip()).replace("\v", "\n"))
        title = deck.core_properties.title or ""
    except Exception as exc:
        raise ExtractError(f"damaged or unreadable PPTX ({type(exc).__name__}: {str(exc)[:80]})") from exc
    text, starts = _join_pages(slides, pdf=False)
    return Extracted(text, title, page_starts=starts)


def _cell_text(value) -> str:
    """A spreadsheet cell's value as a person reads it: a date without a time of 00:00:00."""
    import datetime as dt

    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    return "" if value is None else str(value).strip()


def _xlsx(data: bytes, path: Path) -> Extracted:
    """A workbook's sheets in order: the sheet's name, then a line per row with its cells' values
    (formulas as their last computed value) tab-separated; stops at the text budget."""
    from openpyxl import load_workbook

    slim = _text_parts_zip(data, "XLSX")
    parts, n_chars = [], 0
    try:
        book = load_workbook(slim, read_only=True, data_only=True)
        try:
            for sheet in book.worksheets:
                parts.append(sheet.title)
                for row in sheet.iter_rows(values_only=True):
                    cells = [c for c in map(_cell_text, row) if c]
                    if cells:
                        parts.append("\t".join(cells))
                        n_chars += len(parts[-1])
                        if n_chars > MAX_TEXT_CHARS:  # as PDF pages: past the budget nothing is kept
                            break
                if n_chars > MAX_TEXT_CHARS:
                    break
                parts.append("")  # a blank line between sheets
            title = book.properties.title or ""
        finally:
            book.close()
    except Exception as exc:
        raise ExtractError(f"damaged or unreadable XLSX ({type(exc).__name__}: {str(exc)[:80]})") from exc
    return Extracted("\n".join(parts), title)


def _check_odt_xml(slim: io.BytesIO) -> None:
    """Raise :class:`ExtractError` when an XML part odfpy reads is not well-formed (or encrypted)."""
    import zipfile
    from xml.sax import SAXException, handler

    from defusedxml.sax import make_parser

    with zipfile.ZipFile(slim) as zf:
        names = set(zf.namelist())
        manifest = zf.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in names else b""
        if b"encryption-data" in manifest:
            raise ExtractError("encrypted document (password-protected)")
        for part in ("settings.xml", "meta.xml", "content.xml", "styles.xml"):
            if part not in names:
                continue
            parser = make_parser()  # namespaces off: odfpy adds missing prefix declarations itself
            parser.setFeature(handler.feature_external_ges, 0)
            parser.setContentHandler(handler.ContentHandler())
            try:
                parser.parse(io.BytesIO(zf.read(part)))
            except (SAXException, ValueError) as exc:
                raise ExtractError(f"damaged ODT ({part} is not well-formed XML: {str(exc)[:80]})") from exc
    slim.seek(0)


def _odt(data: bytes, path: Path) -> Extracted:
    from odf import teletype
    from odf.namespaces import TEXTNS
    from odf.opendocument import load

    slim = _text_parts_zip(data, "ODT")
    _check_odt_xml(slim)  # odfpy prints a broken part to stdout (corrupting --json) and skips it
    try:
        doc = load(slim)
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
            # from the bytes already read (and checked), never from the path: it may be a FIFO now
            book = epub.read_epub(_text_parts_zip(data, "EPUB"), options={"ignore_ncx": True})
    except ExtractError:
        raise
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

    _refuse_binary(data, "rtf")
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


EXTRACTORS = {"txt": _txt, "md": _md, "html": _html, "pdf": _pdf, "docx": _docx, "pptx": _pptx,
              "xlsx": _xlsx, "csv": _csv, "odt": _odt, "epub": _epub, "rtf": _rtf}


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
    if not data:
        raise ExtractError("empty file (0 bytes)")
    out = EXTRACTORS[ftype](data, path)
    text = _norm(out.text)
    if not text:
        raise ExtractError("no text")
    starts = out.page_starts if text == out.text else None  # offsets hold only for text as given
    dropped = 0
    if len(text) > MAX_TEXT_CHARS:  # keep whole words: cut at the last space before the limit
        cut = text.rfind(" ", MAX_TEXT_CHARS - 1000, MAX_TEXT_CHARS)
        cut = cut if cut > 0 else MAX_TEXT_CHARS
        text, dropped = text[:cut].rstrip(), len(text) - cut
        if starts:
            starts = [s for s in starts if s < len(text)] or [0]
    title = (out.title or "").strip()[:200] or readable(path.stem)
    return Extracted(text, title, dropped, starts)


def read_bytes(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read a regular file; an :class:`ExtractError` says why not (too large, not a file, permission, I/O).

    The file is opened non-blocking and its type checked on the open descriptor: a file swapped
    for a FIFO, socket or device after the scan is refused instead of blocking indexing forever.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError as exc:
        raise ExtractError("permission denied") from exc
    except FileNotFoundError as exc:
        raise ExtractError("file disappeared") from exc
    except OSError as exc:
        raise ExtractError(f"cannot open file ({exc.strerror or exc})") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ExtractError("not a regular file (a FIFO, socket or device): skipped")
        limit = f"{max_bytes / MIB:.0f} MiB" if max_bytes >= MIB else f"{max_bytes:,} bytes"
        if st.st_size > max_bytes:
            raise ExtractError(f"file too large ({st.st_size / MIB:,.1f} MiB; the limit is {limit})")
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:  # grew after the check
            raise ExtractError(f"file too large (over the {limit} limit)")
        return data
    except PermissionError as exc:
        raise ExtractError("permission denied") from exc
    except OSError as exc:
        raise ExtractError(f"cannot read file ({exc.strerror or exc})") from exc
    finally:
        if fd >= 0:
            os.close(fd)


# -- chunking ----------------------------------------------------------------------------------------
_PARA = re.compile(r"\n[ \t]*\n\s*")
#: Sentence ends: Latin/Cyrillic/Greek punctuation + space, or CJK/Devanagari/Arabic/Ethiopic
#: terminators (no space needed after fullwidth ones). Thai marks sentences with a space.
_SENT = re.compile(r"(?<=[.!?;…])[\"'”’)\]]*\s+|(?<=[。！？；])[」』”’）]*\s*|(?<=[।॥؟۔።])\s*"
                   r"|(?<=[\u0e00-\u0e7f])\s+(?=[\u0e00-\u0e7f])|\n")


def split_spans(text: str, pattern: re.Pattern, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` at ``pattern``; spans exclude leading/trailing whitespace."""
    end = len(text) if end is None else end
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
    return [text[s:e] for s, e in split_spans(text, _SENT, 0, len(text))]


#: Longest stretch of text tokenised in one piece, and sentences tokenised per call.
WINDOW_CHARS = 2000
TOKENIZE_BATCH = 256


def chunk_text(text: str, tokenizer, max_tokens: int = 180, overlap_tokens: int = 32,
               breaks: list[int] | None = None) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``max_tokens`` tokens at sentence/paragraph ends.

    Sentences are packed until the budget is full; a paragraph end closes a chunk that is at
    least half full (so chunks follow paragraphs); the last sentence(s) of a chunk, up to
    ``overlap_tokens``, start the next one within a paragraph. A sentence longer than the budget
    is cut at token boundaries (works for scripts without spaces). Offsets index ``text``.
    ``breaks``: offsets no chunk reaches across (a PDF's page starts: a passage is on one page,
    the page a result names).
    """
    paras = split_spans(text, _PARA, 0, len(text))
    sents: list[tuple[int, int, bool]] = []  # (start, end, ends_paragraph)
    for ps, pe in paras:
        ss = split_spans(text, _SENT, ps, pe)
        for i, (s, e) in enumerate(ss):
            last = i == len(ss) - 1
            # a stretch without sentence ends is tokenised in windows: time stays linear and
            # memory bounded on megabytes of text without spaces or punctuation
            while e - s > WINDOW_CHARS:
                cut = text.rfind(" ", s + WINDOW_CHARS // 2, s + WINDOW_CHARS)
                cut = cut if cut > s else s + WINDOW_CHARS
                sents.append((s, cut, False))
                s = cut
                while s < e and text[s].isspace():
                    s += 1
            if e > s:
                sents.append((s, e, last))
    if not sents:
        return []
    units: list[tuple[int, int, int, bool]] = []  # (start, end, tokens, ends_paragraph)
    for b in range(0, len(sents), TOKENIZE_BATCH):
        batch = sents[b:b + TOKENIZE_BATCH]
        encs = tokenizer.encode_batch([text[s:e] for s, e, _ in batch], add_special_tokens=False)
        for (s, e, pend), enc in zip(batch, encs):
            # count by attention mask: a tokenizer file may come with padding switched on
            offs = [o for o, m in zip(enc.offsets, enc.attention_mask) if m]
            if len(offs) <= max_tokens:
                units.append((s, e, len(offs), pend))
                continue
            for i in range(0, len(offs), max_tokens):  # longer than the budget: cut at token boundaries
                part = offs[i:i + max_tokens]
                us = s if i == 0 else s + part[0][0]
                ue = e if i + max_tokens >= len(offs) else s + offs[i + max_tokens][0]
                while ue > us and text[ue - 1].isspace():
                    ue -= 1
                units.append((us, ue, len(part), pend and i + max_tokens >= len(offs)))
    cuts = sorted(b for b in (breaks or ()) if b > 0)
    hard = []  # per unit: a break lies between it and the next unit
    for j, u in enumerate(units):
        nxt = units[j + 1][0] if j + 1 < len(units) else len(text)
        k = bisect.bisect_left(cuts, u[1])
        hard.append(k < len(cuts) and cuts[k] <= nxt)
    chunks: list[Chunk] = []
    cur: list[tuple[int, int, int, bool]] = []
    fresh = 0  # units in cur that are not overlap from the previous chunk

    def emit():
        s, e = cur[0][0], cur[-1][1]
        chunks.append(Chunk(text[s:e], s, e, sum(u[2] for u in cur)))

    for u, at_break in zip(units, hard):
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
        if at_break or (u[3] and sum(x[2] for x in cur) >= max_tokens // 2):
            emit()
            cur, fresh = [], 0
    if cur and fresh:
        emit()
    return chunks


# -- language identification ----------------------------------------------------------------------
#: ISO 639-1 code of a text (py3langid), or None for text with too few letters.
detect_language = language.detect


def detect_document_language(text: str, chunks: list[Chunk]) -> str | None:
    """A document's language: the language covering most characters of its chunks."""
    if not chunks:
        return detect_language(text)
    weight: dict[str, int] = {}
    for ch in chunks:
        if ch.language:
            weight[ch.language] = weight.get(ch.language, 0) + len(ch.text)
    return max(weight, key=weight.get) if weight else None
