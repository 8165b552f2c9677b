"""Search page: type to search (debounced), results grouped by document, filters, open/reveal/copy."""

from __future__ import annotations

import html
import re
from pathlib import Path

from PySide6.QtCore import QEvent, QSize, QStringListModel, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QCompleter, QFrame, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QMenu, QProgressBar, QPushButton, QSplitter, QStackedWidget,
                               QTextBrowser, QToolButton, QVBoxLayout, QWidget)

from hybridsearch.qt import theme
from hybridsearch.qt.library_service import LibraryService
from hybridsearch.qt.widgets import Banner, set_text_now
from hybridsearch.records import place_label

MODES = [("Hybrid", "hybrid", "Meaning and keywords together (recommended)"),
         ("Semantic", "dense", "By meaning: finds answers in other languages"),
         ("Keyword", "lexical", "Exact words only")]
DEBOUNCE_MS = 300
#: the worker lane of the meaning marks in result cards (searches keep their own lane)
MARKS_LANE = "marks"
#: The date filter: (label, days back; None = any time)
DATE_RANGES = [("Any time", None), ("Past day", 1), ("Past week", 7), ("Past month", 31), ("Past year", 365)]
#: How many searches the box offers again (most recent first)
RECENT_MAX = 20


SNIPPET_MARK = "background-color:#ffe066; color:#000000; font-weight:600"


def passage_html(passage, meaning=()) -> str:
    """A passage's excerpt as HTML with the engine's term spans highlighted (never parsed back
    out of HTML) and the ``meaning`` sentences ((start, end) in the excerpt: closest to the query
    by meaning) marked; "…" where the excerpt is cut."""
    snip = getattr(passage, "snippet", None)
    if snip is None:
        return html.escape(passage.text)
    body = mark_meaning(snip.text, snip.spans, meaning, 0, SNIPPET_MARK)
    return ("…" if snip.cut_before else "") + body + ("…" if snip.cut_after else "")


STRENGTH_COLORS = {"strong": "#1b7f3b", "good": "#0b6bb0", "weak": "#8a8a8a"}


def strength_html(rating) -> str:
    """'strong match' / 'good match' / 'weak match' as a small coloured label."""
    color = STRENGTH_COLORS.get(rating.level, "#8a8a8a")
    return f'<span style="color:{color}; font-weight:600">{html.escape(rating.label)}</span>'


def language_name(code: str) -> str:
    """'de' -> 'German' (Qt's own list of languages); unknown codes stay as they are."""
    from PySide6.QtCore import QLocale

    if not code or len(code) > 3:
        return code or "?"
    loc = QLocale(code)
    if loc.language() == QLocale.Language.C:
        return code
    return QLocale.languageToString(loc.language())


def language_label(code: str, documents: int | None = None) -> str:
    """'German (de) · 12 documents' for the Languages filter."""
    name = language_name(code)
    text = f"{name} ({code})" if name != code else code
    if documents is not None:
        text += f" · {documents} document{'s' if documents != 1 else ''}"
    return text


def badge_html(lang: str) -> str:
    bg, fg = theme.badge_colors(lang or "?")
    return (f'<span style="background-color:{bg}; color:{fg}; font-weight:600">&nbsp;{html.escape(lang or "?")}'
            f"&nbsp;</span>")


def open_path(path: str | Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def reveal_path(path: str | Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))


def copy_path(path: str | Path) -> None:
    QGuiApplication.clipboard().setText(str(path))


class ResultCard(QFrame):
    """One document: title, language badge, folder, best passage, score, further passages on demand."""

    toggled = Signal()

    def __init__(self, result, rating=None, parent=None):
        super().__init__(parent)
        self.result = result
        self.rating = rating
        self.expanded = False
        self.setFrameShape(QFrame.Shape.NoFrame)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(2)
        title = result.title or Path(result.path).name
        muted = theme.muted_color().name()
        # \u2068…\u2069 isolate the title, so a right-to-left title does not reorder the line
        kind = html.escape((result.file_type or "").lstrip("."))
        page = getattr(result.best, "page", None)
        if page:  # where the passage is: the PDF page or the slide to turn to
            kind += " · " + place_label(result.file_type, page).replace(" ", "&nbsp;")
        head = QLabel(f'\u200e<span style="font-size:11pt; font-weight:600">\u2068{html.escape(title)}\u2069</span>&nbsp;&nbsp;'
                      f'{badge_html(result.language)}&nbsp;&nbsp;<span style="color:{muted}">{kind}</span>')
        self.head = head
        head.setTextFormat(Qt.TextFormat.RichText)
        head.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        score = QLabel(strength_html(rating) if rating is not None else "")
        score.setToolTip(rating.explain() if rating is not None else "")
        self.strength = score
        score.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row = QHBoxLayout()
        row.addWidget(head, 1)
        row.addWidget(score)
        lay.addLayout(row)
        folder = QLabel(f'\u200e<span style="color:{muted}">{html.escape(str(Path(result.path).parent))}</span>')
        folder.setTextFormat(Qt.TextFormat.RichText)
        folder.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        lay.addWidget(folder)
        #: the excerpt's sentences marked as closest to the query by meaning (added when computed)
        self.meaning: list[str] = []
        self.passage = QLabel(passage_html(result.best))
        self.passage.setTextFormat(Qt.TextFormat.RichText)
        self.passage.setWordWrap(True)
        lay.addWidget(self.passage)
        self.more_box = QWidget()
        more_lay = QVBoxLayout(self.more_box)
        more_lay.setContentsMargins(14, 0, 0, 0)
        for p in result.more or []:
            lab = QLabel("… " + passage_html(p))
            lab.setTextFormat(Qt.TextFormat.RichText)
            lab.setWordWrap(True)
            more_lay.addWidget(lab)
        self.more_box.setVisible(False)
        lay.addWidget(self.more_box)
        self.more_button = None
        if result.more:
            self.more_button = QPushButton(self._more_text())
            self.more_button.setFlat(True)
            self.more_button.setCursor(Qt.CursorShape.PointingHandCursor)
            self.more_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.more_button.setStyleSheet("text-align:left; color:palette(link); padding:0")
            self.more_button.clicked.connect(self.toggle_more)
            lay.addWidget(self.more_button)

    def set_meaning(self, spans) -> None:
        """Mark the excerpt's sentences at ``spans`` ((start, end) in the snippet's text)."""
        snip = self.result.best.snippet
        if snip is None:
            return
        self.meaning = [snip.text[s:e] for s, e in spans]
        self.passage.setText(passage_html(self.result.best, spans))

    def _more_text(self) -> str:
        n = len(self.result.more)
        if self.expanded:
            return "▾ Hide further passages"
        return f"▸ {n} more matching passage{'s' if n != 1 else ''} in this document"

    def toggle_more(self) -> None:
        self.expanded = not self.expanded
        self.more_box.setVisible(self.expanded)
        if self.more_button is not None:
            self.more_button.setText(self._more_text())
        self.toggled.emit()


class MultiSelect(QToolButton):
    """A drop-down of checkable choices; nothing checked means 'all'."""

    changed = Signal()

    def __init__(self, label: str, parent=None):
        super().__init__(parent)
        self.label = label
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_ = QMenu(self)
        self.setMenu(self.menu_)
        self.actions_: dict[str, QAction] = {}
        #: a short name per choice for the button's text (the menu shows the long label)
        self.short: dict[str, str] = {}
        self._refresh_text()

    def set_choices(self, choices: list[str], labels: dict[str, str] | None = None) -> None:
        keep = {k for k, a in self.actions_.items() if a.isChecked()}
        self.menu_.clear()
        self.actions_ = {}
        for c in choices:
            label = (labels or {}).get(c, c)
            self.short[c] = label.split(" (")[0]
            a = QAction(label, self.menu_)
            a.setCheckable(True)
            a.setChecked(c in keep)
            a.toggled.connect(self._toggled)
            self.menu_.addAction(a)
            self.actions_[c] = a
        self.setEnabled(bool(choices))
        self._refresh_text()

    def selected(self) -> list[str] | None:
        sel = [k for k, a in self.actions_.items() if a.isChecked()]
        return sel or None

    def set_selected(self, keys) -> None:
        for k, a in self.actions_.items():
            a.blockSignals(True)
            a.setChecked(k in (keys or []))
            a.blockSignals(False)
        self._refresh_text()

    def _toggled(self, *_):
        self._refresh_text()
        self.changed.emit()

    def _refresh_text(self) -> None:
        sel = self.selected() or []
        if not sel:
            self.setText(f"{self.label}: all")
        elif len(sel) <= 2:
            self.setText(f"{self.label}: " + ", ".join(self.short.get(s) or Path(s).name or s for s in sel))
        else:
            self.setText(f"{self.label}: {len(sel)} selected")


class SearchPage(QWidget):
    """Search box, filters, grouped results on the left; the passage in its document on the right."""

    add_folder_requested = Signal()
    searched = Signal(int)          # number of documents found
    opened = Signal(str)            # path opened

    def __init__(self, service: LibraryService, settings=None, parent=None):
        super().__init__(parent)
        self.service = service
        self.settings = settings
        self.results: list = []
        #: the document viewer last opened (View document)
        self.viewer = None
        #: the sentences of the shown passage marked as closest to the query by meaning
        self.meaning_sentences: list[str] = []
        self.ranked: list = []
        self.library_totals = ""
        self.ratings: list = []
        #: results rated weak, hidden below the good ones until the person asks for them
        self.hidden_weak: list = []
        self._weak_ratings: list = []
        self._request = 0
        self._has_folders = None
        self._documents = 0
        self._indexing = False
        #: a search typed while the model loads runs when it is ready
        self._waiting_for_model = False
        self.last_query = ""
        #: meaning marks in the result cards: computed after the results are shown, for the cards
        #: in view; a newer result list makes older marks stale (its number no longer matches)
        self._marks_gen = 0
        self._marks_asked: set[int] = set()
        self._marks_worker = None

        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 12, 12, 6)
        top = QHBoxLayout()
        self.box = QLineEdit()
        self.box.setPlaceholderText("Search your documents in any language…  (Ctrl+F)")
        self.box.setClearButtonEnabled(True)
        f = self.box.font()
        f.setPointSizeF(f.pointSizeF() * 1.25)
        self.box.setFont(f)
        self.box.setMinimumHeight(34)
        #: recent searches, offered as the person types (and all of them on ↓ in an empty box)
        self.recent_model = QStringListModel(list(settings.get("search/recent", []) or []) if settings else [])
        self.completer = QCompleter(self.recent_model, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.box.setCompleter(self.completer)
        top.addWidget(self.box, 1)
        self.mode = QComboBox()
        for label, key, tip in MODES:
            self.mode.addItem(label, key)
            self.mode.setItemData(self.mode.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.mode.setToolTip("Ranking: hybrid (meaning + keywords), semantic (meaning only), keyword")
        top.addWidget(self.mode)
        self.language_fair = QCheckBox("All languages alike")
        self.language_fair.setChecked(True)
        self.language_fair.setToolTip(
            "Language-fair ranking. On: a passage in your question's own language gets no head start over its translations "
            "(the model's same-language offset), and the search runs a second time from its best "
            "passages, which brings up their translations in other languages.\nOff: one search by "
            "similarity alone, which favours your own language. Keyword search is not affected.")
        top.addWidget(self.language_fair)
        outer.addLayout(top)

        filters = QHBoxLayout()
        self.lang_filter = MultiSelect("Languages")
        self.folder_filter = MultiSelect("Folders")
        self.type_filter = MultiSelect("File types")
        for w in (self.lang_filter, self.folder_filter, self.type_filter):
            filters.addWidget(w)
            w.changed.connect(self.search_now)
        self.date_filter = QComboBox()
        for label, days in DATE_RANGES:
            self.date_filter.addItem(label, days)
        self.date_filter.setToolTip("Only documents changed within this time")
        self.date_filter.currentIndexChanged.connect(lambda _: self.search_now())
        filters.addWidget(self.date_filter)
        self.sort = QComboBox()
        self.sort.addItem("Best match first", "relevance")
        self.sort.addItem("Newest first", "newest")
        self.sort.setToolTip("Order of the results (weak matches stay held back either way)")
        self.sort.currentIndexChanged.connect(lambda _: self._resort())
        filters.addWidget(self.sort)
        self.clear_filters = QPushButton("Clear filters")
        self.clear_filters.setFlat(True)
        self.clear_filters.clicked.connect(self._clear_filters)
        filters.addWidget(self.clear_filters)
        filters.addStretch(1)
        self.summary = QLabel("")
        self.summary.setStyleSheet("color: palette(placeholder-text)")
        filters.addWidget(self.summary)
        outer.addLayout(filters)

        #: what went wrong with the last action on a result ("no application opens …")
        self.banner = Banner()
        outer.addWidget(self.banner)
        #: spelling help: "Did you mean …?" (a link that searches it), or "Showing results for …"
        #: with a link that searches the query as typed
        self.suggested_query: str | None = None
        self.typed_query: str | None = None  # set when the results are for the corrected query
        self._as_typed = ""  # a query the user asked to search as typed, not corrected
        self.suggestion = QLabel("")
        self.suggestion.setTextFormat(Qt.TextFormat.RichText)
        self.suggestion.linkActivated.connect(
            lambda href: self.search_as_typed() if href == "typed" else self.use_suggestion())
        self.suggestion.setVisible(False)
        outer.addWidget(self.suggestion)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack, 1)

        # empty state: no folders
        self.empty_folders = self._empty_state(
            "Your library is empty",
            "Add a folder of documents (PDF, Word, PowerPoint, Excel, text, HTML, e-books…) in any language. "
            "hybridsearch reads and indexes them on this computer; nothing leaves it.",
            "Add a folder…", self.add_folder_requested.emit)
        # empty state: indexing
        self.indexing_state = QWidget()
        il = QVBoxLayout(self.indexing_state)
        il.addStretch(1)
        t = QLabel("<h2>Indexing your documents…</h2>")
        t.setAlignment(Qt.AlignmentFlag.AlignCenter)
        il.addWidget(t)
        self.index_bar = QProgressBar()
        self.index_bar.setMaximumWidth(480)
        self.index_label = QLabel("You can search as soon as the first documents are indexed.")
        self.index_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        il.addWidget(self.index_bar, 0, Qt.AlignmentFlag.AlignHCenter)
        il.addWidget(self.index_label)
        il.addStretch(2)
        # the model is loading: a search typed now waits for it (first start: a few seconds)
        self.loading_state = QWidget()
        ml = QVBoxLayout(self.loading_state)
        ml.addStretch(1)
        t = self.loading_title = QLabel("<h2>Loading the model…</h2>")
        t.setAlignment(Qt.AlignmentFlag.AlignCenter)
        ml.addWidget(t)
        self.loading_bar = QProgressBar()
        self.loading_bar.setRange(0, 0)
        self.loading_bar.setMaximumWidth(320)
        self.loading_bar.setTextVisible(False)
        ml.addWidget(self.loading_bar, 0, Qt.AlignmentFlag.AlignHCenter)
        self.loading_label = QLabel("Your search runs as soon as the model is ready.")
        self.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        ml.addWidget(self.loading_label)
        ml.addStretch(2)
        # empty state: type something
        self.start_state = self._empty_state(
            "Search in any language",
            "Type a question or a few words. Results come from documents in every language of your "
            "library; use the Languages filter to narrow them down.<br><br>"
            "<span style='color:gray'>Ctrl+F search · ↑↓ move through results · Enter open · "
            "Ctrl+1…4 switch pages</span>", None, None)
        # empty state: no results
        self.no_results = self._empty_state("No results", "", "Show the closest anyway", self.show_weak)
        self.no_results_text = self.no_results.findChild(QLabel, "body")
        self.no_results_title = self.no_results.findChild(QLabel, "title")
        self.show_weak_btn = self.no_results.findChild(QPushButton, "emptyAction")
        self.show_weak_btn.setVisible(False)

        # results
        split = QSplitter(Qt.Orientation.Horizontal)
        self.list = QListWidget()
        self.list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSpacing(1)
        self.list.setAlternatingRowColors(True)
        self.list.currentRowChanged.connect(self._show_current)
        self.list.itemDoubleClicked.connect(lambda *_: self.open_current())
        self.list.installEventFilter(self)
        self.list.viewport().installEventFilter(self)
        self._marks_timer = QTimer(self)  # scrolling brings other cards into view: mark them too
        self._marks_timer.setSingleShot(True)
        self._marks_timer.setInterval(150)
        self._marks_timer.timeout.connect(self._request_marks)
        self.list.verticalScrollBar().valueChanged.connect(lambda _: self._marks_timer.start())
        self.list.setStyleSheet(
            "QListWidget::item { border-left: 4px solid transparent; }"
            "QListWidget::item:selected { background: rgba(0, 114, 178, 45); border-left: 4px solid #0072B2; }"
            "QListWidget::item:hover:!selected { background: rgba(0, 114, 178, 18); }")
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(2)
        ll.addWidget(self.list, 1)
        self.weak_btn = QPushButton("")
        self.weak_btn.setFlat(True)
        self.weak_btn.setStyleSheet("text-align:left; color:palette(link); padding:2px 6px")
        self.weak_btn.setToolTip("Documents that match the query only weakly are hidden below the good ones")
        self.weak_btn.clicked.connect(self.show_weak)
        self.weak_btn.setVisible(False)
        ll.addWidget(self.weak_btn)
        split.addWidget(left)
        detail = QWidget()
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(6, 0, 0, 0)
        self.detail_title = QLabel("")
        self.detail_title.setTextFormat(Qt.TextFormat.RichText)
        self.detail_title.setWordWrap(True)
        dl.addWidget(self.detail_title)
        actions = QHBoxLayout()
        self.open_btn = QPushButton("Open")
        self.open_btn.setToolTip("Open with the default application (Enter)")
        self.reveal_btn = QPushButton("Show in folder")
        self.reveal_btn.setToolTip("Open the folder that holds this document (Ctrl+Shift+R)")
        self.view_btn = QPushButton("View document")
        self.view_btn.setToolTip("The whole document with every hit marked, next/previous hit, find (Ctrl+D)")
        self.copy_btn = QPushButton("Copy path")
        self.copy_btn.setToolTip("Copy the file's path (Ctrl+Shift+C)")
        for b in (self.open_btn, self.view_btn, self.reveal_btn, self.copy_btn):
            actions.addWidget(b)
        actions.addStretch(1)
        dl.addLayout(actions)
        self.context_view = QTextBrowser()
        self.context_view.setOpenLinks(False)
        dl.addWidget(self.context_view, 1)
        split.addWidget(detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([700, 500])
        self.results_view = split

        for w in (self.empty_folders, self.indexing_state, self.loading_state, self.start_state, self.no_results,
                  self.results_view):
            self.stack.addWidget(w)
        self.stack.setCurrentWidget(self.start_state)

        self.open_btn.clicked.connect(self.open_current)
        self.reveal_btn.clicked.connect(self.reveal_current)
        self.copy_btn.clicked.connect(self.copy_current)
        self.view_btn.clicked.connect(self.view_current)
        for seq, slot in (("Ctrl+Shift+C", self.copy_current), ("Ctrl+Shift+R", self.reveal_current),
                          ("Ctrl+D", self.view_current),
                          ("Ctrl+M", self.toggle_more_current)):
            sc = QShortcut(QKeySequence(seq), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)

        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.search_now)
        self.box.textChanged.connect(lambda _: self.timer.start())
        self.box.returnPressed.connect(self._enter)
        self.box.installEventFilter(self)
        self.mode.currentIndexChanged.connect(lambda _: self.search_now())
        self.language_fair.toggled.connect(lambda _: self.search_now())
        self._set_actions_enabled(False)

        if settings is not None:
            mode = settings.get("search/mode", "hybrid")
            i = self.mode.findData(mode)
            if i >= 0:
                self.mode.setCurrentIndex(i)
            self.language_fair.setChecked(settings.get("search/language_fair", settings.get("search/even_languages", True)))
        self.language_fair.setEnabled(self.mode.currentData() != "lexical")

        service.changed.connect(self.refresh_filters)
        service.job_started.connect(self._job_started)
        service.job_progress.connect(self._job_progress)
        service.job_finished.connect(self._job_finished)
        service.model_ready.connect(self._model_ready)
        service.model_loading.connect(self._model_loading)
        service.model_failed.connect(self._model_failed)

    # building blocks ----------------------------------------------------------------------------
    def _empty_state(self, title: str, body: str, button: str | None, slot) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addStretch(1)
        t = QLabel(f"<h2>{html.escape(title)}</h2>")
        t.setObjectName("title")
        t.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(t)
        b = QLabel(body)
        b.setObjectName("body")
        b.setWordWrap(True)
        b.setAlignment(Qt.AlignmentFlag.AlignCenter)
        b.setFixedWidth(560)
        row = QHBoxLayout()  # centred without an alignment flag, so the label gets its full height
        row.addStretch(1)
        row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        if button:
            btn = QPushButton(button)
            btn.setObjectName("emptyAction")
            btn.setMinimumWidth(160)
            btn.clicked.connect(slot)
            lay.addWidget(btn, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(2)
        return w

    def focus_search(self) -> None:
        self.box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.box.selectAll()

    # library state ------------------------------------------------------------------------------
    def refresh_filters(self) -> None:
        self.service.overview(self._apply_overview, on_error=lambda msg: None)

    def _apply_overview(self, ov: dict) -> None:
        counts = (ov.get("status") or {}).get("languages") or {}
        langs = list(ov.get("languages") or [])
        self.lang_filter.set_choices(langs, {c: language_label(c, counts.get(c)) for c in langs})
        folders = [str(f.path) for f in ov.get("folders") or []]
        self.folder_filter.set_choices(folders, {f: Path(f).name or f for f in folders})
        self.type_filter.set_choices(list(ov.get("file_types") or []))
        self._has_folders = bool(folders)
        docs = sum(int(getattr(f, "documents", 0) or 0) for f in ov.get("folders") or [])
        self._documents = docs
        self.library_totals = (f"Library: {docs} document{'s' if docs != 1 else ''} in "
                               f"{len(langs)} language{'s' if len(langs) != 1 else ''}" if folders else "")
        if not self.last_query:
            set_text_now(self.summary, self.library_totals)
        elif not folders and self._waiting_for_model:  # nothing to search: no need to wait for the model
            self._waiting_for_model = False
            set_text_now(self.summary, "")
        self._update_state()

    def _update_state(self) -> None:
        if self._has_folders is False and not self._indexing:
            self.stack.setCurrentWidget(self.empty_folders)  # whatever was typed: add a folder first
        elif self._waiting_for_model and self.last_query:
            self.stack.setCurrentWidget(self.loading_state)
        elif self.results:
            self.stack.setCurrentWidget(self.results_view)
        elif self._indexing and not self.last_query and not self._documents:
            # the first indexing; a rescan at start leaves the stored index searchable meanwhile
            self.stack.setCurrentWidget(self.indexing_state)
        elif self.last_query:
            self.stack.setCurrentWidget(self.no_results)
        else:
            self.stack.setCurrentWidget(self.start_state)

    def _job_started(self, kind: str) -> None:
        if kind == "index":
            self._indexing = True
            self.index_bar.setRange(0, 0)
            self._update_state()

    def _job_progress(self, p) -> None:
        from hybridsearch.qt.library_service import progress_text

        extra = getattr(p, "extra", {}) or {}
        total = extra.get("files_total") or p.total
        done = extra.get("files_done", p.done)
        if total:
            self.index_bar.setRange(0, int(total))
            self.index_bar.setValue(int(done or 0))
        self.index_label.setText(progress_text(p, self.service.job_kind) +
                                 "<br>You can search what is already indexed.")

    def _job_finished(self, kind: str, outcome: str, payload) -> None:
        if kind == "index":
            self._indexing = False
            self.refresh_filters()
            if self.last_query:
                self.search_now()
            else:
                self._update_state()

    # searching ----------------------------------------------------------------------------------
    def _enter(self) -> None:
        self.timer.stop()
        self.search_now()

    def current_filters(self) -> dict:
        """The search's keyword arguments; None means the library's default."""
        from datetime import datetime, timedelta

        days = self.date_filter.currentData()
        return {"mode": self.mode.currentData(), "languages": self.lang_filter.selected(),
                "folders": self.folder_filter.selected(), "file_types": self.type_filter.selected(),
                "modified_after": datetime.now() - timedelta(days=days) if days else None,
                "language_offset": None if self.language_fair.isChecked() else 0.0,
                "feedback": self.language_fair.isChecked()}

    def search_now(self) -> None:
        self.timer.stop()
        q = self.box.text().strip()
        self.last_query = q
        if self.settings is not None:
            self.settings.set("search/mode", self.mode.currentData())
            self.settings.set("search/language_fair", self.language_fair.isChecked())
        self.language_fair.setEnabled(self.mode.currentData() != "lexical")
        self._request += 1
        req = self._request
        if not q:
            self.set_results([], "")
            self._set_suggestion(None)
            set_text_now(self.summary, self.library_totals)
            return
        if self._has_folders is False and not self._indexing:
            # nothing to search yet: the empty library says what to do, without waiting for a model
            self._waiting_for_model = False
            self.set_results([], q)
            set_text_now(self.summary, "")
            self.searched.emit(0)
            return
        if self.mode.currentData() != "lexical" and self.service.model_state != "ready":
            # the model is still loading (or failed): wait for it visibly, never race it
            self._waiting_for_model = True
            set_text_now(self.summary, "Loading the model…")
            self.service.load_model()
            self._update_state()
            return
        self._waiting_for_model = False
        set_text_now(self.summary, "Searching…")
        kwargs = {k: v for k, v in self.current_filters().items() if v is not None}
        self.service.search(q, lambda res: self._on_results(req, q, res),
                            on_error=lambda msg: self._on_error(req, msg), k=20,
                            correct=q != self._as_typed, **kwargs)

    def _resort(self) -> None:
        if self.results:
            hidden, hidden_ratings = self.hidden_weak, self._weak_ratings
            self.set_results(self.results, self.last_query, self.ratings, keep_weak=True)
            self.hidden_weak, self._weak_ratings = hidden, hidden_ratings
            self.weak_btn.setVisible(bool(hidden))

    def _model_loading(self) -> None:
        text = self.service.model_state_text()
        self.loading_title.setText(f"<h2>{html.escape(text)}</h2>")
        self.index_label.setText(text)

    def _model_ready(self) -> None:
        if self._waiting_for_model:
            self._waiting_for_model = False
            self.search_now()

    def _model_failed(self, msg: str) -> None:
        if self._waiting_for_model:
            self._waiting_for_model = False
            self.set_results([], self.last_query)
            self.no_results_text.setText("<b>The search model could not be loaded.</b><br>"
                                         f"{html.escape(msg)}<br>Keyword search still works.")
            set_text_now(self.summary, "Model not loaded")
            self.searched.emit(-1)

    def _on_results(self, req: int, q: str, outcome) -> None:
        if req != self._request:
            return  # an older search finished after a newer one started
        if outcome.corrected:
            self.last_query = outcome.query  # what the results, their marks and highlights are for
        self.set_results(list(outcome.results or []), outcome.query, list(outcome.ratings or []))
        self._set_suggestion(outcome)
        if self.results:
            self.remember(outcome.query)
        self.searched.emit(len(self.results))

    def _set_suggestion(self, outcome=None) -> None:
        """Show the spelling help of a search (``RatedSearch``), or none."""
        self.suggested_query = outcome.suggestion if outcome is not None else None
        self.typed_query = outcome.typed if outcome is not None and outcome.corrected else None
        if self.typed_query:
            self.suggestion.setText(
                f"Showing results for <b><i>{html.escape(outcome.query)}</i></b>. Search instead for "
                f"<a href='typed'>{html.escape(self.typed_query)}</a>")
            self.suggestion.setToolTip("Your query matched nothing well; with this spelling of a word "
                                       "of it that none of your documents holds, it does.")
        elif self.suggested_query:
            self.suggestion.setText(f"Did you mean: <a href='suggestion'><b><i>"
                                    f"{html.escape(self.suggested_query)}</i></b></a>")
            self.suggestion.setToolTip("A word of your query is in none of your documents; "
                                       "this spelling of it is. Click to search with it.")
        self.suggestion.setVisible(bool(self.typed_query or self.suggested_query))

    def use_suggestion(self) -> None:
        """Search with the suggested spelling (it replaces the query in the search box)."""
        if self.suggested_query:
            self.box.setText(self.suggested_query)
            self.search_now()

    def search_as_typed(self) -> None:
        """Search the query as typed, without putting its spelling right."""
        if self.typed_query:
            self._as_typed = self.typed_query
            self.box.setText(self.typed_query)
            self.search_now()

    def remember(self, query: str) -> None:
        """Keep ``query`` among the recent searches (most recent first, no repeats)."""
        recent = [query] + [r for r in self.recent_model.stringList() if r.lower() != query.lower()]
        recent = recent[:RECENT_MAX]
        self.recent_model.setStringList(recent)
        if self.settings is not None:
            self.settings.set("search/recent", recent)

    def recent_searches(self) -> list[str]:
        return self.recent_model.stringList()

    def show_weak(self) -> None:
        """Show the weakly matching documents too (they are hidden by default)."""
        self.set_results(self.results + self.hidden_weak, self.last_query, self.ratings + self._weak_ratings,
                         keep_weak=True)
        self.searched.emit(len(self.results))

    def _on_error(self, req: int, msg: str) -> None:
        if req != self._request:
            return
        self.set_results([], self.last_query)
        self._set_suggestion(None)
        self.no_results_text.setText(f"<b>The search failed.</b><br>{html.escape(msg)}")
        set_text_now(self.summary, "Search failed")
        self.searched.emit(-1)

    def set_results(self, results: list, query: str, ratings: list | None = None,
                    keep_weak: bool = False) -> None:
        """Show ``results`` (with their ``ratings``); weak ones are held back unless ``keep_weak``."""
        ratings = list(ratings) if ratings is not None and len(ratings) == len(results) else [None] * len(results)
        #: every result in the engine's order, weak ones included
        self.ranked = list(results)
        self.hidden_weak, self._weak_ratings = [], []
        if not keep_weak:
            shown = [(r, g) for r, g in zip(results, ratings) if g is None or g.level != "weak"]
            self.hidden_weak = [r for r, g in zip(results, ratings) if g is not None and g.level == "weak"]
            self._weak_ratings = [g for g in ratings if g is not None and g.level == "weak"]
            results, ratings = [r for r, _ in shown], [g for _, g in shown]
        if self.sort.currentData() == "newest" and results:
            order = sorted(range(len(results)), key=lambda i: results[i].modified, reverse=True)
            results, ratings = [results[i] for i in order], [ratings[i] for i in order]
        self.results, self.ratings = results, ratings
        self.list.clear()
        for r, g in zip(results, ratings):
            item = QListWidgetItem()
            card = ResultCard(r, g)
            card.toggled.connect(lambda it=item, c=card: self._resize_item(it, c))
            self.list.addItem(item)
            self.list.setItemWidget(item, card)
            self._resize_item(item, card)
        self._restart_marks()
        self.weak_btn.setVisible(bool(self.hidden_weak) and bool(results))
        self.weak_btn.setText(f"Show {len(self.hidden_weak)} weak match{'es' if len(self.hidden_weak) != 1 else ''}")
        if results:
            set_text_now(self.summary, f"{len(results)} matching document{'s' if len(results) != 1 else ''}")
            self.list.setCurrentRow(0)
        else:
            self.context_view.clear()
            self.detail_title.clear()
            self._set_actions_enabled(False)
            if query:
                sel = self.current_filters()
                filtered = any(sel[k] for k in ("languages", "folders", "file_types", "modified_after"))
                hint = "Try other words"
                if sel["mode"] == "lexical":
                    hint += ", or the Semantic ranking: it matches meaning across languages"
                hint += ", or fewer filters." if filtered else "."
                if self._indexing:
                    hint += "<br>Indexing is still running; more documents will become searchable."
                if self.hidden_weak:
                    self.no_results_title.setText("<h2>No good match</h2>")
                    self.no_results_text.setText(
                        f"No document matches <b>{html.escape(query)}</b> well: the closest "
                        f"{len(self.hidden_weak)} are only weakly related.<br>{hint}")
                    set_text_now(self.summary, "No good match")
                else:
                    self.no_results_title.setText("<h2>No results</h2>")
                    self.no_results_text.setText(f"Nothing matches <b>{html.escape(query)}</b>.<br>{hint}")
                    set_text_now(self.summary, "0 documents")
                self.show_weak_btn.setVisible(bool(self.hidden_weak))
        self._update_state()

    # meaning marks in the cards -------------------------------------------------------------------
    def _restart_marks(self) -> None:
        """New cards: drop the marks still being computed for the old ones, mark the new ones once
        they are laid out (the results are painted first, without waiting for the model)."""
        self._marks_gen += 1
        self._marks_asked = set()
        if self._marks_worker is not None:
            self._marks_worker.cancel()
            self._marks_worker = None
        if self.results:
            QTimer.singleShot(0, self, self._request_marks)

    def _visible_rows(self) -> list[int]:
        area = self.list.viewport().rect()
        rows = [i for i in range(self.list.count())
                if self.list.visualItemRect(self.list.item(i)).intersects(area)]
        return rows or list(range(min(self.list.count(), 5)))  # not laid out yet: the first few

    def _request_marks(self) -> None:
        """Compute the meaning marks of the cards in view that have none yet, off the UI thread."""
        query = self.last_query
        if (not self.results or not query or self.mode.currentData() == "lexical"
                or self.service.model_state != "ready"):
            return
        todo = []
        for row in self._visible_rows():
            card = self.list.itemWidget(self.list.item(row))
            if row in self._marks_asked or card is None or card.result.best.snippet is None:
                continue
            self._marks_asked.add(row)
            todo.append((row, card.result.best.snippet.text))
        if not todo:
            return
        gen = self._marks_gen
        service = self.service

        def job(cancel, report):
            from hybridsearch.lexical import parse_query
            from hybridsearch.sentence_match import best_sentences

            encoder = service.library().encoder
            dense_query = parse_query(query).dense_text
            for row, text in todo:
                cancel.raise_if_cancelled()
                report((gen, row, best_sentences(encoder, dense_query, text)))
            return gen

        from hybridsearch.qt.workers import Worker

        w = Worker(job, lane_name=MARKS_LANE, min_interval_s=0.0, parent=self)
        w.progress.connect(self._apply_marks)
        w.error.connect(lambda msg: None)  # marks are an aid: the cards stay as they are
        w.finished.connect(lambda w=w: self._marks_done(w))
        self._marks_worker = w
        w.start()

    def _marks_done(self, worker) -> None:
        if self._marks_worker is worker:
            self._marks_worker = None
        worker.deleteLater()  # one per result list: not kept for the life of the window

    def _apply_marks(self, payload) -> None:
        gen, row, spans = payload
        if gen != self._marks_gen or not spans:
            return  # marks of an older result list, or nothing to single out
        item = self.list.item(row)
        card = self.list.itemWidget(item) if item is not None else None
        if card is not None:
            card.set_meaning(spans)
            self._resize_item(item, card)

    def _resize_item(self, item: QListWidgetItem, card: ResultCard) -> None:
        width = max(200, self.list.viewport().width() - 8)
        card.setFixedWidth(width)
        h = card.layout().totalHeightForWidth(width)
        if h <= 0:
            h = card.sizeHint().height()
        card.setFixedHeight(h)
        item.setSizeHint(QSize(width, h))

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        QTimer.singleShot(0, self, self._relayout_cards)

    def _relayout_cards(self) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            card = self.list.itemWidget(item)
            if card is not None:
                self._resize_item(item, card)

    # current result -----------------------------------------------------------------------------
    def current(self):
        row = self.list.currentRow()
        return self.results[row] if 0 <= row < len(self.results) else None

    def _set_actions_enabled(self, on: bool) -> None:
        for b in (self.open_btn, self.view_btn, self.reveal_btn, self.copy_btn):
            b.setEnabled(on)

    def _show_current(self, row: int) -> None:
        r = self.current()
        self._set_actions_enabled(r is not None)
        if r is None:
            return
        title = r.title or Path(r.path).name
        self.detail_title.setText(f'<span style="font-size:12pt; font-weight:600">{html.escape(title)}</span> '
                                  f'{badge_html(r.language)}<br><span style="color:gray">{html.escape(str(r.path))}'
                                  "</span>")
        self.context_view.setHtml(f"<p>{passage_html(r.best)}</p><p style='color:gray'>"
                                  "Loading the passage in its document…</p>")
        self.service.context(r, lambda ctx, path=r.path: self._show_context(path, ctx),
                             on_error=lambda msg: self.context_view.append(f"<i>{html.escape(msg)}</i>"),
                             query=self.last_query,
                             by_meaning=self.mode.currentData() != "lexical" and self.service.model_state == "ready")

    def _show_context(self, path, ctx) -> None:
        r = self.current()
        if r is None or r.path != path:
            return
        before, middle, after, spans, meaning = ctx
        a, b = len(before), len(before) + len(middle)
        body = (f"{_para(mark_spans(before, spans, 0))}<a name='hit'></a>"
                f"<span style='background-color:rgba(0,114,178,40); border-left:3px solid #0072B2'>"
                f"{_para(mark_meaning(middle, spans, meaning, a))}</span>{_para(mark_spans(after, spans, b))}")
        self.meaning_sentences = [(before + middle + after)[s:e] for s, e in meaning]
        self.context_view.setHtml(f"<div style='line-height:140%'>{body}</div>")
        self.context_view.scrollToAnchor("hit")

    def open_current(self) -> None:
        r = self.current()
        if r is None:
            return
        if not Path(r.path).exists():
            self._cannot(r.path, "The file is no longer there (moved or deleted since it was indexed)")
        elif open_path(r.path):
            self.banner.hide()
        else:
            self._cannot(r.path, "No application on this computer is set up to open")
        self.opened.emit(str(r.path))

    def reveal_current(self) -> None:
        r = self.current()
        if r is None:
            return
        folder = Path(r.path).parent
        if not folder.is_dir():
            self._cannot(folder, "The folder is no longer there")
        elif reveal_path(r.path):
            self.banner.hide()
        else:
            self._cannot(folder, "No file manager on this computer could be asked to show")

    def view_current(self) -> None:
        """Open the document viewer on the current result (text read on the query lane)."""
        r = self.current()
        if r is None:
            return
        query = self.last_query

        def fn(lib):
            from hybridsearch.qt.library_service import term_spans

            text = lib.document_text(r.path)
            return text, term_spans(text, query)

        def show(res, r=r):
            from hybridsearch.qt.viewer import DocumentViewer

            text, spans = res
            self.viewer = DocumentViewer(r.title or Path(r.path).name, str(r.path), text, spans,
                                         start_at=int(r.best.start), parent=self, page=r.best.page)
            self.viewer.show()
        self.service.call(fn, show, on_error=lambda msg: self.banner.show_message("error", msg))

    def _cannot(self, path, what: str) -> None:
        """Say that opening failed, with the path and a button that copies it."""
        self.banner.show_message("warning", f"{what}: {path}\nCopy the path and open it yourself.",
                                 action=("Copy path", lambda: self._copy_text(str(path))))

    def _copy_text(self, text: str) -> None:
        copy_path(text)
        if hasattr(self.window(), "statusBar"):
            self.window().statusBar().showMessage(f"Copied {text}", 3000)

    def copy_current(self) -> None:
        r = self.current()
        if r is not None:
            copy_path(r.path)
            self.window().statusBar().showMessage(f"Copied {r.path}", 3000) if hasattr(
                self.window(), "statusBar") else None

    def toggle_more_current(self) -> None:
        item = self.list.currentItem()
        card = self.list.itemWidget(item) if item is not None else None
        if card is not None and card.more_button is not None:
            card.toggle_more()

    def _clear_filters(self) -> None:
        for w in (self.lang_filter, self.folder_filter, self.type_filter):
            w.set_selected([])
        self.date_filter.blockSignals(True)
        self.date_filter.setCurrentIndex(0)
        self.date_filter.blockSignals(False)
        self.search_now()

    # keyboard -----------------------------------------------------------------------------------
    def eventFilter(self, obj, event):  # noqa: N802
        if obj is self.list.viewport() and event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self, self._relayout_cards)
        if event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if obj is self.box and key in (Qt.Key.Key_Down, Qt.Key.Key_PageDown) and self.results:
                self.list.setFocus()
                if self.list.currentRow() < 0:
                    self.list.setCurrentRow(0)
                return True
            if obj is self.list:
                if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                    self.open_current()
                    return True
                if key == Qt.Key.Key_Up and self.list.currentRow() <= 0:
                    self.box.setFocus()
                    return True
                if key == Qt.Key.Key_Space:
                    self.toggle_more_current()
                    return True
        return super().eventFilter(obj, event)


MEANING_STYLE = "font-weight:600; text-decoration:underline"


def mark_meaning(text: str, spans, meaning, offset: int = 0, style: str | None = None) -> str:
    """``text`` with keyword ``spans`` highlighted (in ``style``) and the ``meaning`` sentences
    (closest to the query by meaning, in any language) in bold and underlined; offsets count
    from ``offset``."""
    style = style or MARK_STYLE
    out, pos = [], 0
    for s, e in sorted(meaning):
        s, e = max(s - offset, pos), min(e - offset, len(text))
        if e <= s:
            continue
        out.append(mark_spans(text[pos:s], spans, offset + pos, style))
        out.append(f"<span style='{MEANING_STYLE}' title='closest to your question by meaning'>"
                   f"{mark_spans(text[s:e], spans, offset + s, style)}</span>")
        pos = e
    out.append(mark_spans(text[pos:], spans, offset + pos, style))
    return "".join(out)


def _para(text: str) -> str:
    return text.replace("\n\n", "<br><br>").replace("\n", " ")


MARK_STYLE = "background-color:#ffe066; color:#000"


#: Markdown heading marks ("## Winter") are markup, not words: shown as spaces (offsets unchanged)
_MD_HEADING = re.compile(r"(?:(?<=\s)|^)#{1,6}(?=\s)")


def plain_markup(text: str) -> str:
    """``text`` with Markdown heading marks blanked out, character offsets unchanged."""
    return _MD_HEADING.sub(lambda m: " " * len(m.group()), text)


def mark_spans(text: str, spans, offset: int = 0, style: str = MARK_STYLE) -> str:
    """``text`` HTML-escaped, with the ``spans`` (offsets from ``offset`` on) highlighted."""
    text = plain_markup(text)
    out, pos = [], 0
    for s, e in sorted(spans):
        s, e = max(s - offset, pos), min(e - offset, len(text))
        if e <= s:
            continue
        out.append(html.escape(text[pos:s]))
        out.append(f"<span style='{style}'>{html.escape(text[s:e])}</span>")
        pos = e
    out.append(html.escape(text[pos:]))
    return "".join(out)
