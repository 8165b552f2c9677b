"""Search behaviour a user notices: grouping, snippets, filters, literal query text, context view.
The tiny random encoder makes dense ranking meaningless here; retrieval quality is in
test_quality_xquad.py."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta

import pytest
from test_documents import RU, ZH, make_cjk_pdf, make_docx, make_pptx, make_xlsx

from hybridsearch.errors import InputError
from hybridsearch.library import Library


@pytest.fixture
def lib(tmp_path, tiny_encoder):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    long_doc = "\n\n".join(
        [f"Chapter {i}. The penguin colony walked across the ice for the {i}th time. " * 6 for i in range(6)])
    (a / "penguins.txt").write_text(long_doc, encoding="utf-8")
    (a / "html.md").write_text("Use <b>bold</b> & a penguin in text.", encoding="utf-8")
    (a / "ru.txt").write_text(RU, encoding="utf-8")
    (b / "zh.txt").write_text(ZH, encoding="utf-8")
    (b / "syntax.txt").write_text('The NEAR operator and the "quoted" *star* word.', encoding="utf-8")
    make_docx(b / "report.docx", ["Quarterly penguin census report."])
    old = datetime(2020, 1, 1).timestamp()
    os.utime(b / "report.docx", (old, old))
    with Library(tmp_path / "lib", encoder=tiny_encoder) as library:
        library.add_folder(a)
        library.add_folder(b)
        library.index()
        library.dirs = (a, b)
        yield library


def test_results_are_grouped_by_document_with_snippets(lib):
    res = lib.search("penguin colony", k=10, mode="lexical")
    paths = [os.path.basename(r.path) for r in res]
    assert paths[0] == "penguins.txt" and len(paths) == len(set(paths))
    top = res[0]
    assert top.more and all(p.chunk_id != top.best.chunk_id for p in top.more)
    assert "<b>penguin</b>" in top.best.snippet_html and "<b>colony</b>" in top.best.snippet_html
    assert top.title == "penguins" and top.file_type == "txt" and top.language == "en"
    assert isinstance(top.modified, datetime) and top.folder == str(lib.dirs[0])
    md = next(r for r in res if r.path.endswith("html.md"))
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; a <b>penguin</b>" in md.best.snippet_html
    # the passage's offsets point into the document text; the context view shows it in place
    ctx = lib.context(top.best.chunk_id, chars=100)
    assert ctx.text[ctx.start:ctx.end] == top.best.text
    assert lib.document_text(top.path)[top.best.start:top.best.end] == top.best.text


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_query_syntax_is_searched_literally(lib, mode):
    for q in ['"', 'NEAR', '"quoted', '*', '*star*', 'NEAR(a b)', 'penguin AND', 'OR', '(((', "body:x", "'"]:
        lib.search(q, mode=mode)  # never an FTS5 syntax error
    if mode == "lexical":
        assert lib.search("NEAR", mode=mode)[0].path.endswith("syntax.txt")
        assert lib.search('"quoted"', mode=mode)[0].path.endswith("syntax.txt")
        assert lib.search("*star*", mode=mode)[0].path.endswith("syntax.txt")
    assert lib.search("   ", mode=mode) == []


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_desktop_search_syntax_phrase_exclusion_and_or(lib, mode):
    names = lambda q, **kw: [os.path.basename(r.path) for r in lib.search(q, k=10, mode=mode, **kw)]  # noqa: E731
    # a minus word removes every document holding it, dense hits included
    assert "report.docx" in names("penguin")
    assert "report.docx" not in names("penguin -census") and names("penguin -census")
    kept = names("penguin -CENSUS -colony")
    assert "html.md" in kept and not {"report.docx", "penguins.txt"} & set(kept)
    if mode == "lexical":
        assert kept == ["html.md"]
    # a quoted phrase must appear as written; its words in another order do not count (hybrid
    # search: on its keyword side; its meaning side finds translations, which cannot hold it)
    keyword_side = {"weights": (0.0, 1.0)} if mode == "hybrid" else {}
    assert names('"penguin census"', **keyword_side) == ["report.docx"]
    assert names('"census penguin"', **keyword_side) == []
    if mode == "lexical":
        assert names('"penguin colony" -ice') == []
    # OR: either word; in hybrid search a hit on one alternative counts in full
    assert {"report.docx", "html.md"} <= set(names("census OR bold"))
    if mode == "lexical":
        assert set(names("census OR bold")) == {"report.docx", "html.md"}
    # alternatives made only of phrases: a document must hold one of them
    assert set(names('"penguin census" OR "a penguin"', **keyword_side)) == {"report.docx", "html.md"}
    # malformed syntax degrades to plain words, never an error
    for q in ['"unbalanced', "NEAR(", "*", "-", "OR OR", "penguin OR", "- -", '-"', '""']:
        lib.search(q, mode=mode)
    assert names("-") == [] and names("*") == [] and names("-penguin") == []
    assert "penguins.txt" in names('"penguin colony')  # the lone quote is ignored


def test_filters(lib):
    a, b = lib.dirs
    assert {os.path.basename(r.path) for r in lib.search("penguin", mode="lexical", folders=[b])} == {"report.docx"}
    assert {r.file_type for r in lib.search("penguin", mode="hybrid", file_types=["docx"])} == {"docx"}
    recent = lib.search("penguin", mode="lexical", modified_after=datetime.now() - timedelta(days=1))
    assert "report.docx" not in {os.path.basename(r.path) for r in recent}
    old = lib.search("penguin", mode="dense", modified_before=datetime(2021, 1, 1))
    assert [os.path.basename(r.path) for r in old] == ["report.docx"]
    ru = lib.search("Москва", mode="hybrid", languages=["ru"])
    assert ru and all(r.language == "ru" for r in ru)
    zh = lib.search("首都", mode="lexical", languages=["zh"])
    assert [os.path.basename(r.path) for r in zh] == ["zh.txt"]
    assert "<b>首都</b>" in zh[0].best.snippet_html
    from hybridsearch.snippets import query_terms, snippet_html

    # a two-character query word is highlighted even where folding changes lengths (… -> ...)
    assert snippet_html("我来这里……莫罕达斯·甘地 承认", query_terms("甘地")).count("<b>甘地</b>") == 1
    with pytest.raises(InputError):
        lib.search("x", mode="fuzzy")


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_folder_filter_with_names_that_are_not_utf8(tmp_path, tiny_encoder, mode):
    """Linux file and folder names are bytes: a Latin-1 'café' folder and files in it are added,
    indexed and found with a folder filter, and a filter selects exactly its folder."""
    root = os.fsencode(tmp_path)
    lib_folder = os.path.join(root, b"caf\xe9 archive")   # a library folder named in Latin-1
    sub = os.path.join(lib_folder, b"r\xe9sum\xe9s")       # a subfolder in it, also Latin-1
    sibling = os.path.join(lib_folder, b"r\xe9sum\xe9s.old")  # its name starts with the subfolder's
    plain = os.path.join(root, b"plain")
    for d in (sub, sibling, plain):
        os.makedirs(d)
    text = b"The lighthouse keeper counted seabirds every morning.\n"
    files = {os.path.join(lib_folder, b"caf\xe9.txt"), os.path.join(sub, b"\xe9t\xe9 \xff.txt"),
             os.path.join(sub, b"ok.txt"), os.path.join(sibling, b"caf\xe9.txt"), os.path.join(plain, b"caf\xe9.txt")}
    for f in files:
        with open(f, "wb") as fh:
            fh.write(text)

    def found(**kw) -> set[bytes]:
        return {os.fsencode(r.path) for r in lib.search("lighthouse seabirds", k=20, mode=mode, **kw)}

    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(os.fsdecode(lib_folder))
        lib.add_folder(os.fsdecode(plain))
        assert lib.index().added == 5
        assert {os.fsencode(f.path) for f in lib.folders()} == {lib_folder, plain}
        assert found() == files
        assert found(folders=[os.fsdecode(plain)]) == {os.path.join(plain, b"caf\xe9.txt")}
        assert found(folders=[os.fsdecode(lib_folder)]) == files - {os.path.join(plain, b"caf\xe9.txt")}
        in_sub = {os.path.join(sub, b"\xe9t\xe9 \xff.txt"), os.path.join(sub, b"ok.txt")}
        assert found(folders=[os.fsdecode(sub)]) == in_sub  # not its sibling "résumés.old"
        assert found(folders=[os.fsdecode(os.path.join(sub, b"ok.txt"))]) == {os.path.join(sub, b"ok.txt")}
        lib.remove_folder(os.fsdecode(lib_folder))
        assert found() == {os.path.join(plain, b"caf\xe9.txt")}


def test_snippets_bold_the_words_that_matter_not_every_small_word():
    """"Do" and "in" are not bolded when the question has longer words, so the excerpt centres on
    them neither; capitals, numbers and a query of small words alone still are."""
    from hybridsearch.snippets import query_terms, snippet_html

    text = "In winter, do you know where honey bees sleep? In the hive, in a cluster of 42 bees."
    html_ = snippet_html(text, query_terms("Do bees sleep in winter?"))
    assert {"winter", "bees", "sleep"} <= set(re.findall(r"<b>(.*?)</b>", html_))
    assert "<b>In</b>" not in html_ and "<b>in</b>" not in html_ and "<b>do</b>" not in html_
    assert "<b>42</b>" in snippet_html(text, query_terms("42 bees"))
    assert "<b>EU</b>" in snippet_html("The EU sets rules for honey.", query_terms("EU honey rules"))
    # a word in capitals is kept although a language has it as a function word (Vietnamese "ai")
    assert "<b>AI</b>" in snippet_html("New AI rules for honey.", query_terms("AI rules"))
    assert "<b>In</b>" in snippet_html(text, query_terms("in"))
    # function words of any language ("the", "where", "die") are not bolded beside words that matter
    html_ = snippet_html(text, query_terms("where are the bees in the hive"))
    assert "<b>the</b>" not in html_ and "<b>where</b>" not in html_ and "<b>hive</b>" in html_
    assert "<b>the</b>" in snippet_html("the end", query_terms("the"))
    # the excerpt starts at the first word that matters, not at an early "in"
    long = "We met in town. " * 30 + "Bees sleep in the hive."
    assert "<b>Bees</b>" in snippet_html(long, query_terms("where do bees sleep in"), width=80)


@pytest.mark.parametrize("question, passage, kept, dropped", [
    ("Когда была построена башня?", "Башня была построена в 1889 году, когда шла выставка.",
     ["Башня", "построена"], ["была", "когда", "в"]),
    ("Πότε ιδρύθηκε το πανεπιστήμιο;", "Το πανεπιστήμιο ιδρύθηκε το 1636 και είναι το παλαιότερο.",
     ["πανεπιστήμιο", "ιδρύθηκε"], ["Το", "το", "και"]),
    ("Üniversite ne zaman ve kim için kuruldu?", "Üniversite 1636 yılında din adamları için kuruldu ve büyüdü.",
     ["Üniversite", "kuruldu"], ["için", "ve"]),
    ("Trường đại học được thành lập khi nào?", "Trường đại học được thành lập năm 1636 và là trường cổ nhất.",
     ["Trường", "thành", "lập"], ["được", "và", "là"]),
    # Vietnamese words are syllables: two-letter ones carry meaning ("tư thục" private, "Ấn Độ" India)
    ("Trường tư thục ở Ấn Độ được gọi là gì?", "Ở Ấn Độ, trường tư thục được gọi là trường độc lập.",
     ["Ấn", "Độ", "tư", "thục", "gọi"], ["Ở", "được", "là"]),
    ("متى تم تأسيس الجامعة؟", "تم تأسيس الجامعة في عام 1636 وهي من أقدم الجامعات.",
     ["تأسيس", "الجامعة"], ["تم", "في", "من"]),
    ("विश्वविद्यालय की स्थापना कब हुई थी?", "विश्वविद्यालय की स्थापना 1636 में हुई थी और यह सबसे पुराना है।",
     ["विश्वविद्यालय", "स्थापना"], ["की", "में", "हुई", "थी"]),
])
def test_function_words_of_every_spaced_script_are_neither_bolded_nor_counted_as_keywords(question, passage,
                                                                                         kept, dropped):
    """As with "the" and "die": a Russian "что", a Greek "το", a Hindi "की" are in every passage of
    their language, so the snippet does not bold them beside the question's words that matter, and
    a passage holding all of those has every keyword (the strength's keyword lift), as in English."""
    from hybridsearch.match_strength import keyword_share
    from hybridsearch.snippets import query_terms, snippet_html

    bold = set(re.findall(r"<b>(.*?)</b>", snippet_html(passage, query_terms(question))))
    assert set(kept) <= bold and not bold & set(dropped), bold
    assert keyword_share(passage, question) == 1.0
    assert keyword_share(passage.split()[-1], question) == 0.0


def test_dense_and_hybrid_return_documents_and_forget_deleted_ones(lib):
    dense = lib.search("penguin colony on the ice", k=50, mode="dense")
    assert len(dense) == 6 and all(r.best.score <= 1.0001 for r in dense)
    hyb = lib.search("penguin colony", k=3)
    assert len(hyb) == 3 and hyb[0].score >= hyb[1].score >= hyb[2].score
    # with the dense weight at zero, hybrid ranks documents as lexical search does
    lex_only = [r.path for r in lib.search("penguin colony", k=4, weights=(0.0, 1.0))]
    assert lex_only == [r.path for r in lib.search("penguin colony", k=4, mode="lexical")]
    os.remove(os.path.join(lib.dirs[0], "penguins.txt"))
    lib.index()
    for mode in ("dense", "hybrid", "lexical"):
        assert not any(r.path.endswith("penguins.txt") for r in lib.search("penguin colony", k=50, mode=mode))


def test_hybrid_keyword_side_ignores_hits_on_a_question_s_small_words(tmp_path, tiny_encoder):
    """A German passage that shares only "in" with an English question is no keyword hit ("in" is a
    German function word), and does not get the keyword bonus in hybrid search; a passage holding
    the question's rare words does."""
    d = tmp_path / "docs"
    d.mkdir()
    (d / "de.txt").write_text("Die Schule liegt in Berlin, in der Nähe des Flusses.", encoding="utf-8")
    (d / "en.txt").write_text("Private secondary schools are called Privatschulen.", encoding="utf-8")
    (d / "ru.txt").write_text("Частные школы называются Privatschulen.", encoding="utf-8")
    q = "What are private secondary schools in Germany called?"
    with Library(tmp_path / "lib", encoder=tiny_encoder) as library:
        library.add_folder(d)
        library.index()
        names = lambda res: [os.path.basename(r.path) for r in res]  # noqa: E731
        assert set(names(library.search(q, mode="lexical"))) == {"en.txt"}
        # dense weight 0: what hybrid search takes from the keyword side alone
        assert names(library.search(q, weights=(0.0, 1.0))) == ["en.txt"]
        # a short query keeps its one-word hits, and so does a query with a single term
        assert names(library.search("Berlin in", weights=(0.0, 1.0))) == ["de.txt"]
        assert set(names(library.search("Privatschulen", weights=(0.0, 1.0)))) == {"en.txt", "ru.txt"}
        # OR: a passage holding one of the alternatives holds the whole group (weighing as its
        # rarest word), so a Berlin passage is a hit for "Berlin OR Moskau" and not for both words
        assert names(library.search("Berlin Moskau secondary schools", weights=(0.0, 1.0))) == ["en.txt"]
        assert set(names(library.search("Berlin OR Moskau secondary schools", weights=(0.0, 1.0)))) == {
            "en.txt", "de.txt"}


def test_same_language_offset_lets_translations_rank_fairly(tmp_path, tiny_encoder, monkeypatch):
    """With a model whose card has a same-language offset, dense search takes it from the passages
    in the query's language: a translation that trailed the English passage by less than the
    offset now ranks above it, and scores elsewhere do not change. (One search: feedback, which
    moves the query toward its first hits, would mix its own changes in.)"""
    d = tmp_path / "docs"
    d.mkdir()
    (d / "en.txt").write_text("Emperor penguins breed on the Antarctic sea ice in winter.", encoding="utf-8")
    (d / "de.txt").write_text("Kaiserpinguine brüten im Winter auf dem antarktischen Meereis.", encoding="utf-8")
    (d / "ru.txt").write_text("Императорские пингвины размножаются зимой на морском льду Антарктиды.",
                              encoding="utf-8")
    (d / "en2.txt").write_text("The library opens at nine on weekdays and at ten on Sundays.", encoding="utf-8")
    q = "Where do emperor penguins breed in winter?"
    name = lambda r: os.path.basename(r.path)  # noqa: E731
    with Library(tmp_path / "lib", encoder=tiny_encoder) as library:
        library.add_folder(d)
        library.index()
        plain = {name(r): r.score for r in library.search(q, mode="dense", feedback=False)}
        assert {r.language for r in library.search(q, mode="dense", feedback=False)} == {"en", "de", "ru"}
        offset = 0.2
        monkeypatch.setattr(tiny_encoder, "language_offset", offset)
        res = library.search(q, mode="dense", feedback=False)
        fair = {name(r): r.score for r in res}
        for f, s in plain.items():
            assert fair[f] == pytest.approx(s - offset if f.startswith("en") else s, abs=1e-6)
        assert [name(r) for r in res] == sorted(fair, key=fair.get, reverse=True)
        best_other = max(plain["de.txt"], plain["ru.txt"])
        assert plain["en.txt"] - best_other < offset  # the precondition of the next line
        assert [name(r) for r in res].index("en.txt") > [name(r) for r in res].index(
            "de.txt" if plain["de.txt"] == best_other else "ru.txt")
        # a filter to the query's own language leaves every score shifted alike
        assert [name(r) for r in library.search(q, mode="dense", languages=["en"], feedback=False)] == \
            [f for f in sorted(plain, key=plain.get, reverse=True) if f.startswith("en")]
        # a per-search offset outside 0..0.2 is refused with a clear message
        for bad in (-0.01, 0.5, "0.1"):
            with pytest.raises(InputError, match="language_offset must be a number from 0 to 0.2"):
                library.search(q, mode="dense", language_offset=bad)


def test_feedback_searches_again_from_the_best_first_hits_of_the_whole_library(lib):
    """Dense search with feedback ranks by the cosine of the query moved toward its best first
    passages (ranking.feedback_vectors). The first passages come from the whole library, so a
    search filtered to one language is moved toward what the others hold; the results keep to the
    filter. ``feedback=False`` is one search by the query's own cosine."""
    import numpy as np

    from hybridsearch.ranking import DEFAULT_POLICY, feedback_vectors

    FEEDBACK_HITS = DEFAULT_POLICY.feedback_hits

    q = "penguin colony on the ice"
    qv = lib.encoder.encode([q], kind="query")[0]
    rows = lib.store.conn.execute(
        "SELECT c.id, coalesce(c.language, d.language) FROM chunks c JOIN documents d ON d.id = c.document_id"
    ).fetchall()
    vecs = lib.vectors.ann.get([r[0] for r in rows])
    cos = vecs @ qv
    top = np.argsort(-cos)[:FEEDBACK_HITS]
    moved = feedback_vectors(qv, vecs[top], cos[top])

    def best(vector, keep):
        return float(np.max((vecs @ vector)[[keep(r) for r in rows]]))

    fed, once = best(moved, lambda r: True), best(qv, lambda r: True)
    assert abs(fed - once) > 1e-3  # the moved query scores differently: the test can tell them apart
    assert lib.search(q, mode="dense")[0].score == pytest.approx(fed, abs=1e-4)
    assert lib.search(q, mode="dense", feedback=False)[0].score == pytest.approx(once, abs=1e-4)
    # filtered to Russian: the first passages (mostly English penguins here) still move the query
    assert {rows[i][1] for i in top} != {"ru"}
    res = lib.search(q, mode="dense", languages=["ru"])
    assert res and all(r.language == "ru" for r in res)
    assert res[0].score == pytest.approx(best(moved, lambda r: r[1] == "ru"), abs=1e-4)
    assert res[0].score != pytest.approx(best(qv, lambda r: r[1] == "ru"), abs=1e-4)


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_a_file_is_found_by_its_name(tmp_path, tiny_encoder, mode):
    docs = tmp_path / "docs"
    (docs / "Reports").mkdir(parents=True)
    (docs / "Reports" / "Budget-2024.xlsx.txt").write_text("Rent 1200. Salaries 5400. Travel 300.", encoding="utf-8")
    (docs / "notes.txt").write_text("The budget for 2023 was smaller than planned.", encoding="utf-8")
    for i in range(8):
        (docs / f"other{i}.txt").write_text(f"Meeting minutes number {i} about the garden.", encoding="utf-8")
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
        names = lambda q, k=3, **kw: [os.path.basename(r.path) for r in lib.search(q, k=k, mode=mode, **kw)]  # noqa: E731
        found = names("budget 2024")
        # the file named so is found although its text holds neither word; the passage on the
        # budget is found too
        assert "Budget-2024.xlsx.txt" in found and "notes.txt" in found
        assert names("reports")[0] == "Budget-2024.xlsx.txt"  # its folder's name
        assert "Budget-2024.xlsx.txt" not in names("budget 2024 -rent")  # syntax applies to names too
        assert "Budget-2024.xlsx.txt" not in names("budget 2024", file_types=["md"])  # and filters
        if mode == "lexical":  # a name that holds only some of the words is not a name match
            assert names("budget 2023", k=10) == ["notes.txt"]
        # renamed: found by its new name, no more by its old one
        (docs / "Reports" / "Budget-2024.xlsx.txt").rename(docs / "Reports" / "costs.txt")
        lib.index()
        assert names("reports")[0] == "costs.txt" and names("costs")[0] == "costs.txt"
        if mode == "lexical":
            assert names("budget 2024", k=10) == ["notes.txt"]


def test_an_english_query_does_not_match_german_text_through_its_articles(tmp_path, tiny_encoder):
    """"die" is an English verb and a German article: an English question about a king's death is
    no keyword match for German text that only shares the article; a German "die" still finds it."""
    from hybridsearch.search import lexical_candidates

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "king.txt").write_text("King Henry the Eighth of England died in January 1547 at the palace of "
                                   "Whitehall, after a long illness.", encoding="utf-8")
    (docs / "garten.txt").write_text("Die Katze und die Maus spielen im Garten, während die Sonne scheint. "
                                     "Die Kinder sehen zu, und die Nachbarin bringt Kuchen.", encoding="utf-8")
    (docs / "also.txt").write_text("Also, the garden party was moved to the village hall.", encoding="utf-8")
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
        names = lambda results: {os.path.basename(r.path) for r in results}  # noqa: E731
        assert names(lib.search("when did the king die", mode="lexical")) == {"king.txt", "also.txt"}
        # the keyword list hybrid search fuses holds no German chunk either
        hits = lexical_candidates(lib.store, "when did the king die", 50, "", [])
        languages = {r[0] for r in lib.store.conn.execute(
            f"SELECT language FROM chunks WHERE id IN ({','.join(str(c) for c, _ in hits)})")}
        assert hits and languages == {"en"}
        # a German query finds the German text through the same word
        assert names(lib.search("die", mode="lexical")) == {"garten.txt"}
        assert "garten.txt" in names(lib.search("die Katze", mode="lexical"))
        # and a phrase is matched as typed
        assert names(lib.search('"die Maus"', mode="lexical")) == {"garten.txt"}


def test_a_chinese_word_wrapped_over_two_pdf_lines_is_found_by_keyword(tmp_path, tiny_encoder):
    docs = tmp_path / "docs"
    docs.mkdir()
    make_cjk_pdf(docs / "report.pdf", ["故宫位于北京的中心，是全国的政治和文", "化中心，也是明清两代的皇宫。"])
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
        for query in ("文化", '"文化中心"'):
            found = lib.search(query, mode="lexical")
            assert [os.path.basename(r.path) for r in found] == ["report.pdf"], query
            assert "<b>文化" in found[0].best.snippet_html  # highlighted whole, not cut at the line end


def test_pdfs_indexed_before_the_line_break_fix_are_read_again_once(tmp_path, tiny_encoder, monkeypatch):
    from hybridsearch import documents

    docs = tmp_path / "docs"
    docs.mkdir()
    make_cjk_pdf(docs / "report.pdf", ["故宫位于北京的中心，是全国的政治和文", "化中心，也是明清两代的皇宫。"])
    make_cjk_pdf(docs / "english.pdf", ["The palace is in the middle", "of the city."])
    with monkeypatch.context() as m:  # a library indexed by the earlier reader
        m.setattr(documents, "_unwrap_lines", lambda page: page)
        with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
            lib.add_folder(docs)
            lib.index()
            assert lib.search("文化", mode="lexical") == []
            with lib.store.transaction():
                lib.store.set("readers_revision", 1)
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        report = lib.index()
        assert (report.updated, report.unchanged) == (1, 1)  # the Chinese PDF only
        assert [os.path.basename(r.path) for r in lib.search("文化", mode="lexical")] == ["report.pdf"]
        assert (lib.index().updated, lib.index().unchanged) == (0, 2)  # once


def test_presentations_and_workbooks_are_found_by_what_their_slides_and_cells_say(tmp_path, tiny_encoder):
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pptx(docs / "census.pptx", [("Penguin census", "Colonies counted in spring.")],
              table=[["Colony", "Count"], ["Adélie", "4200"]])
    make_xlsx(docs / "supplies.xlsx", {"Winter": [["Item", "Cost"], ["Krill nets", 120]]})
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        report = lib.index()
        assert (report.added, report.failed) == (2, 0)
        assert [os.path.basename(r.path) for r in lib.search("adelie", mode="lexical")] == ["census.pptx"]
        hit = lib.search("krill nets", mode="lexical")
        assert [(os.path.basename(r.path), r.file_type) for r in hit] == [("supplies.xlsx", "xlsx")]
        assert "<b>Krill</b>" in hit[0].best.snippet_html
        assert {r.file_type for r in lib.search("colony", file_types=["pptx"])} == {"pptx"}
        assert lib.file_types() == ["pptx", "xlsx"]
