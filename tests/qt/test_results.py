"""What a person sees of a result: whole-word keyword marks, and a clear word when a file won't open."""

from __future__ import annotations

from pathlib import Path


def _marked_words(doc) -> list[str]:
    """The runs of text shown with the keyword highlight (adjacent fragments joined)."""
    runs, prev_marked = [], False
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            marked = frag.charFormat().background().color().name() == "#ffe066"
            if marked and prev_marked:
                runs[-1] += frag.text()
            elif marked:
                runs.append(frag.text())
            prev_marked = marked
            it += 1
        block = block.next()
        prev_marked = False
    return runs


def _search(qtbot, page, text, mode="lexical"):
    page.mode.setCurrentIndex(page.mode.findData(mode))
    page.box.setText(text)
    with qtbot.waitSignal(page.searched, timeout=30000):
        page.search_now()


def _indexed_window(make_window, qtbot, tmp_path, encoder, docs: dict):
    root = tmp_path / "docs"
    for name, text in docs.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    w = make_window(encoder=encoder)
    with qtbot.waitSignal(w.service.job_finished, timeout=120000) as sig:
        w.library_page.add_folder(str(root))
    assert sig.args[1] == "done", sig.args
    return w, root


def test_keywords_are_marked_as_whole_words_in_the_document_view(make_window, qtbot, tmp_path, tiny_encoder):
    """Defect 5: "die" is marked on its own, never inside "diente"; beside a word that matters the
    article is not marked at all, and "Burg" is not marked inside "Burggraben"."""
    w, _ = _indexed_window(make_window, qtbot, tmp_path, tiny_encoder, {
        "de/burg.txt": "Die Burg diente lange als Gefängnis. Heute ist die Burg ein Museum. Der Burggraben ist leer."})
    page = w.search_page
    for query, expected in (("die", ["die", "die"]), ("die Burg", ["burg", "burg"])):
        _search(qtbot, page, query)
        qtbot.waitUntil(lambda: "Museum" in page.context_view.toPlainText()
                        and "Loading" not in page.context_view.toPlainText(), timeout=10000)
        qtbot.waitUntil(lambda: sorted(m.lower() for m in _marked_words(page.context_view.document())) == expected,
                        timeout=10000)
        assert "diente" in page.context_view.toPlainText() and "Burggraben" in page.context_view.toPlainText()


def test_search_box_syntax_and_file_names(make_window, qtbot, tmp_path, tiny_encoder):
    """Typed in the search box: -word leaves documents out (and is not marked), "a phrase" keeps
    the word order, and a file is found by its name."""
    w, _ = _indexed_window(make_window, qtbot, tmp_path, tiny_encoder, {
        "castle.txt": "The castle served as a prison. Today the castle is a museum.",
        "prison.txt": "A prison castle in the north, closed since 1990.",
        "Reports/Budget-2024.txt": "Rent 1200. Salaries 5400."})
    page = w.search_page
    names = lambda: [Path(r.path).name for r in page.results]  # noqa: E731
    _search(qtbot, page, "castle -north")
    assert names() == ["castle.txt"]
    qtbot.waitUntil(lambda: "museum" in page.context_view.toPlainText()
                    and "Loading" not in page.context_view.toPlainText(), timeout=10000)
    assert sorted(m.lower() for m in _marked_words(page.context_view.document())) == ["castle", "castle"]
    _search(qtbot, page, '"prison castle"')
    assert names() == ["prison.txt"]
    _search(qtbot, page, "budget 2024")
    assert names() == ["Budget-2024.txt"]
    _search(qtbot, page, "budget 2024", mode="hybrid")
    assert "Budget-2024.txt" in names()


def test_open_without_a_handler_says_so_with_the_path_and_a_copy_button(make_window, qtbot, tmp_path,
                                                                        tiny_encoder, monkeypatch):
    """Defect 6: the open call's failure is shown, not ignored."""
    from PySide6.QtGui import QDesktopServices, QGuiApplication

    w, root = _indexed_window(make_window, qtbot, tmp_path, tiny_encoder,
                              {"notes.txt": "Quarterly budget notes for the garden club."})
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: False))
    page = w.search_page
    _search(qtbot, page, "budget")
    path = str(root / "notes.txt")
    page.open_btn.click()
    assert page.banner.isVisible() and path in page.banner.text()
    assert "No application" in page.banner.text()
    QGuiApplication.clipboard().setText("")
    page.banner.action_btn.click()
    assert QGuiApplication.clipboard().text() == path
    page.reveal_btn.click()
    assert str(root) in page.banner.text() and "file manager" in page.banner.text()
    (root / "notes.txt").unlink()
    page.open_btn.click()
    assert "no longer there" in page.banner.text()


def test_results_show_a_readable_match_strength_and_nonsense_finds_no_good_match(make_window, qtbot, docs_dir,
                                                                                 base_encoder):
    """Defect 4: strong / good / weak instead of fused rank scores; a nonsense query says so."""
    w = make_window(encoder=base_encoder)
    with qtbot.waitSignal(w.service.job_finished, timeout=180000):
        w.library_page.add_folder(str(docs_dir))
    page = w.search_page
    # an English question, the answer in German
    _search(qtbot, page, "How fast is the ICE between Berlin and Munich?", mode="hybrid")
    assert Path(page.results[0].path).name == "bahn.txt"
    card = page.list.itemWidget(page.list.item(0))
    assert card.strength.text().count("strong match") or card.strength.text().count("good match")
    assert "relevance" not in card.strength.text() and "similarity" in card.strength.toolTip()
    assert len(page.results) < 7  # the unrelated documents are not listed as matches
    assert page.summary.text().endswith("matching documents") or page.summary.text().endswith("matching document")

    _search(qtbot, page, "xyzzyplugh", mode="hybrid")
    assert page.stack.currentWidget() is page.no_results
    assert "No good match" in page.no_results_title.text() and page.summary.text() == "No good match"
    assert page.show_weak_btn.isVisible()
    with qtbot.waitSignal(page.searched, timeout=5000):
        page.show_weak_btn.click()
    assert page.stack.currentWidget() is page.results_view and page.results
    assert all("weak match" in page.list.itemWidget(page.list.item(i)).strength.text()
               for i in range(page.list.count()))


def test_recent_searches_are_offered_again(make_window, qtbot, tmp_path, tiny_encoder, settings):
    w, _ = _indexed_window(make_window, qtbot, tmp_path, tiny_encoder,
                           {"notes.txt": "Quarterly budget notes for the garden club."})
    page = w.search_page
    _search(qtbot, page, "budget")
    _search(qtbot, page, "garden club")
    _search(qtbot, page, "zzzqqq nothing")  # no results: not remembered
    assert page.recent_searches() == ["garden club", "budget"]
    assert settings.get("search/recent", []) == ["garden club", "budget"]
    page.completer.setCompletionPrefix("gar")
    assert page.completer.currentCompletion() == "garden club"


def test_markdown_heading_marks_are_not_shown_as_text(make_window, qtbot, tmp_path, tiny_encoder):
    """Defect 10: "## Winter" in a snippet reads "Winter"."""
    w, _ = _indexed_window(make_window, qtbot, tmp_path, tiny_encoder, {
        "bees.md": "# A beekeeper's year\n\n## Winter\n\nIn winter the bees form a cluster around the queen."})
    page = w.search_page
    _search(qtbot, page, "winter cluster")
    card = page.list.itemWidget(page.list.item(0))
    import html
    import re

    shown = html.unescape(re.sub(r"<[^>]+>", "", card.passage.text()))
    assert "Winter" in shown and "#" not in shown, shown
    qtbot.waitUntil(lambda: "queen" in page.context_view.toPlainText()
                    and "Loading" not in page.context_view.toPlainText(), timeout=10000)
    assert "##" not in page.context_view.toPlainText()


def test_the_sentence_that_answers_is_marked_by_meaning_across_languages(make_window, qtbot, tmp_path,
                                                                         base_encoder):
    """An English question marks the German sentence that answers it (no shared keyword)."""
    w, _ = _indexed_window(make_window, qtbot, tmp_path, base_encoder, {
        "kaffee.txt": "Kaffee wird aus den gerösteten Bohnen des Kaffeestrauchs gebrüht. Die größten "
                      "Erzeugerländer sind Brasilien, Vietnam und Kolumbien. Im Winter schneit es in den "
                      "Alpen oft bis in die Täler."})
    page = w.search_page
    _search(qtbot, page, "Which countries grow the most coffee?", mode="dense")
    qtbot.waitUntil(lambda: bool(page.meaning_sentences), timeout=20000)
    assert "Die größten Erzeugerländer sind Brasilien, Vietnam und Kolumbien." in page.meaning_sentences
    assert not [s for s in page.meaning_sentences if "Alpen" in s]
    html_view = page.context_view.toHtml()
    assert "underline" in html_view


def test_date_filter_and_newest_first(make_window, qtbot, tmp_path, tiny_encoder):
    import os
    import time

    root = tmp_path / "dated"
    root.mkdir()
    old, new = root / "old-minutes.txt", root / "new-minutes.txt"
    old.write_text("Garden club minutes: the hedge was trimmed.", encoding="utf-8")
    new.write_text("Garden club minutes: the pond was cleaned.", encoding="utf-8")
    two_years = time.time() - 2 * 365 * 86400
    os.utime(old, (two_years, two_years))
    w = make_window(encoder=tiny_encoder)
    with qtbot.waitSignal(w.service.job_finished, timeout=120000):
        w.library_page.add_folder(str(root))
    page = w.search_page
    _search(qtbot, page, "garden club minutes")
    assert {Path(r.path).name for r in page.results} == {"old-minutes.txt", "new-minutes.txt"}
    page.sort.setCurrentIndex(page.sort.findData("newest"))
    assert [Path(r.path).name for r in page.results] == ["new-minutes.txt", "old-minutes.txt"]
    with qtbot.waitSignal(page.searched, timeout=30000):
        page.date_filter.setCurrentIndex(page.date_filter.findData(365))
    assert [Path(r.path).name for r in page.results] == ["new-minutes.txt"]


def test_document_viewer_shows_every_hit_with_next_previous_and_find(make_window, qtbot, tmp_path, tiny_encoder):
    body = "\n\n".join(f"Paragraph {i}: " + ("the lighthouse keeper wrote a log. " if i % 3 == 0 else
                                             "waves and gulls and nothing else. ") * 6 for i in range(30))
    w, _ = _indexed_window(make_window, qtbot, tmp_path, tiny_encoder, {"keeper.txt": body})
    page = w.search_page
    _search(qtbot, page, "lighthouse")
    page.view_btn.click()
    qtbot.waitUntil(lambda: page.viewer is not None and page.viewer.isVisible(), timeout=10000)
    v = page.viewer
    assert len(v.spans) == 60 and "Paragraph 29" in v.view.toPlainText()  # the whole document
    assert v.hit_label.text().startswith("hit ") and v.hit_label.text().endswith("of 60")
    first = v.current
    v.next_btn.click()
    assert v.current == (first + 1) % 60 and f"hit {v.current + 1} of 60" == v.hit_label.text()
    v.prev_btn.click()
    v.prev_btn.click()
    assert v.current == (first - 1) % 60
    v.find.setText("gulls")
    assert v.find_next() and v.selected_text() == "gulls"
    v.close()


def _folder_searched(make_window, qtbot, encoder, root, query):
    """A window whose library is ``root``, indexed, searched for ``query`` -> (search page, first card)."""
    w = make_window(encoder=encoder)
    with qtbot.waitSignal(w.service.job_finished, timeout=120000):
        w.library_page.add_folder(str(root))
    page = w.search_page
    _search(qtbot, page, query)
    return page, page.list.itemWidget(page.list.item(0))


def _viewer(qtbot, page):
    """The document viewer, opened with View document on the selected result."""
    page.view_btn.click()
    qtbot.waitUntil(lambda: page.viewer is not None and page.viewer.isVisible(), timeout=10000)
    return page.viewer


def test_a_pdf_result_names_its_page_and_the_viewer_opens_there(make_window, qtbot, tmp_path, tiny_encoder,
                                                                 monkeypatch):
    from test_documents import make_pdf
    from test_indexer import PDF_PAGES

    from hybridsearch.qt import viewer

    root = tmp_path / "docs"
    root.mkdir()
    make_pdf(root / "keeper.pdf", pages=PDF_PAGES)
    page, card = _folder_searched(make_window, qtbot, tiny_encoder, root, "walrus")
    assert "p.&nbsp;3" in card.head.text()
    v = _viewer(qtbot, page)
    assert v.tabs.currentWidget() is v.pdf_view  # the PDF itself, at the passage's page
    qtbot.waitUntil(lambda: v.shown_page() == 3, timeout=5000)
    assert "page 3" in v.header.text()
    v.next_hit()  # F3: the hits are in the text, as before
    assert v.tabs.currentWidget() is v.view and v.hit_label.text() == "hit 1 of 1"
    v.close()
    # without Qt PDF the viewer shows the text and says which page the passage is on
    monkeypatch.setattr(viewer, "pdf_support", lambda: False)
    page.viewer = None
    page.view_btn.click()
    qtbot.waitUntil(lambda: page.viewer is not None and page.viewer.isVisible(), timeout=10000)
    assert page.viewer.pdf_view is None and "page 3" in page.viewer.header.text()
    assert "walrus" in page.viewer.view.toPlainText()
    page.viewer.close()



def test_a_presentation_result_names_its_slide_and_the_viewer_shows_the_text(make_window, qtbot, tmp_path,
                                                                            tiny_encoder):
    from test_documents import make_pptx

    root = tmp_path / "docs"
    root.mkdir()
    make_pptx(root / "talk.pptx", [("Lighthouses", "Keepers lit the lamps."), ("Seabirds", "Puffins nest here.")],
              table=[["Walrus", "Tusks"], ["Pacific", "long"]])
    page, card = _folder_searched(make_window, qtbot, tiny_encoder, root, "walrus")
    assert "pptx · slide&nbsp;3" in card.head.text()
    v = _viewer(qtbot, page)
    assert v.pdf_view is None and "slide 3" in v.header.text() and "cannot" not in v.header.text()
    assert "Walrus" in v.view.toPlainText()
    v.close()

def test_result_cards_mark_the_sentence_that_answers_once_computed(make_window, qtbot, tmp_path, base_encoder):
    """The cards appear first; the sentence closest to the question by meaning is marked in them
    when ready, for the newest query only."""
    import html
    import re

    w, _ = _indexed_window(make_window, qtbot, tmp_path, base_encoder, {
        "kaffee.txt": "Kaffee wird aus den gerösteten Bohnen des Kaffeestrauchs gebrüht. Die größten "
                      "Erzeugerländer sind Brasilien, Vietnam und Kolumbien. Im Winter schneit es in den "
                      "Alpen oft bis in die Täler."})
    page = w.search_page
    # the marks' worker is busy (a slow machine): the first query's marks are still to come when
    # the second query's cards are shown
    import threading

    from hybridsearch.qt.search_page import MARKS_LANE
    from hybridsearch.qt.workers import lane

    busy = threading.Event()
    lane(MARKS_LANE).submit(busy.wait, 30)
    _search(qtbot, page, "Schneit es im Winter in den Alpen?", mode="dense")
    qtbot.wait(200)  # its marks are asked for (after the cards are laid out), then wait in line
    assert page.list.itemWidget(page.list.item(0)).meaning == []  # the card came without them
    _search(qtbot, page, "Which countries grow the most coffee?", mode="dense")
    busy.set()
    card = page.list.itemWidget(page.list.item(0))
    qtbot.waitUntil(lambda: bool(card.meaning), timeout=20000)
    assert "Die größten Erzeugerländer sind Brasilien, Vietnam und Kolumbien." in card.meaning
    assert not [s for s in card.meaning if "Alpen" in s]  # the snow sentence is the first query's
    shown = card.passage.text()
    marked = re.findall(r"<span style='font-weight:600; text-decoration:underline'[^>]*>(.*?)</span>", shown)
    assert any("Brasilien" in html.unescape(re.sub(r"<[^>]+>", "", m)) for m in marked), shown
    qtbot.wait(300)  # the first query's marks, if they come late, are not applied
    assert "Alpen" not in "".join(card.meaning) and shown == card.passage.text()
    # keyword search: no model, no meaning marks
    _search(qtbot, page, "Kaffee")
    qtbot.wait(300)
    assert page.list.itemWidget(page.list.item(0)).meaning == []


def test_work_queued_for_new_results_does_not_run_once_the_window_is_gone(qtbot, settings, tmp_path,
                                                                          tiny_encoder):
    """New result cards are marked and laid out on the next turn of the event loop; a window
    deleted before that turn must not run it on its deleted widgets ("Internal C++ object already
    deleted", raised in the event loop)."""
    import shiboken6

    from hybridsearch.qt.library_service import LibraryService
    from hybridsearch.qt.main_window import MainWindow

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "walrus.txt").write_text("The walrus sleeps on the ice floe.", encoding="utf-8")
    service = LibraryService(root=tmp_path / "library", model="base", encoder=tiny_encoder)
    w = MainWindow(service=service, settings=settings, catch_up=False, preload_model=False)
    w.show()
    with qtbot.waitSignal(service.job_finished, timeout=120000):
        w.library_page.add_folder(str(tmp_path / "docs"))
    _search(qtbot, w.search_page, "walrus")
    assert w.search_page.results
    shiboken6.delete(w)
    qtbot.wait(100)  # pytest-qt fails the test on an exception raised in the event loop meanwhile
