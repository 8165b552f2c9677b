"""Extraction per format, encoding detection, walking, chunking and language identification.

The ``make_*`` helpers build real documents of each format inside the tests (no binaries in
the repository); other test modules import them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hybridsearch.documents import (ExtractError, chunk_text, decode_text, detect_language, extract,
                                    split_sentences, walk)

RU = ("Москва является столицей России и крупнейшим городом страны. В городе находится Кремль, "
      "Красная площадь и множество музеев. Река Москва протекает через центр города.")
ZH = "北京是中华人民共和国的首都，也是全国的政治和文化中心。故宫位于北京的中心，是明清两代的皇宫。长城在北京的北部。"
JA = "東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。浅草寺は東京で最も古い寺院として知られています。"
TH = "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย มีวัดพระแก้วและพระบรมมหาราชวัง แม่น้ำเจ้าพระยาไหลผ่านใจกลางเมือง"
EN = "The lighthouse keeper climbed the spiral staircase every evening to light the lamp."


def make_pdf(path: Path, text: str = EN, title: str = "", pages: list[str] | None = None) -> Path:
    """A PDF with ``text`` (ASCII) on one page, or one page per item of ``pages`` (an empty item is
    a page without text), written by hand: objects, content streams, xref."""
    pages = [text] if pages is None else pages
    n = len(pages)
    font = 3 + 2 * n  # objects: catalog, page tree, (page, content) per page, font, info
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(n)), n)]
    for i, page_text in enumerate(pages):
        lines = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in page_text.split("\n")]
        shown = " ".join(f"({ln}) Tj 0 -14 Td" for ln in lines if ln)
        stream = (f"BT /F1 12 Tf 72 720 Td {shown} ET" if shown else "").encode("latin-1")
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >>"
                    b" /Contents %d 0 R >>" % (font, 4 + 2 * i))
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    if title:
        objs.append(b"<< /Title (" + title.encode("latin-1") + b") >>")
    return _write_pdf(path, objs, info=len(objs) if title else None)


def _write_pdf(path: Path, objs: list[bytes], info: int | None = None) -> Path:
    """Write PDF objects (1 is the catalog; ``info``: the document-information object) with their xref."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    trailer_info = b" /Info %d 0 R" % info if info else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, trailer_info, xref)
    path.write_bytes(bytes(out))
    return path


def make_cjk_pdf(path: Path, lines: list[str]) -> Path:
    """A one-page PDF showing ``lines`` (any Unicode text, one PDF text line each) in a Type0 font
    with a ToUnicode map, as PDF writers store CJK text; the glyphs are not embedded, the text is."""
    chars = sorted({c for line in lines for c in line})
    code = {c: i + 1 for i, c in enumerate(chars)}
    shown = " ".join("<%s> Tj 0 -14 Td" % "".join("%04X" % code[c] for c in line) for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {shown} ET".encode("ascii")
    cmap = ("/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /U def "
            "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
            f"{len(chars)} beginbfchar\n"
            + "".join("<%04X> <%s>\n" % (code[c], c.encode("utf-16-be").hex().upper()) for c in chars)
            + "endbfchar endcmap CMapName currentdict /CMap defineresource pop end end").encode("ascii")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >>"
            b" /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type0 /BaseFont /SimSun /Encoding /Identity-H"
            b" /DescendantFonts [6 0 R] /ToUnicode 7 0 R >>",
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /SimSun"
            b" /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>",
            b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream"]
    return _write_pdf(path, objs)


def make_encrypted_pdf(path: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(path.with_name("plain-for-encryption.pdf"))
    w = PdfWriter()
    for page in PdfReader(plain).pages:
        w.add_page(page)
    w.encrypt(user_password="secret", owner_password="owner")
    with open(path, "wb") as fh:
        w.write(fh)
    plain.unlink()
    return path


def make_docx(path: Path, paragraphs: list[str], title: str = "") -> Path:
    import docx

    d = docx.Document()
    for p in paragraphs:
        d.add_paragraph(p)
    if title:
        d.core_properties.title = title
    d.save(str(path))
    return path


def make_pptx(path: Path, slides: list[tuple[str, str]], notes: str = "", table: list[list[str]] | None = None,
              title: str = "") -> Path:
    """A presentation: one title-and-content slide per (title, body); ``notes`` on the first slide,
    ``table`` (rows of cells) on a last slide."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for i, (head, body) in enumerate(slides):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = head
        slide.placeholders[1].text = body
        if notes and i == 0:
            slide.notes_slide.notes_text_frame.text = notes
    if table:
        slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank
        grid = slide.shapes.add_table(len(table), len(table[0]), Inches(1), Inches(1), Inches(6), Inches(2)).table
        for r, row in enumerate(table):
            for c, text in enumerate(row):
                grid.cell(r, c).text = text
    if title:
        deck.core_properties.title = title
    deck.save(str(path))
    return path


def make_xlsx(path: Path, sheets: dict[str, list[list]], title: str = "") -> Path:
    """A workbook with one sheet per item: its rows of cell values (None: an empty cell)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    if title:
        book.properties.title = title
    book.save(str(path))
    return path


def make_odt(path: Path, paragraphs: list[str]) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    doc = OpenDocumentText()
    doc.text.addElement(H(outlinelevel=1, text="Heading"))
    for p in paragraphs:
        doc.text.addElement(P(text=p))
    doc.save(str(path))
    return path


def make_epub(path: Path, paragraphs: list[str], title: str = "A Book", body: str | None = None) -> Path:
    """An EPUB with one chapter: ``paragraphs`` as <p> elements, or the XHTML ``body`` as given."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("id123")
    book.set_title(title)
    book.set_language("en")
    ch = epub.EpubHtml(title="One", file_name="one.xhtml", lang="en")
    ch.content = "<html><body>" + (body if body is not None else "".join(f"<p>{p}</p>" for p in paragraphs)) + \
        "</body></html>"
    book.add_item(ch)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", ch]
    epub.write_epub(str(path), book)
    return path


def make_rtf_cp1251(path: Path, text: str) -> Path:
    body = "".join(c if ord(c) < 128 else "\\'%02x" % c.encode("cp1251")[0] for c in text)
    path.write_text("{\\rtf1\\ansi\\ansicpg1251\\deff0 {\\fonttbl {\\f0 Times;}}\\f0 " + body + "\\par}",
                    encoding="ascii")
    return path


# -- encodings ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,encoding", [
    (RU, "cp1251"), (ZH, "gb18030"), (JA, "shift_jis"), (RU, "utf-16"), (ZH, "utf-16-le"),
    (TH, "utf-8"), (RU, "utf-8-sig"), (TH, "cp874"),
])
def test_text_encodings_are_detected(tmp_path, text, encoding):
    f = tmp_path / "doc.txt"
    f.write_bytes(((text + "\n") * 3).encode(encoding))
    assert text in extract(f).text


@pytest.mark.parametrize("data", [bytes(range(256)) * 40, b"\x7fELF\x02\x01\x01" + os.urandom(3000),
                                  b"\x89PNG\r\n\x1a\n" + bytes(2000)])
def test_binary_disguised_as_text_is_refused(data):
    with pytest.raises(ExtractError, match="binary"):
        decode_text(data)


# -- formats -----------------------------------------------------------------------------------------
def test_each_format_extracts_text_and_title(tmp_path):
    make_pdf(tmp_path / "a.pdf", EN, title="Keeper")
    make_docx(tmp_path / "b.docx", [EN, "Second paragraph."], title="Docx Title")
    make_odt(tmp_path / "c.odt", [EN])
    make_epub(tmp_path / "d.epub", [EN], title="Sea Book")
    make_rtf_cp1251(tmp_path / "e.rtf", RU)
    (tmp_path / "f.html").write_bytes(
        ("<html><head><meta charset='windows-1251'><title>Заголовок</title><script>var x=1;</script>"
         f"</head><body><p>{RU}</p></body></html>").encode("cp1251"))
    (tmp_path / "g.md").write_text(f"# Notes\n\n{EN}\n", encoding="utf-8")
    got = {p.name: extract(p) for p in sorted(tmp_path.iterdir()) if p.is_file()}
    assert "lighthouse keeper" in got["a.pdf"].text and got["a.pdf"].title == "Keeper"
    assert "Second paragraph." in got["b.docx"].text and got["b.docx"].title == "Docx Title"
    assert "lighthouse" in got["c.odt"].text and got["c.odt"].text.startswith("Heading")
    assert "lighthouse" in got["d.epub"].text and got["d.epub"].title == "Sea Book"
    assert RU in got["e.rtf"].text
    assert RU in got["f.html"].text and "var x" not in got["f.html"].text
    assert got["f.html"].title == "Заголовок"
    assert got["g.md"].title == "Notes"



def test_a_pdf_line_break_inside_chinese_or_thai_text_does_not_split_a_word(tmp_path):
    # PDF text comes out line by line; CJK and Thai put no space between words, so a line ends
    # inside a word ("文" | "化"): the break is removed there, kept after a full stop and in
    # spaced scripts
    pdf = make_cjk_pdf(tmp_path / "zh.pdf", ["北京是全国的政治和文", "化中心。", "故宫位于北京。",
                                              "กรุงเทพมหานครเป็นเมือง", "หลวงของประเทศไทย", "Beijing is", "the capital"])
    text = extract(pdf).text
    assert "政治和文化中心。\n故宫位于北京。" in text
    assert "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย" in text
    assert "Beijing is\nthe capital" in text
    assert extract(make_cjk_pdf(tmp_path / "lig.pdf", ["The \ufb01rst o\ufb03ce"])).text == "The first office"


AR = "تقع المدرسة الدولية في وسط المدينة منذ عام 1990 وهي الأكبر في البلاد"
HE = "הספרייה הלאומית נמצאת בירושלים מאז שנת 1925 והיא הגדולה בארץ"


FA = "این سیستم برای کمک بیشتر به کاربران ساخته شد و هر روز بهتر می‌شود"
#: Arabic-script letters that join only to the letter before them
_RIGHT_JOINING = set("اآأإدذرزژوؤة")


def _shaped(word: str) -> str:
    """``word`` in the presentation forms a font draws: initial, medial, final or isolated."""
    import unicodedata

    out = []
    for i, ch in enumerate(word):
        before = i > 0 and word[i - 1] not in _RIGHT_JOINING and "ARABIC LETTER" in unicodedata.name(word[i - 1], "")
        after = i + 1 < len(word) and ch not in _RIGHT_JOINING and "ARABIC LETTER" in unicodedata.name(word[i + 1], "")
        form = {(True, True): "MEDIAL", (False, True): "INITIAL", (True, False): "FINAL"}.get((before, after), "ISOLATED")
        for name in (f"{unicodedata.name(ch, '')} {form} FORM", f"{unicodedata.name(ch, '')} ISOLATED FORM"):
            try:
                out.append(unicodedata.lookup(name))
                break
            except KeyError:
                continue
        else:
            out.append(ch)
    return "".join(out)


def _drawn(line: str, shaped: bool = False) -> str:
    """A line of Arabic-script or Hebrew text as many PDFs' text comes out: left to right as drawn
    (numbers read left to right inside), Arabic letters in presentation forms (isolated, or
    ``shaped`` as joined in the word), lam-alef as one."""
    import re
    import unicodedata

    if shaped:
        line = " ".join(_shaped(w) for w in line.split(" "))
    runs = re.findall(r"\d+|[^\d]+", line)
    drawn = "".join(r if r.isdigit() else r[::-1] for r in reversed(runs)).replace("أل", "\ufef7")

    def form(ch):
        try:
            return unicodedata.lookup(unicodedata.name(ch) + " ISOLATED FORM")
        except (KeyError, ValueError):
            return ch
    return drawn if shaped else "".join(form(ch) for ch in drawn)


def test_arabic_and_hebrew_drawn_left_to_right_in_a_pdf_are_read_in_reading_order():
    from hybridsearch.documents import _join_pages

    assert _drawn(AR) != AR and "\ufef7" in _drawn(AR)  # the helper does draw
    page = "\n".join([_drawn(AR), _drawn(HE), "Page 3 of 10"])
    text, _ = _join_pages([page])
    assert text == "\n".join([AR, HE, "Page 3 of 10"])
    # text already in reading order stays as it is, Arabic presentation forms become letters
    assert _join_pages([AR + "\n" + HE])[0] == AR + "\n" + HE
    assert _join_pages(["\ufe8d\ufedf\ufee4\ufeaa\ufead\ufeb3\ufe93 " + AR])[0] == "المدرسة " + AR
    # Persian has no article: the joined letter forms tell the order
    assert _drawn(FA, shaped=True) != FA
    assert _join_pages([_drawn(FA, shaped=True)])[0] == FA
    assert _join_pages([" ".join(_shaped(w) for w in FA.split(" "))])[0] == FA


def test_a_pdf_in_reading_order_is_left_as_it_is(tmp_path):
    # pypdf puts a right-to-left run drawn in one piece in reading order itself
    pdf = make_cjk_pdf(tmp_path / "ar.pdf", [AR.split(" 1990 ")[0][::-1], HE.split(" 1925 ")[0][::-1]])
    assert extract(pdf).text == AR.split(" 1990 ")[0] + "\n" + HE.split(" 1925 ")[0]


def test_a_presentation_is_read_slide_by_slide_with_tables_and_speaker_notes(tmp_path):
    deck = make_pptx(tmp_path / "deck.pptx", [("Lighthouse keepers", EN + "\vNight shifts only."),
                                              ("Маяки России", RU)],
                     notes="Mention the storm of 1953.", table=[["Station", "Keepers"], ["Fastnet", "4"]],
                     title="Keepers deck")
    got = extract(deck)
    assert got.title == "Keepers deck"
    assert got.text == ("Lighthouse keepers\n" + EN + "\nNight shifts only.\nMention the storm of 1953."
                        "\n\nМаяки России\n" + RU + "\n\nStation\tKeepers\nFastnet\t4")
    assert got.page_starts == [0, got.text.index("Маяки"), got.text.index("Station")]  # slide by slide


def test_a_workbook_is_read_sheet_by_sheet_a_row_a_line(tmp_path):
    from datetime import datetime

    book = make_xlsx(tmp_path / "budget.xlsx", {"Budget 2024": [["Item", "Cost"], ["Ice axes", 320.5], [None, None],
                                                                 [None, "Lamp oil", None],
                                                                 [datetime(2024, 3, 1), datetime(2024, 3, 1, 9, 30)]],
                                                "Notizen": [["Pinguine zählen im Winter"]]}, title="Budget")
    got = extract(book)
    assert got.title == "Budget"
    assert got.text == ("Budget 2024\nItem\tCost\nIce axes\t320.5\nLamp oil\n2024-03-01\t2024-03-01 09:30:00"
                        "\n\nNotizen\nPinguine zählen im Winter")



def test_comma_and_tab_separated_files_are_read_as_text_in_their_encoding(tmp_path):
    (tmp_path / "colonies.csv").write_bytes("колония;число\nАдели;4200\n".encode("cp1251"))
    (tmp_path / "supplies.tsv").write_text("item\tcost\nkrill nets\t120\n", encoding="utf-16")
    assert extract(tmp_path / "colonies.csv").text == "колония;число\nАдели;4200"
    assert extract(tmp_path / "supplies.tsv").text == "item\tcost\nkrill nets\t120"
    (tmp_path / "photo.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ExtractError, match="not CSV"):
        extract(tmp_path / "photo.csv")

@pytest.mark.parametrize("name", ["deck.pptx", "budget.xlsx"])
def test_an_office_file_that_is_something_else_gets_a_reason(tmp_path, name):
    (tmp_path / name).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(ExtractError, match=f"not a {name[-4:].upper()} file .*PNG image"):
        extract(tmp_path / name)
    make_docx(tmp_path / "real.docx", [EN])  # a Word file renamed: a zip, but not this kind
    (tmp_path / name).write_bytes((tmp_path / "real.docx").read_bytes())
    with pytest.raises(ExtractError, match=f"damaged or unreadable {name[-4:].upper()}"):
        extract(tmp_path / name)

HEADED = ("<h1>Winter Storms</h1><p>Heavy <b>snow</b>fall closed the pass.</p><h2>Roads</h2>"
          "<ul><li>North road</li><li>South road</li></ul><div>Ferries<br>ran late</div>"
          "<table><tr><td>Monday</td><td>closed</td></tr></table>")


def test_html_and_epub_blocks_do_not_run_together(tmp_path):
    (tmp_path / "a.html").write_text(f"<html><body>{HEADED}</body></html>", encoding="utf-8")
    make_epub(tmp_path / "b.epub", [], body=HEADED)
    for name in ("a.html", "b.epub"):
        text = extract(tmp_path / name).text
        # a heading is a paragraph of its own, list items and <br> end lines, cells stay apart
        assert "Winter Storms\n\nHeavy snowfall closed the pass.\n\nRoads" in text, (name, text)
        assert "North road\nSouth road" in text and "Ferries\nran late" in text, (name, text)
        assert "Monday\tclosed" in text, (name, text)
        # inline elements join as written, and the chunker's sentences do not straddle the heading
        assert "StormsHeavy" not in text and "RoadsNorth" not in text
        assert "Winter Storms" in split_sentences(text)


def test_unreadable_files_give_reasons(tmp_path):
    enc = make_encrypted_pdf(tmp_path / "locked.pdf")
    with pytest.raises(ExtractError, match="encrypted"):
        extract(enc)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage garbage")
    with pytest.raises(ExtractError, match="PDF"):
        extract(tmp_path / "broken.pdf")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ExtractError, match="DOCX"):
        extract(tmp_path / "broken.docx")
    big = tmp_path / "big.txt"
    big.write_text("word " * 1000)
    with pytest.raises(ExtractError, match="too large"):
        extract(big, max_bytes=1000)
    if os.name != "nt" and os.geteuid() != 0:
        secret = tmp_path / "secret.txt"
        secret.write_text(EN)
        secret.chmod(0)
        with pytest.raises(ExtractError, match="permission"):
            extract(secret)


# -- walking ---------------------------------------------------------------------------------------
def test_walk_skips_hidden_follows_links_without_loops_and_applies_globs(tmp_path):
    root = tmp_path / "lib"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "drafts").mkdir()
    for p in ["a.txt", "sub/b.md", "sub/deep/c.pdf", ".git/d.txt", "drafts/e.txt", "f.exe", ".hidden.txt"]:
        (root / p).write_text("x")
    (root / "sub" / "deep" / "loop").symlink_to(root, target_is_directory=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "g.txt").write_text("x")
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "inside.md").symlink_to(root / "sub" / "b.md")
    (root / "outside.txt").symlink_to(outside / "g.txt")
    # links are followed inside the folder only, unless asked (a link to /etc is not indexed)
    rel = sorted(os.path.relpath(e.path, root) for e in walk(root))
    assert rel == ["a.txt", "drafts/e.txt", "inside.md", "sub/b.md", "sub/deep/c.pdf"]
    rel = sorted(os.path.relpath(e.path, root) for e in walk(root, follow_links=True))
    assert rel == ["a.txt", "drafts/e.txt", "inside.md", "link/g.txt", "outside.txt", "sub/b.md", "sub/deep/c.pdf"]
    rel = sorted(os.path.relpath(e.path, root) for e in walk(root, exclude=["drafts/**", "*.pdf", "inside.md"]))
    assert rel == ["a.txt", "sub/b.md"]
    rel = sorted(os.path.relpath(e.path, root) for e in walk(root, include=["sub/*.md"]))
    assert rel == ["sub/b.md"]


# -- chunking ----------------------------------------------------------------------------------------
def test_chunks_are_bounded_keep_offsets_and_follow_paragraphs(tiny_encoder):
    tok = tiny_encoder.tokenizer
    paras = [" ".join([EN] * 3), RU * 2, ZH * 4, TH * 3, JA * 3]
    text = "\n\n".join(paras)
    chunks = chunk_text(text, tok, max_tokens=60, overlap_tokens=16)
    assert len(chunks) > 5
    for ch in chunks:
        assert text[ch.start:ch.end] == ch.text
        assert len(tok.encode(ch.text, add_special_tokens=False).ids) <= 60 + 2
        assert "\n\n" not in ch.text or ch.n_tokens <= 60
    covered = set()
    for ch in chunks:
        covered.update(range(ch.start, ch.end))
    # everything but whitespace is in some chunk (context view rebuilds the text from chunks)
    assert all(i in covered or text[i].isspace() for i in range(len(text)))
    # a small overlap: some chunk starts before the previous one ends
    assert any(b.start < a.end for a, b in zip(chunks, chunks[1:]))
    # CJK without punctuation still splits at token boundaries, under the budget
    long_zh = "北京故宫长城天安门颐和园" * 40
    zchunks = chunk_text(long_zh, tok, max_tokens=50, overlap_tokens=0)
    assert len(zchunks) > 2 and "".join(c.text for c in zchunks) == long_zh


def test_language_identification():
    assert detect_language(RU) == "ru"
    assert detect_language(ZH) == "zh"
    assert detect_language(TH) == "th"
    assert detect_language(EN) == "en"
    assert detect_language("12 34 --") is None
