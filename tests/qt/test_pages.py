"""Each page builds and shows what a person expects before any work is done."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.qt.conftest import fake_metrics


def test_every_page_builds_at_1280x800(make_window, qtbot):
    w = make_window()
    w.resize(1280, 800)
    for i, page in enumerate(w.pages):
        w.show_page(i)
        assert w.stack.currentWidget() is page
        img = w.grab()
        assert img.width() == 1280 and img.height() == 800
    # empty library: the search page offers to add a folder
    w.show_page(0)
    qtbot.waitUntil(lambda: w.search_page.stack.currentWidget() is w.search_page.empty_folders, timeout=10000)
    assert w.search_page.empty_folders.findChild(type(w.library_page.add_btn), "emptyAction").isVisible()


def test_shortcuts_switch_pages_and_focus_search(make_window, qtbot):
    w = make_window()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    for i in [1, 2, 3, 0]:
        qtbot.keyClick(w.focusWidget() or w, Qt.Key(Qt.Key.Key_1.value + i), Qt.KeyboardModifier.ControlModifier)
        assert w.stack.currentIndex() == i
    w.show_page(2)
    qtbot.keyClick(w.focusWidget() or w, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert w.stack.currentIndex() == 0
    assert w.search_page.box.hasFocus()


def test_geometry_and_settings_are_remembered(make_window, settings):
    w = make_window()
    w.resize(1100, 700)
    w.show_page(3)
    w.training_page.batch.setValue(8)
    w.close()
    w2 = make_window()
    avail = w2.screen().availableGeometry()
    if avail.width() >= 1100 and avail.height() >= 700:  # the offscreen default screen is only 800x800
        assert w2.width() == 1100 and w2.height() == 700
    assert w2.stack.currentIndex() == 3
    assert w2.training_page.batch.value() == 8


def test_evaluation_charts_fill_from_a_metrics_dict_and_export(qtbot, settings, tmp_path):
    from hybridsearch.qt.evaluation_page import EvaluationPage

    page = EvaluationPage(settings)
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    page.set_results({"base": fake_metrics(base=0.4), "trained": fake_metrics(base=0.6)})
    bars = page.map_chart.values()
    assert set(bars) == {"base", "trained"}
    assert len(bars["base"]) == 4  # de, en, fr + all
    assert bars["trained"][-1] == pytest.approx(0.6)
    assert page.heatmap.rows == ["de", "en", "fr"] and page.heatmap.value("de", "en") == pytest.approx(0.3)
    files = page.export_all(tmp_path)
    assert len(files) == 6 and all(f.stat().st_size > 1000 for f in files)
    js = page.export_report(tmp_path / "report.json")
    csvp = page.export_report(tmp_path / "report.csv")
    assert '"trained"' in js.read_text()
    assert "trained,de,map," in csvp.read_text()
    # a model whose card has a same-language offset also says how search ranks with it
    tuned = {**fake_metrics(base=0.6), "language_offset": 0.01, "map_language_fair": 0.612, "qlf_rate_language_fair": 0.27}
    fed = {**fake_metrics(base=0.4), "language_offset": 0.0, "feedback": 1.0, "map_language_fair": 0.55,
           "qlf_rate_language_fair": 0.8}
    page._on_result({"base": fed, "trained": {**tuned, "feedback": 1.0}, "plain": fake_metrics(base=0.5)})
    lines = page.progress_label.text().splitlines()
    assert lines[0].startswith("Done: 3 models") and len(lines) == 3
    assert lines[1] == "base language-fair (feedback): mAP 0.550, the query's language first 80% of the time"
    assert lines[2] == ("trained language-fair (offset 0.01, feedback): mAP 0.612, the query's language first "
                        "27% of the time")


def test_alpha_slider_says_what_it_does(qtbot, settings):
    from hybridsearch.qt.training_page import TrainingPage

    page = TrainingPage(settings)
    qtbot.addWidget(page)
    page.alpha.setValue(0)
    assert "monolingual" in page.alpha_line.text()
    page.alpha.setValue(100)
    assert "cross-lingual" in page.alpha_line.text()
    page.alpha.setValue(30)
    assert "30%" in page.alpha_line.text()


def test_cpu_only_warns_with_a_time_estimate(qtbot, settings):
    from types import SimpleNamespace

    from hybridsearch.qt.training_page import TrainingPage

    page = TrainingPage(settings)
    qtbot.addWidget(page)
    page.set_devices([SimpleNamespace(id="cpu", kind="cpu", name="Test CPU, 2 threads", memory_bytes=8 << 30)])
    assert page.device_warning.isVisibleTo(page)
    assert "CPU" in page.device_warning.text() and "roughly" in page.device_warning.text()
    page.set_devices([SimpleNamespace(id="cuda:0", kind="cuda", name="Big GPU", memory_bytes=80 << 30),
                      SimpleNamespace(id="cpu", kind="cpu", name="CPU", memory_bytes=None)])
    assert "Big GPU — 80 GiB" in page.device.itemText(0)
    assert not page.device_warning.isVisibleTo(page)


def test_worker_errors_become_readable_messages(qtbot):
    from hybridsearch.errors import HybridSearchError
    from hybridsearch.qt.workers import Worker

    def boom(cancel, report):
        raise HybridSearchError("the file is damaged: try another one")

    w = Worker(boom)
    with qtbot.waitSignal(w.error, timeout=5000) as sig:
        w.start()
    assert sig.args == ["the file is damaged: try another one"]

    w2 = Worker(lambda cancel, report: 1 / 0)
    with qtbot.waitSignal(w2.error, timeout=5000) as sig:
        w2.start()
    assert sig.args[0].startswith("ZeroDivisionError")


def test_switching_to_dark_restyles_charts_and_results(make_window, qtbot, monkeypatch):
    from PySide6.QtCharts import QChart

    from tests.qt.conftest import fake_metrics

    w = make_window()
    w.evaluation_page.set_results({"base": fake_metrics()})
    monkeypatch.setenv("HYBRIDSEARCH_THEME", "dark")
    from hybridsearch.qt.theme import apply_theme
    from PySide6.QtWidgets import QApplication
    apply_theme(QApplication.instance())
    w.restyle()
    assert w.evaluation_page.map_chart.chart().theme() == QChart.ChartTheme.ChartThemeDark
    assert w.evaluation_page.map_chart.values()["base"][-1] == 0.5
    assert QApplication.instance().palette().window().color().lightness() < 128
    monkeypatch.setenv("HYBRIDSEARCH_THEME", "light")
    apply_theme(QApplication.instance())
    w.restyle()
    assert w.evaluation_page.map_chart.chart().theme() == QChart.ChartTheme.ChartThemeLight


def test_the_app_has_its_icon(qapp):
    from hybridsearch.qt.app import app_icon

    icon = app_icon()
    assert not icon.isNull() and not icon.pixmap(64, 64).isNull()


def test_missing_libxcb_cursor_is_named_with_the_command_to_install_it(capsys, monkeypatch):
    """Defect 11: on a fresh Debian/Ubuntu machine the app says what to install instead of aborting."""
    from hybridsearch.qt import app

    none = lambda name: None  # noqa: E731
    found = lambda name: f"lib{name}.so.0"  # noqa: E731
    msg = app.missing_system_libraries("linux", {"DISPLAY": ":0"}, none)
    assert "sudo apt install libxcb-cursor0" in msg
    assert app.missing_system_libraries("linux", {"DISPLAY": ":0"}, found) is None
    assert app.missing_system_libraries("linux", {"WAYLAND_DISPLAY": "wayland-0"}, none) is None
    assert app.missing_system_libraries("linux", {"QT_QPA_PLATFORM": "xcb"}, none) is not None
    assert app.missing_system_libraries("win32", {}, none) is None
    only_cursor = lambda name: None if name == "xcb-cursor" else f"lib{name}.so"  # noqa: E731
    assert "sudo apt install libxcb-cursor0\n" in app.missing_system_libraries("linux", {}, only_cursor)
    monkeypatch.setattr(app, "missing_system_libraries", lambda: msg)
    assert app.main([]) == 2
    assert "libxcb-cursor0" in capsys.readouterr().err


def _chart_texts(view) -> list[str]:
    from PySide6.QtWidgets import QGraphicsSimpleTextItem, QGraphicsTextItem

    out = []
    for it in view.scene().items():
        if isinstance(it, QGraphicsTextItem) and it.isVisible():
            out.append(it.toPlainText())
        elif isinstance(it, QGraphicsSimpleTextItem) and it.isVisible():
            out.append(it.text())
    return out


def test_charts_stay_readable_at_1024x700_and_export_at_print_size(make_window, qtbot, tmp_path):
    """Defect 7: no "…" in axis labels, titles or legends at 1024×700; exports ≥ 1600 px wide."""
    from PySide6.QtGui import QImage

    w = make_window()
    langs = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
    w.evaluation_page.set_results({"multilingual-e5-small": fake_metrics(langs, base=0.2),
                                   "hybrid-e5-small": fake_metrics(langs, base=0.3)})
    w.show_page(3)
    w.resize(1024, 700)
    qtbot.waitUntil(lambda: w.width() <= 1030, timeout=3000)
    qtbot.wait(200)
    for name in ("map", "mono_mrr", "cross_mrr", "qlf_rate", "rank_distance"):
        view = w.evaluation_page.charts[name]
        texts = _chart_texts(view)
        assert not [t for t in texts if "…" in t or "..." in t], (name, texts)
        assert {"en", "zh", "all"} <= set(texts), (name, texts)
    files = w.evaluation_page.export_all(tmp_path)
    assert len(files) == 6
    for f in files:
        img = QImage(str(f))
        assert img.width() >= 1600, (f.name, img.width())


def test_preferences_switch_to_dark_and_a_larger_font(make_window, qtbot, settings):
    from PySide6.QtWidgets import QApplication

    from hybridsearch.qt import theme

    app = QApplication.instance()
    w = make_window()
    size0 = app.font().pointSizeF()
    settings.set("preferences/theme", "dark")
    settings.set("preferences/font_pt", 14)
    settings.set("search/mode", "dense")
    try:
        w.apply_preferences(app)
        assert theme.is_dark() and app.palette().window().color().lightness() < 128
        assert app.font().pointSizeF() == 14 and w.search_page.mode.currentData() == "dense"
    finally:
        settings.set("preferences/theme", "system")
        settings.set("preferences/font_pt", 0)
        w.apply_preferences(app)
    assert app.font().pointSizeF() == size0
    assert "strong" in w.help_html() and "hybridsearch" in w.about_html()
    assert '"exact phrase"' in w.help_html() and "-word" in w.help_html()  # the query syntax


def test_quitting_does_not_wait_for_busy_background_threads(tmp_path):
    """Defect 10: the process used to linger 6-8 s after its window closed (a model load or a
    search still running on a lane); it now ends at once (the library was closed first)."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = ("import threading, time\n"
              "from hybridsearch.qt.workers import lane\n"
              "from hybridsearch.qt.app import exit_without_waiting_for_threads\n"
              "lane('model').submit(time.sleep, 20)\n"
              "time.sleep(0.2)\n"
              "exit_without_waiting_for_threads(0)\n")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], cwd=str(Path(__file__).resolve().parents[2]),
                          timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0 and time.monotonic() - t0 < 10


def test_training_settings_fit_their_pane_at_1024x700(make_window, qtbot):
    """Nothing of the settings form is cut or behind a sideways scroll at the smallest supported size."""
    w = make_window()
    w.show_page(2)
    w.resize(1024, 700)
    qtbot.waitUntil(lambda: w.width() <= 1030, timeout=3000)
    qtbot.wait(200)
    page = w.training_page
    scroll = page.settings_scroll
    assert not scroll.horizontalScrollBar().isVisible()
    assert scroll.widget().width() <= scroll.viewport().width()
    # every field ends inside the visible pane
    right_edge = scroll.viewport().mapToGlobal(scroll.viewport().rect().topRight()).x()
    for field in (page.base_model, page.steps, page.epochs, page.lr, page.all_languages, page.device, page.hard,
                  page.freeze, page.remove_extra_btn):
        assert field.mapToGlobal(field.rect().topRight()).x() <= right_edge, field


def test_a_first_window_fits_a_small_screen_with_its_title_bar(make_window, monkeypatch):
    """On a 1280×800 laptop screen the first window (no saved geometry) must not push its status
    bar below the screen's edge; on a large screen it opens at 1280×800."""
    from PySide6.QtCore import QRect

    w = make_window()
    if w.screen().availableGeometry().height() >= 900:
        assert (w.width(), w.height()) == (1280, 800)

    class Laptop:
        def availableGeometry(self):
            return QRect(0, 0, 1280, 800)
    monkeypatch.setattr(w, "screen", lambda: Laptop())
    w._fit_to_screen()
    assert w.height() + 40 <= 800 and w.width() <= 1280
    assert w.y() >= 0 and w.y() + w.height() + 40 <= 800
