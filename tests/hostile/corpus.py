"""A hostile corpus: hundreds of bad files, each with what indexing must make of it.

``make_corpus(root)`` writes the files and returns a list of :class:`Case`: the file's path and
the expected outcome, either ``("ok", text that must be extracted)`` or ``("failed", regex the
reason must match)``. Special entries (symlink loops, FIFOs, dangling links) are not files to
index: their expectation is ``("absent", "")`` (the walk must skip them without blocking).
``benchmarks/reliability.py`` and ``tests/hostile/`` both use it; nothing is stored in the
repository, every file is built here from the project's own writers or by hand.
"""

from __future__ import annotations

import io
import os
import random
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from test_documents import EN, JA, RU, TH, ZH, make_docx, make_epub, make_odt, make_pdf, make_pptx, make_xlsx  # noqa: E402,E501

MIB = 1024 * 1024


@dataclass
class Case:
    path: Path
    expect: str  # "ok", "failed" or "absent"
    detail: str  # text that must be extracted, or a regex the failure reason must match
    kind: str  # group name for the figures


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression) as z:
        for name, body in members.items():
            z.writestr(name, body)
    return b.getvalue()


def _zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _bomb(template: bytes, part: str, size: int, many: int = 0) -> bytes:
    """``template`` (a real document) with ``part`` replaced by ``size`` bytes of zeros, deflated.

    ``many``: instead, add that many extra small text parts (a directory bomb).
    """
    members = _zip_members(template)
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in members.items():
            if name == part and size:
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                with z.open(info, "w", force_zip64=True) as fh:
                    zero = bytes(MIB)
                    for _ in range(size // MIB):
                        fh.write(zero)
            else:
                z.writestr(name, body)
        for i in range(many):
            z.writestr(f"extra/{i}.xml", b"<a/>")
    return b.getvalue()


ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(40) + b"hello world " * 40
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(50) + b"This program cannot be run in DOS mode." + bytes(400)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(20) + os.urandom(500)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(800)
GZ = b"\x1f\x8b\x08\x00" + os.urandom(600)
SQLITE = b"SQLite format 3\x00" + bytes(600)
RANDOM = random.Random(1).randbytes(4000)
BINARIES = {"elf": ELF, "pe": PE, "png": PNG, "jpeg": JPEG, "gz": GZ, "sqlite": SQLITE,
            "random": RANDOM, "zip": _zip({"a.bin": os.urandom(300)})}
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10))
                  + b']><lolz>&lol9;</lolz>')
XXE = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
       b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
       b'<w:p><w:r><w:t>&e;</w:t></w:r></w:p></w:body></w:document>')


def make_corpus(root: Path, big: bool = False) -> list[Case]:
    """Write the hostile corpus under ``root``; ``big`` adds the GiB zip bombs and a 50 MB one-line file."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(rel: str, data: bytes | None, expect: str, detail: str, kind: str) -> Path:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            p.write_bytes(data)
        cases.append(Case(p, expect, detail, kind))
        return p

    tmp = root / ".templates"  # hidden: the walk skips it
    tmp.mkdir(exist_ok=True)
    pdf = make_pdf(tmp / "t.pdf", EN).read_bytes()
    docx = make_docx(tmp / "t.docx", [EN, "Second paragraph."]).read_bytes()
    odt = make_odt(tmp / "t.odt", [EN]).read_bytes()
    epub = make_epub(tmp / "t.epub", [EN]).read_bytes()
    pptx = make_pptx(tmp / "t.pptx", [("Lighthouse", EN)]).read_bytes()
    xlsx = make_xlsx(tmp / "t.xlsx", {"Log": [[EN, 1]]}).read_bytes()

    # -- PDFs: good, truncated, garbage, encrypted -----------------------------------------------
    add("pdf/good.pdf", pdf, "ok", "lighthouse keeper", "pdf")
    for i, frac in enumerate([0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97]):
        add(f"pdf/truncated-{i:02d}.pdf", pdf[:int(len(pdf) * frac)], "failed|ok", "PDF|lighthouse", "pdf")
    rng = random.Random(7)
    for i in range(8):
        junk = bytes(rng.getrandbits(8) for _ in range(2000 + 500 * i))
        add(f"pdf/garbage-{i}.pdf", b"%PDF-1.4\n" + junk, "failed", "PDF", "pdf")
        add(f"pdf/no-header-{i}.pdf", junk, "failed", "not a PDF", "pdf")
    for i in range(6):  # bytes flipped inside the body
        b = bytearray(pdf)
        for j in range(5 * (i + 1)):
            b[rng.randrange(9, len(b))] = rng.getrandbits(8)
        add(f"pdf/flipped-{i}.pdf", bytes(b), "failed|ok", "PDF|lighthouse|no text", "pdf")
    from pypdf import PdfReader, PdfWriter

    for name, user, algo, expect, detail in [("password-rc4", "secret", "RC4-128", "failed", "encrypted"),
                                             ("password-aes", "secret", "AES-256", "failed", "encrypted"),
                                             ("open-aes256", "", "AES-256", "ok", "lighthouse"),
                                             ("open-aes128", "", "AES-128", "ok", "lighthouse"),
                                             ("open-rc4", "", "RC4-128", "ok", "lighthouse")]:
        w = PdfWriter()
        for page in PdfReader(io.BytesIO(pdf)).pages:
            w.add_page(page)
        w.encrypt(user_password=user, owner_password="owner", algorithm=algo)
        out = io.BytesIO()
        w.write(out)
        add(f"pdf/{name}.pdf", out.getvalue(), expect, detail, "pdf-encrypted")
    blank = make_pdf(tmp / "blank.pdf", " ").read_bytes()
    add("pdf/no-text.pdf", blank, "failed", "no text", "pdf")

    # -- zip bombs as DOCX / PPTX / XLSX / ODT / EPUB ----------------------------------------------
    bomb_mib = 1024 if big else 128
    for kind, tpl, part in [("docx", docx, "word/document.xml"), ("odt", odt, "content.xml"),
                            ("epub", epub, "EPUB/one.xhtml"), ("pptx", pptx, "ppt/slides/slide1.xml"),
                            ("xlsx", xlsx, "xl/worksheets/sheet1.xml")]:
        add(f"bombs/{kind}-part.{kind}", _bomb(tpl, part, bomb_mib * MIB), "failed", "MiB.*limit", "zip-bomb")
        add(f"bombs/{kind}-members.{kind}", _bomb(tpl, "", 0, many=21_000), "failed", "parts", "zip-bomb")
        if big:
            add(f"bombs/{kind}-2g.{kind}", _bomb(tpl, part, 2048 * MIB), "failed", "MiB.*limit", "zip-bomb")

    # -- broken XML parts and broken containers ------------------------------------------------------
    for kind, tpl, part in [("docx", docx, "word/document.xml"), ("odt", odt, "content.xml"),
                            ("odt", odt, "styles.xml"), ("odt", odt, "meta.xml"), ("pptx", pptx, "ppt/slides/slide1.xml"),
                            ("xlsx", xlsx, "xl/worksheets/sheet1.xml"), ("xlsx", xlsx, "xl/workbook.xml")]:
        members = _zip_members(tpl)
        for j, body in enumerate([members[part][: len(members[part]) // 2], b"<not xml", b"",
                                  BILLION_LAUGHS]):
            m = dict(members)
            m[part] = body
            add(f"xml/{kind}-{part.replace('/', '_')}-{j}.{kind}", _zip(m), "failed", "damaged|XML|DOCX|ODT|PPTX|XLSX",
                "broken-xml")
    m = _zip_members(docx)
    m["word/document.xml"] = XXE
    add("xml/docx-xxe.docx", _zip(m), "failed|ok", "DOCX|no text|^(?!.*root:)", "broken-xml")
    for kind, tpl in [("docx", docx), ("odt", odt), ("epub", epub), ("pptx", pptx), ("xlsx", xlsx)]:
        for frac in (0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
            add(f"containers/{kind}-truncated-{int(frac * 100)}.{kind}", tpl[: int(len(tpl) * frac)], "failed",
                "damaged|zip", "container")
        add(f"containers/{kind}-not-zip.{kind}", EN.encode() * 3, "failed", "not a", "container")
        add(f"containers/{kind}-empty-zip.{kind}", _zip({}), "failed", "damaged|unreadable|no text", "container")
        add(f"containers/{kind}-ole.{kind}", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "failed",
            "encrypted", "container")
        b = bytearray(tpl)
        for j in range(len(b) // 3, len(b) // 3 + 40):
            b[j] ^= 0x55
        add(f"containers/{kind}-corrupt.{kind}", bytes(b), "failed|ok", "damaged|unreadable|lighthouse|no text",
            "container")
    me = _zip_members(epub)
    me.pop("META-INF/container.xml", None)
    add("containers/epub-no-container.epub", _zip(me), "failed", "EPUB", "container")
    me = _zip_members(epub)
    me["EPUB/one.xhtml"] = b"<html><body><p>" + EN.encode() + b"<div><<<</p>"
    add("containers/epub-bad-xhtml.epub", _zip(me), "ok", "lighthouse", "container")

    # -- 0-byte files of every type ----------------------------------------------------------------
    for ext in ["txt", "md", "markdown", "html", "htm", "csv", "pdf", "docx", "pptx", "xlsx", "odt", "epub", "rtf"]:
        add(f"empty/empty.{ext}", b"", "failed", "empty", "empty")

    # -- binaries under text names, text under binary names ----------------------------------------
    for name, data in BINARIES.items():
        for ext in ["txt", "md", "html", "htm", "csv", "rtf"]:
            add(f"binary/{name}.{ext}", data, "failed", "binary|not an RTF", "binary")
    for ext in ["pdf", "docx", "pptx", "xlsx", "odt", "epub"]:
        add(f"binary/plain-text.{ext}", (EN + "\n").encode() * 5, "failed", "not a", "binary")
        add(f"binary/elf.{ext}", ELF, "failed", "not a|ELF", "binary")

    # -- huge and single-line files ------------------------------------------------------------------
    add("huge/one-line-spaces.txt", b"a" + b" " * (2 * MIB) + b"b", "ok", "a", "huge")
    add("huge/unspaced-1mb.txt", b"abcdefghij" * 100_000, "ok", "abcdefghij", "huge")
    add("huge/unspaced-cjk.txt", ("北京故宫长城" * 60_000).encode(), "ok", "北京故宫长城", "huge")
    add("huge/long-line-words.md", (EN + " ") .encode() * 8000, "ok", "lighthouse", "huge")
    add("huge/many-newlines.txt", b"x" + b"\n" * MIB + b"y", "ok", "x", "huge")
    add("huge/deep-html.html", b"<div>" * 50_000 + EN.encode() + b"</div>" * 50_000, "ok", "lighthouse", "huge")
    add("huge/deep-rtf.rtf", b"{\\rtf1 " + b"{" * 20_000 + EN.encode() + b"}" * 20_000 + b"}", "ok|failed",
        "lighthouse|RTF", "huge")
    p = add("huge/too-large.txt", None, "failed", r"too large .*MiB", "huge")
    with open(p, "wb") as fh:  # sparse: 64 MiB + 1 byte without writing them
        fh.truncate(64 * MIB + 1)
    if big:
        add("huge/unspaced-50mb.txt", b"abcdefghij" * 5_000_000, "ok", "abcdefghij", "huge")

    # -- encodings -------------------------------------------------------------------------------
    for text, enc in [(RU, "cp1251"), (RU, "koi8-r"), (ZH, "gb18030"), (JA, "shift_jis"),
                      (JA, "euc-jp"), (TH, "cp874"), (RU, "utf-16"), (ZH, "utf-16-le"), (JA, "utf-16-be"),
                      (TH, "utf-8"), (RU, "utf-8-sig"), (EN, "utf-32"), (RU, "iso8859-5")]:
        data = ((text + "\n") * 3).encode(enc)
        add(f"enc/{enc}.txt", data, "ok", text[:8], "encoding")
        add(f"enc/{enc}.md", data, "ok", text[:8], "encoding")
    add("enc/mixed-utf8-cp1251.txt", (RU + "\n").encode() * 3 + RU.encode("cp1251") + b"\n" + EN.encode(), "ok",
        "lighthouse", "encoding")
    add("enc/invalid-utf8.txt", EN.encode() + b"\xff\xfe\xc3(\xa0\xa1" + EN.encode(), "ok", "lighthouse", "encoding")
    add("enc/lone-surrogate.txt", EN.encode() + b"\xed\xa0\x80" + EN.encode(), "ok", "lighthouse", "encoding")
    add("enc/html-cp1251.html", b"<meta charset='windows-1251'><p>" + RU.encode("cp1251") + b"</p>", "ok",
        RU[:8], "encoding")
    add("enc/html-wrong-charset.html", b"<meta charset='nonsense-42'><p>" + EN.encode() + b"</p>", "ok",
        "lighthouse", "encoding")
    add("enc/control-chars.txt", b"\x01\x02\x03\x04\x05" * 400, "failed", "binary", "encoding")

    # -- names -----------------------------------------------------------------------------------
    body = (EN + "\n").encode()
    add("names/" + "n" * 250 + ".txt", body, "ok", "lighthouse", "names")
    add("names/with\nnewline.txt", body, "ok", "lighthouse", "names")
    add("names/ spaces  .txt", body, "ok", "lighthouse", "names")
    add("names/e\u0301-nfd.txt", body, "ok", "lighthouse", "names")
    add("names/emoji-\U0001F600.md", body, "ok", "lighthouse", "names")
    add("names/UPPER.TXT", body, "ok", "lighthouse", "names")
    deep = "names/" + "/".join(["d" * 50] * 30) + "/deep.txt"
    add(deep, body, "ok", "lighthouse", "names")

    # -- links and special files -----------------------------------------------------------------
    links = root / "links"
    links.mkdir(exist_ok=True)
    os.symlink("self.txt", links / "self.txt")
    os.symlink("b.txt", links / "a.txt")
    os.symlink("a.txt", links / "b.txt")
    os.symlink(".", links / "dir-loop")
    os.symlink("..", links / "parent-loop")
    os.symlink("nowhere.txt", links / "dangling.txt")
    for n in ["self.txt", "a.txt", "b.txt", "dangling.txt"]:
        cases.append(Case(links / n, "absent", "", "links"))
    if hasattr(os, "mkfifo"):
        for ext in ["txt", "pdf", "docx"]:
            os.mkfifo(root / f"links/fifo.{ext}")
            cases.append(Case(root / f"links/fifo.{ext}", "absent", "", "fifo"))
    return cases


def invalid_utf8_names(root: Path) -> list[Path]:
    """Files whose names are not valid UTF-8 (created through bytes paths); returns str paths."""
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for raw in [b"caf\xe9.txt", b"\xff\xfe.md", b"\xc3(bad.txt", b"ok-\x80-\x81.txt", b"\xed\xa0\x80.txt"]:
        p = os.path.join(os.fsencode(root), raw)
        with open(p, "wb") as fh:
            fh.write((EN + "\n").encode())
        out.append(Path(os.fsdecode(p)))
    return out
