"""Start-up: a search typed while the model loads waits for it; a restart searches the stored index
at once while the rescan runs in the background."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import Qt


def _indexed_library(root: Path, docs_dir: Path, encoder) -> None:
    from hybridsearch.library import Library

    with Library(root=root, model="base", encoder=encoder) as lib:
        lib.add_folder(str(docs_dir))
        assert lib.index().added == len(list(docs_dir.rglob("*.txt")))


def test_search_typed_while_the_model_loads_waits_for_it(qtbot, settings, tmp_path, docs_dir, base_encoder,
                                                         monkeypatch):
    """Defect 1: Enter within a second of the window appearing, while the rescan also wants the
    model: one thread loads it, the page says "Loading the model…", then the results come."""
    import hybridsearch.library as encoder_pkg  # the Library loads through its module's load_encoder
    from hybridsearch.qt.library_service import LibraryService
    from hybridsearch.qt.main_window import MainWindow

    _indexed_library(tmp_path / "library", docs_dir, base_encoder)
    loads, inside, overlap = [], [0], []
    guard = threading.Lock()

    def slow_load(name, **kwargs):
        with guard:
            inside[0] += 1
            overlap.append(inside[0])
        loads.append(threading.current_thread().name)
        time.sleep(1.5)  # importing the model stack takes seconds on a real machine
        with guard:
            inside[0] -= 1
        return base_encoder
    monkeypatch.setattr(encoder_pkg, "load_encoder", slow_load)
    service = LibraryService(root=tmp_path / "library", model="base")
    w = MainWindow(service=service, settings=settings, catch_up=True)
    qtbot.addWidget(w)
    errors = []
    service.error.connect(errors.append)
    w.show()
    page = w.search_page
    qtbot.keyClicks(page.box, "Kaffee Brasilien")
    qtbot.keyClick(page.box, Qt.Key.Key_Return)
    assert page.stack.currentWidget() is page.loading_state
    assert page.summary.text() == "Loading the model…"
    with qtbot.waitSignal(page.searched, timeout=30000) as sig:
        pass
    assert sig.args[0] > 0 and Path(page.results[0].path).name == "kaffee.txt"
    assert page.stack.currentWidget() is page.results_view
    qtbot.waitUntil(lambda: not service.busy, timeout=30000)  # the rescan finished too
    assert len(loads) == 1 and max(overlap) == 1, (loads, overlap)
    assert not errors and not w.banner.isVisible()
    w.close()


def test_a_search_in_an_empty_library_says_add_a_folder_without_waiting_for_the_model(
        qtbot, settings, tmp_path, base_encoder, monkeypatch):
    """A new user types a question before adding anything: the page says what to do at once,
    not "Loading the model…" for the minute the first model preparation takes."""
    import hybridsearch.library as encoder_pkg
    from hybridsearch.qt.library_service import LibraryService
    from hybridsearch.qt.main_window import MainWindow

    release = threading.Event()

    def slow_load(name, **kwargs):
        release.wait(30)
        return base_encoder
    monkeypatch.setattr(encoder_pkg, "load_encoder", slow_load)
    service = LibraryService(root=tmp_path / "library", model="base")
    w = MainWindow(service=service, settings=settings, catch_up=True)
    qtbot.addWidget(w)
    w.show()
    page = w.search_page
    qtbot.keyClicks(page.box, "who designed the first buildings")
    qtbot.keyClick(page.box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.empty_folders, timeout=10000)
    assert service.model_state == "loading" and page.summary.text() != "Loading the model…"
    release.set()
    qtbot.waitUntil(lambda: service.model_state == "ready", timeout=30000)
    qtbot.wait(200)
    assert page.stack.currentWidget() is page.empty_folders
    w.close()


def test_restart_searches_the_stored_index_while_the_rescan_runs(qtbot, settings, tmp_path, docs_dir,
                                                                 base_encoder, monkeypatch):
    """Defect 2: a slow start-up rescan does not hold up search or cover the page."""
    import hybridsearch.indexer as indexer
    from hybridsearch.qt.library_service import LibraryService
    from hybridsearch.qt.main_window import MainWindow

    _indexed_library(tmp_path / "library", docs_dir, base_encoder)
    release = threading.Event()
    real_scan = indexer._scan

    def slow_scan(*args, **kwargs):
        release.wait(20)  # a big library on a slow disk
        return real_scan(*args, **kwargs)
    monkeypatch.setattr(indexer, "_scan", slow_scan)
    service = LibraryService(root=tmp_path / "library", model="base", encoder=base_encoder)
    w = MainWindow(service=service, settings=settings, catch_up=True)
    qtbot.addWidget(w)
    w.show()
    page = w.search_page
    qtbot.waitUntil(lambda: service.busy, timeout=10000)
    qtbot.waitUntil(lambda: page._documents > 0, timeout=10000)
    assert page.stack.currentWidget() is page.start_state  # not "Indexing your documents…"
    assert "search works meanwhile" in w.status_label.text()
    t0 = time.monotonic()
    with qtbot.waitSignal(page.searched, timeout=10000) as sig:
        page.box.setText("Kaffee Brasilien")
        page.search_now()
    assert sig.args[0] > 0 and Path(page.results[0].path).name == "kaffee.txt"
    assert time.monotonic() - t0 < 8 and service.busy  # answered while the rescan still runs
    release.set()
    qtbot.waitUntil(lambda: not service.busy, timeout=30000)
    w.close()


def test_first_indexing_says_the_model_is_being_prepared(qtbot, settings, tmp_path, docs_dir, base_encoder,
                                                         monkeypatch):
    """Defect 3: while the base model is converted for its first use, the pages say so (not
    "Scanning folders…" with 0 documents)."""
    import hybridsearch.library as encoder_pkg  # the Library loads through its module's load_encoder
    import hybridsearch.qt.library_service as ls
    from hybridsearch.qt.library_service import LibraryService
    from hybridsearch.qt.main_window import MainWindow

    release = threading.Event()

    def converting_load(name, **kwargs):
        release.wait(20)
        return base_encoder
    monkeypatch.setattr(encoder_pkg, "load_encoder", converting_load)
    monkeypatch.setattr(ls, "model_needs_preparation", lambda *_: True)
    service = LibraryService(root=tmp_path / "library", model="base")
    w = MainWindow(service=service, settings=settings, catch_up=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: service.model_state == "loading", timeout=5000)
    assert "one time" in w.status_label.text()
    w.show_page(1)
    w.library_page.add_folder(str(docs_dir))
    qtbot.waitUntil(lambda: w.library_page.progress_row.isVisible(), timeout=5000)
    assert w.library_page.progress_label.text().startswith("Preparing the model for first use")
    assert "Preparing the model" in w.search_page.index_label.text()
    with qtbot.waitSignal(service.job_finished, timeout=120000) as sig:
        release.set()
    assert sig.args[1] == "done"
    w.close()


def test_threads_importing_the_model_stack_at_once_do_not_fail():
    """Defect 1's cause, in a fresh interpreter: without the guard, 3 of 4 threads importing
    transformers at once got "cannot import name 'AutoConfig'"; every app thread that may load a
    model (preload, rescan, search, speed warm-up, evaluation, training) goes through it."""
    import os
    import subprocess
    import sys

    script = ("import threading\n"
              "from hybridsearch.qt.workers import ensure_model_stack\n"
              "errs = []\n"
              "def go():\n"
              "    try:\n"
              "        ensure_model_stack()\n"
              "        from transformers import AutoConfig, AutoModel\n"
              "    except Exception as e:\n"
              "        errs.append(repr(e))\n"
              "ts = [threading.Thread(target=go) for _ in range(4)]\n"
              "[t.start() for t in ts]; [t.join() for t in ts]\n"
              "print('ERRORS', errs)\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=str(Path(__file__).resolve().parents[2]),
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}).stdout
    assert "ERRORS []" in out, out


def test_a_second_window_on_an_open_library_searches_it_and_says_why_it_does_not_index(
        qtbot, settings, tmp_path, docs_dir, tiny_encoder):
    """The app started twice: the second window searches the library the first keeps up to date,
    says so calmly (no error), and watches nothing."""
    from hybridsearch.library import Library
    from hybridsearch.qt.library_service import LibraryService
    from hybridsearch.qt.main_window import MainWindow

    with Library(root=tmp_path / "library", model="base", encoder=tiny_encoder) as first:
        first.add_folder(str(docs_dir))
        first.index()  # the first window: it holds the library's writer lock while open
        loaded = threading.Event()  # the model finishes loading after the rescan found the other window

        class SlowModel(Library):
            @property
            def encoder(self):
                loaded.wait(20)
                return tiny_encoder

        service = LibraryService(root=tmp_path / "library", model="base",
                                 factory=lambda root, model, _enc, *_: SlowModel(root, model))
        errors = []
        service.error.connect(errors.append)
        w = MainWindow(service=service, settings=settings, catch_up=True)
        qtbot.addWidget(w)
        w.show()
        qtbot.waitUntil(lambda: w.banner.isVisible(), timeout=20000)
        assert w.banner.kind == "info" and "also open in another hybridsearch window" in w.banner.label.text()
        loaded.set()
        qtbot.waitUntil(lambda: service.model_state == "ready", timeout=20000)
        assert "search only: the library is open in another window" in w.status_label.text().lower()
        assert not errors and service.watcher is None and not service.busy
        # said once (the window's banner), and the Library page offers only what works here
        lib_page = w.library_page
        assert lib_page.banner.isHidden()
        assert not lib_page.add_btn.isEnabled() and not lib_page.reindex_btn.isEnabled()
        assert "another hybridsearch window" in lib_page.add_btn.toolTip()
        w.banner.hide()
        service.add_folder(str(tmp_path))  # a dropped folder: the notice again, no failure
        assert w.banner.isVisible() and "also open in another" in w.banner.label.text()
        w.banner.hide()
        w.library_page.choose_folder()  # Ctrl+O: no folder dialog (it would block here), the notice
        assert w.banner.isVisible() and "also open in another" in w.banner.label.text()
        assert not errors and not service.busy
        page = w.search_page
        with qtbot.waitSignal(page.searched, timeout=20000) as sig:
            page.box.setText("Kaffee")
            page.search_now()
        assert sig.args[0] > 0
        w.close()
