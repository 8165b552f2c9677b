"""The main window: a sidebar with four pages, a status-bar item, shortcuts, remembered geometry."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow, QProgressBar,
                               QStackedWidget, QVBoxLayout, QWidget)

from hybridsearch.qt.evaluation_page import EvaluationPage
from hybridsearch.qt.library_page import LibraryPage
from hybridsearch.qt.library_service import LibraryService
from hybridsearch.qt.search_page import SearchPage
from hybridsearch.qt.settings import Settings
from hybridsearch.qt.training_page import TrainingPage
from hybridsearch.qt.widgets import Banner, set_text_now

PAGES = ["Search", "Library", "Training", "Evaluation"]

HELP_HTML = """<h3>Searching</h3>
<p>Type a question or a few words in any language; results come from documents in every language.
<b>Hybrid</b> ranks by meaning and keywords, <b>Semantic</b> by meaning only (best across languages),
<b>Keyword</b> by the words themselves. A file is also found by its name or its folder's name
(<i>budget 2024</i> finds Budget-2024.xlsx).</p>
<p><b>"exact phrase"</b> these words in this order (Keyword mode shows only documents holding it;
Hybrid and Semantic still find its translations) · <b>-word</b> leave out every document holding
the word (also <b>-"a phrase"</b>) · <b>cats OR dogs</b> either word.</p>
<p>Each result says how well it matches: <b>strong</b>, <b>good</b> or <b>weak</b>. Weak matches are
held back; "No good match" means nothing in the library is close to the question.</p>
<h3>Keys</h3>
<p>Ctrl+F search · ↓ into the results · Enter open · Space more passages · Ctrl+Shift+C copy path ·
Ctrl+Shift+R show in folder · Ctrl+1…4 pages · Ctrl+, preferences</p>"""


class MainWindow(QMainWindow):
    """Search, Library, Training and Evaluation pages around one :class:`LibraryService`."""

    def __init__(self, service: LibraryService | None = None, settings: Settings | None = None,
                 catch_up: bool = True, preload_model: bool = True, parent=None):
        super().__init__(parent)
        self.settings = settings or Settings()
        model = self.settings.get("search/model", "default") or "default"
        threads = int(self.settings.get("preferences/threads", 0) or 0)
        self.service = service or LibraryService(model=model, threads=threads or None, parent=self)
        if self.service.parent() is None:
            self.service.setParent(self)
        self.setWindowTitle("hybridsearch")
        self.setMinimumSize(QSize(960, 640))
        self._catch_up = catch_up
        self._closing = False

        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.banner = Banner()
        lay.addWidget(self.banner)
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        self.nav = QListWidget()
        self.nav.setFixedWidth(150)
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setFrameShape(QListWidget.Shape.NoFrame)
        self.nav.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # pages are switched with Ctrl+1…4
        self.nav.setStyleSheet("QListWidget { background: palette(alternate-base); padding-top: 8px; }"
                               "QListWidget::item { padding: 10px 12px; }"
                               "QListWidget::item:selected { background: palette(highlight); "
                               "color: palette(highlighted-text); }")
        for i, name in enumerate(PAGES):
            it = QListWidgetItem(name)
            it.setToolTip(f"{name} (Ctrl+{i + 1})")
            self.nav.addItem(it)
        body.addWidget(self.nav)
        self.stack = QStackedWidget()
        body.addWidget(self.stack, 1)
        lay.addLayout(body, 1)
        self.setCentralWidget(central)

        self.search_page = SearchPage(self.service, self.settings)
        self.library_page = LibraryPage(self.service, self.settings)
        self.training_page = TrainingPage(self.settings, current_model=lambda: self.service.model)
        self.evaluation_page = EvaluationPage(self.settings)
        self.pages = [self.search_page, self.library_page, self.training_page, self.evaluation_page]
        for p in self.pages:
            self.stack.addWidget(p)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)

        # status bar: what is happening
        self.status_label = QLabel("Ready")
        self.status_progress = QProgressBar()
        self.status_progress.setMaximumWidth(160)
        self.status_progress.setMaximumHeight(14)
        self.status_progress.setTextVisible(False)
        self.status_progress.setVisible(False)
        self.statusBar().addPermanentWidget(self.status_progress)
        self.statusBar().addPermanentWidget(self.status_label)

        self.service.status.connect(self.set_status)
        self.service.error.connect(self.show_error)
        self.service.job_started.connect(lambda kind: self._job_bar(True))
        self.service.job_progress.connect(self._job_bar_progress)
        self.service.job_finished.connect(lambda *a: self._job_bar(False))
        self.service.job_finished.connect(self._job_finished)
        self.training_page.status.connect(self.set_status)
        self.evaluation_page.status.connect(self.set_status)
        self.search_page.add_folder_requested.connect(self._add_folder_from_search)
        self.training_page.use_model_requested.connect(self.use_model)
        self.training_page.training_finished.connect(lambda res: self.evaluation_page.refresh_models())
        self.library_page.folders_changed.connect(self._folders_changed)

        self._build_menu()
        for i in range(len(PAGES)):
            sc = QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self)
            sc.activated.connect(lambda i=i: self.show_page(i))
        sc = QShortcut(QKeySequence.StandardKey.Find, self)
        sc.activated.connect(self.focus_search)

        self._fit_to_screen()
        self.settings.restore_geometry(self)
        page = self.settings.get("window/page", 0)
        self.show_page(page if 0 <= page < len(PAGES) else 0)
        self._first_overview = True
        QTimer.singleShot(0, self, self.service.changed.emit)
        # load the model at once, in the background: a search typed meanwhile waits for it visibly
        if preload_model:
            QTimer.singleShot(0, self, self.service.load_model)
        try:
            from PySide6.QtGui import QGuiApplication

            QGuiApplication.styleHints().colorSchemeChanged.connect(
                lambda *_: QTimer.singleShot(0, self, self.restyle))
        except (AttributeError, RuntimeError):
            pass

    def restyle(self) -> None:
        """Redraw what holds colours of its own after the system switched light/dark."""
        from hybridsearch.qt.charts import ChartView, HeatmapWidget

        for view in self.findChildren(ChartView):
            view.restyle()
        for hm in self.findChildren(HeatmapWidget):
            hm.update()
        sp = self.search_page
        if sp.results:
            row = sp.list.currentRow()
            sp.set_results(sp.results, sp.last_query, sp.ratings, keep_weak=True)
            sp.list.setCurrentRow(row)

    def _build_menu(self) -> None:
        m = self.menuBar().addMenu("&File")
        a = QAction("&Add folder…", self)
        a.setShortcut(QKeySequence("Ctrl+O"))
        a.triggered.connect(self._add_folder_from_search)
        m.addAction(a)
        a = QAction("&Re-index all folders", self)
        a.triggered.connect(lambda: self.service.index())
        m.addAction(a)
        a = QAction("&Manage trained models…", self)
        a.triggered.connect(self.manage_models)
        m.addAction(a)
        m.addSeparator()
        a = QAction("&Quit", self)
        a.setShortcut(QKeySequence.StandardKey.Quit)
        a.triggered.connect(self.close)
        m.addAction(a)
        e = self.menuBar().addMenu("&Edit")
        a = QAction("&Preferences…", self)
        a.setShortcut(QKeySequence("Ctrl+,"))
        a.triggered.connect(self.show_preferences)
        e.addAction(a)
        v = self.menuBar().addMenu("&Go")
        for i, name in enumerate(PAGES):
            a = QAction(name, self)
            a.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            a.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # the QShortcut above handles it
            a.triggered.connect(lambda _=False, i=i: self.show_page(i))
            v.addAction(a)
        a = QAction("&Find", self)
        a.setShortcut(QKeySequence.StandardKey.Find)
        a.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        a.triggered.connect(self.focus_search)
        v.addAction(a)
        h = self.menuBar().addMenu("&Help")
        a = QAction("&Search tips and shortcuts", self)
        a.setShortcut(QKeySequence.StandardKey.HelpContents)
        a.triggered.connect(self.show_help)
        h.addAction(a)
        a = QAction("&About hybridsearch", self)
        a.triggered.connect(self.show_about)
        h.addAction(a)

    def manage_models(self):
        """The trained-models dialog (rename, delete); the pages' model lists follow its changes."""
        from hybridsearch.qt.manage_models import ManageModelsDialog

        dlg = ManageModelsDialog(in_use=str(self.service.model), parent=self)
        dlg.changed.connect(self.training_page.refresh_models)
        dlg.changed.connect(self.evaluation_page.refresh_models)
        dlg.show()
        return dlg

    # preferences and help -------------------------------------------------------------------------
    def show_preferences(self) -> None:
        from PySide6.QtWidgets import QApplication

        from hybridsearch.qt.preferences import PreferencesDialog, apply

        dlg = PreferencesDialog(self.settings, self)
        if dlg.exec():
            dlg.save()
            self.apply_preferences(QApplication.instance())

    def apply_preferences(self, app) -> None:
        from hybridsearch.qt.preferences import apply

        apply(app, self.settings)
        i = self.search_page.mode.findData(self.settings.get("search/mode", "hybrid"))
        if i >= 0:
            self.search_page.mode.setCurrentIndex(i)
        self.restyle()

    def help_html(self) -> str:
        return HELP_HTML

    def show_help(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.information(self, "Search tips and shortcuts", self.help_html())

    def about_html(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            ver = version("hybridsearch")
        except PackageNotFoundError:
            ver = "development build"
        return (f"<h3>hybridsearch {ver}</h3><p>Multilingual search of the documents on this computer: a "
                "question in one language finds answers in others. Nothing leaves this computer.</p>"
                f"<p>Search model: {self.service.model}</p>")

    def show_about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.about(self, "About hybridsearch", self.about_html())

    # navigation ------------------------------------------------------------------------------------
    def show_page(self, i: int) -> None:
        self.nav.setCurrentRow(i)
        self.stack.setCurrentIndex(i)

    def focus_search(self) -> None:
        self.show_page(0)
        self.search_page.focus_search()

    def _add_folder_from_search(self) -> None:
        self.show_page(1)
        self.library_page.choose_folder()

    # status and errors -----------------------------------------------------------------------------
    def set_status(self, text: str) -> None:
        set_text_now(self.status_label, text)

    def show_error(self, message: str) -> None:
        self.banner.show_message("error", message)
        self.set_status(message if len(message) < 80 else message[:77] + "…")

    def _job_bar(self, on: bool) -> None:
        self.status_progress.setVisible(on)
        self.status_progress.setRange(0, 0)

    def _job_bar_progress(self, p) -> None:
        extra = getattr(p, "extra", {}) or {}
        total = extra.get("files_total", p.total)
        if total:
            self.status_progress.setRange(0, int(total))
            self.status_progress.setValue(int(extra.get("files_done", p.done) or 0))

    def _folders_changed(self, folders: list) -> None:
        if self._first_overview:
            self._first_overview = False
            if folders and self._catch_up and not self.service.busy:
                self.service.index(catch_up=True)  # catch up with changes made while the app was closed
            elif folders:
                self.service.start_watching()
        if not folders:
            self.set_status("No folders yet")

    def _job_finished(self, kind: str, outcome: str, payload) -> None:
        if outcome == "search-only":  # the library is open in another window, which indexes it
            self.banner.show_message("info", str(payload))
        elif kind == "reembed" and outcome == "done":
            self.settings.set("search/model", str(payload))
            self.set_status("Search now uses the new model")

    def use_model(self, model_dir: str) -> None:
        """Re-embed the library with ``model_dir`` in the background, then search with it."""
        if self.service.reembed(model_dir) is not None:
            self.show_page(1)

    def _fit_to_screen(self) -> None:
        """The first window: 1280×800, or less where the screen's free area is smaller (frame and
        panels included), centred, so its status bar is never below the screen's edge."""
        screen = self.screen()
        avail = screen.availableGeometry() if screen is not None else None
        if avail is None or avail.isEmpty():
            self.resize(1280, 800)
            return
        w = min(1280, int(avail.width() * 0.92))
        h = min(800, int(avail.height() * 0.92) - 40)  # room for the title bar a window manager adds
        self.resize(w, h)
        self.move(avail.x() + (avail.width() - w) // 2, avail.y() + max(0, (avail.height() - h - 40) // 2))

    # closing ---------------------------------------------------------------------------------------
    def closeEvent(self, event):  # noqa: N802
        self._closing = True
        self.settings.save_geometry(self)
        self.settings.set("window/page", self.stack.currentIndex())
        self.training_page.save_settings()
        for w in (self.training_page.worker, self.evaluation_page.worker):
            if w is not None and w.running:
                w.cancel()
        self.service.close()
        self.settings.sync()
        super().closeEvent(event)
