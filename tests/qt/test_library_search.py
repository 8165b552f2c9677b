"""Add a folder -> index -> search -> a cross-lingual result appears and opens; cancel indexing."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt


def _wait_index(qtbot, w, timeout=180000):
    with qtbot.waitSignal(w.service.job_finished, timeout=timeout) as sig:
        pass
    return sig.args


def test_add_folder_index_search_and_open(make_window, qtbot, docs_dir, base_encoder, opened, settings,
                                          monkeypatch):
    w = make_window(encoder=base_encoder)
    w.show_page(1)
    with qtbot.waitSignal(w.service.job_finished, timeout=180000) as sig:
        w.library_page.add_folder(str(docs_dir))
    kind, outcome, report = sig.args
    assert (kind, outcome) == ("index", "done"), report
    qtbot.waitUntil(lambda: w.library_page.table.rowCount() == 1
                    and w.library_page.table.item(0, 1).text() == "7", timeout=10000)
    assert "de" in w.library_page.table.item(0, 3).text()
    assert "Watching" in w.status_label.text() or "up to date" in w.status_label.text().lower()

    # search in English for a German document, semantic ranking
    w.focus_search()
    page = w.search_page
    qtbot.waitUntil(lambda: "de" in (page.lang_filter.actions_ or {}), timeout=10000)
    page.mode.setCurrentIndex(page.mode.findData("dense"))
    with qtbot.waitSignal(page.searched, timeout=60000):
        qtbot.keyClicks(page.box, "How fast is the ICE between Berlin and Munich?")
        qtbot.keyClick(page.box, Qt.Key.Key_Return)
    assert page.stack.currentWidget() is page.results_view
    top = page.results[0]
    assert top.language == "de" and Path(top.path).name == "bahn.txt"
    card = page.list.itemWidget(page.list.item(0))
    assert "bahn.txt" in card.findChildren(type(card.passage))[0].text() or top.title
    # the passage is shown in its document
    qtbot.waitUntil(lambda: "ICE" in page.context_view.toPlainText(), timeout=10000)
    # keyboard: Down moves into the results, Enter opens the document
    qtbot.keyClick(page.box, Qt.Key.Key_Down)
    assert page.list.hasFocus() or page.list.currentRow() == 0
    qtbot.keyClick(page.list, Qt.Key.Key_Return)
    assert opened == [str(top.path)]
    page.reveal_current()
    assert opened[-1] == str(Path(top.path).parent)
    page.copy_current()
    from PySide6.QtGui import QGuiApplication
    assert QGuiApplication.clipboard().text() == str(top.path)

    # typing searches by itself once the typing pauses (debounced: one search for the whole word)
    with qtbot.waitSignal(page.searched, timeout=30000):  # changing the ranking searches again
        page.mode.setCurrentIndex(page.mode.findData("hybrid"))
    page.box.clear()
    r0 = page._request
    with qtbot.waitSignal(page.searched, timeout=30000):
        qtbot.keyClicks(page.box, "Kaffee Brasilien")
    assert page._request == r0 + 1
    assert Path(page.results[0].path).name == "kaffee.txt"
    card = page.list.itemWidget(page.list.item(0))
    assert "background-color:#ffe066" in card.passage.text()  # query terms highlighted

    # a language filter narrows the results
    page.lang_filter.set_selected(["zh"])
    with qtbot.waitSignal(page.searched, timeout=30000):
        page.search_now()
    assert all(r.language == "zh" for r in page.results)

    # "All languages alike" (on by default) applies the model's same-language offset; off ranks by
    # similarity alone. An exaggerated offset makes the difference plain: the English passage drops.
    page.lang_filter.set_selected([])
    monkeypatch.setattr(base_encoder, "language_offset", 0.2)  # the encoder is shared by later tests
    page.mode.setCurrentIndex(page.mode.findData("dense"))
    page.box.setText("How do green plants make glucose from sunlight?")
    assert page.language_fair.isChecked() and page.language_fair.isEnabled()
    with qtbot.waitSignal(page.searched, timeout=30000):
        page.search_now()
    assert Path(page.ranked[0].path).name != "photosynthesis.txt"  # (weak matches included)
    with qtbot.waitSignal(page.searched, timeout=30000):  # switching it searches again
        page.language_fair.setChecked(False)
    assert Path(page.ranked[0].path).name == "photosynthesis.txt"
    assert settings.get("search/language_fair", True) is False

    # nothing matching: the no-results state explains what to try
    page.mode.setCurrentIndex(page.mode.findData("lexical"))
    assert not page.language_fair.isEnabled()  # keyword search has no offset to switch
    page.box.setText("xylophonezzz")
    with qtbot.waitSignal(page.searched, timeout=30000):
        page.search_now()
    assert page.stack.currentWidget() is page.no_results
    assert "Nothing matches" in page.no_results_text.text()


def test_indexing_can_be_cancelled_and_continues(make_window, qtbot, tmp_path, tiny_encoder):
    docs = tmp_path / "many"
    docs.mkdir()
    for i in range(120):
        (docs / f"doc{i:03d}.txt").write_text(f"Document number {i}. " + "Some words about things. " * 40,
                                              encoding="utf-8")
    w = make_window(encoder=tiny_encoder)
    errs = []
    w.service.error.connect(errs.append)
    w.show_page(1)
    lp = w.library_page
    seen = []

    def cancel_when_files_are_done(p):
        # press Cancel as a person would: while the progress bar shows files being indexed
        if (p.extra or {}).get("files_done", 0) >= 1 and not seen:
            seen.append((lp.progress_row.isVisible(), lp.progress_label.text(),
                         w.search_page.stack.currentWidget() is w.search_page.indexing_state,
                         w.status_label.text()))
            lp.cancel_btn.click()
    w.service.job_progress.connect(cancel_when_files_are_done)
    with qtbot.waitSignal(w.service.job_finished, timeout=120000) as sig:
        w.library_page.add_folder(str(docs))
    w.service.job_progress.disconnect(cancel_when_files_are_done)
    assert seen and seen[0][0] and "files" in seen[0][1]
    assert seen[0][2], "the search page says that indexing is in progress"
    assert "Indexing" in seen[0][3]  # the status bar says what is happening
    kind, outcome, _ = sig.args
    assert outcome == "cancelled"
    qtbot.waitUntil(lambda: "cancelled" in lp.banner.text(), timeout=10000)
    assert not lp.progress_row.isVisible()
    # re-index continues and finishes
    assert not w.service.busy
    with qtbot.waitSignal(w.service.job_finished, timeout=120000) as sig:
        lp.reindex_btn.click()
    assert sig.args[1] == "done", sig.args
    qtbot.waitUntil(lambda: lp.table.rowCount() == 1 and lp.table.item(0, 1).text() == "120", timeout=10000)
    assert not errs
    qtbot.waitUntil(lambda: lp.table.rowCount() == 1 and lp.table.item(0, 1).text() == "120", timeout=10000)


def test_unreadable_files_are_listed_with_the_reason(make_window, qtbot, tmp_path, tiny_encoder):
    docs = tmp_path / "mixed"
    docs.mkdir()
    (docs / "good.txt").write_text("A perfectly readable text about rivers and mountains.", encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    w = make_window(encoder=tiny_encoder)
    with qtbot.waitSignal(w.service.job_finished, timeout=120000):
        w.library_page.add_folder(str(docs))
    lp = w.library_page
    qtbot.waitUntil(lambda: lp.failed_table.rowCount() == 1, timeout=10000)
    assert lp.failed_table.item(0, 0).text() == "broken.pdf"
    assert lp.failed_table.item(0, 1).text()


def test_use_a_new_model_reembeds_in_the_background(make_window, qtbot, docs_dir, tiny_encoder, tiny_model_dir,
                                                    settings):
    w = make_window(encoder=tiny_encoder)
    with qtbot.waitSignal(w.service.job_finished, timeout=120000):
        w.library_page.add_folder(str(docs_dir))
    with qtbot.waitSignal(w.service.job_finished, timeout=120000) as sig:
        w.use_model(str(tiny_model_dir))
        assert w.service.busy and w.stack.currentIndex() == 1
    assert sig.args[:2] == ["reembed", "done"], sig.args
    assert settings.get("search/model") == str(tiny_model_dir)
    qtbot.waitUntil(lambda: "new model" in w.library_page.banner.text(), timeout=10000)
    page = w.search_page
    w.focus_search()
    with qtbot.waitSignal(page.searched, timeout=30000):
        page.box.setText("Kaffee Brasilien")
        page.search_now()
    assert page.results


def test_remove_folder_empties_the_library(make_window, qtbot, docs_dir, tiny_encoder):
    w = make_window(encoder=tiny_encoder)
    lp = w.library_page
    with qtbot.waitSignal(w.service.job_finished, timeout=120000):
        lp.add_folder(str(docs_dir))
    qtbot.waitUntil(lambda: lp.table.rowCount() == 1, timeout=10000)
    lp.table.selectRow(0)
    lp.remove_selected(confirm=False)
    qtbot.waitUntil(lambda: not lp.table.isVisibleTo(lp) and lp.empty_label.isVisibleTo(lp), timeout=10000)
    qtbot.waitUntil(lambda: w.search_page.stack.currentWidget() is w.search_page.empty_folders, timeout=10000)


def test_a_typo_is_put_right_or_offered_and_one_click_searches_either_way(make_window, qtbot, tmp_path,
                                                                           tiny_encoder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Jacksonville was named after Andrew Jackson.", encoding="utf-8")
    (docs / "b.txt").write_text("Jacksonville lies on the St. Johns River.", encoding="utf-8")
    w = make_window(encoder=tiny_encoder)
    with qtbot.waitSignal(w.service.job_finished, timeout=120000):
        w.library_page.add_folder(str(docs))
    page = w.search_page
    page.mode.setCurrentIndex(page.mode.findData("lexical"))
    with qtbot.waitSignal(page.searched, timeout=30000):
        page.box.setText("Who named Jacksonvile?")
        page.search_now()
    # the query as typed matches nothing well, the library's spelling does: its results are shown
    assert page.suggestion.isVisible()
    assert "Showing results for <b><i>Who named Jacksonville?</i></b>" in page.suggestion.text()
    assert page.stack.currentWidget() is page.results_view and Path(page.results[0].path).name == "a.txt"
    assert page.box.text() == "Who named Jacksonvile?"  # the box keeps what was typed
    assert page.recent_searches()[0] == "Who named Jacksonville?"
    # "search instead for" the query as typed: no good match, and the spelling offered as a link
    with qtbot.waitSignal(page.searched, timeout=30000):
        page.suggestion.linkActivated.emit("typed")
    assert page.stack.currentWidget() is page.no_results and "No good match" in page.no_results_title.text()
    assert "Did you mean" in page.suggestion.text() and "Who named Jacksonville?" in page.suggestion.text()
    with qtbot.waitSignal(page.searched, timeout=30000):
        page.suggestion.linkActivated.emit("suggestion")
    assert page.box.text() == "Who named Jacksonville?"
    assert page.stack.currentWidget() is page.results_view and Path(page.results[0].path).name == "a.txt"
    assert not page.suggestion.isVisible()  # the corrected query has nothing to put right
    page.box.clear()
    page.search_now()
    assert not page.suggestion.isVisible()
