"""Library page: folders with their counts, unreadable files, indexing with progress and cancel."""

from __future__ import annotations

import html
import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QMessageBox,
                               QProgressBar,
                               QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from hybridsearch.qt.library_service import LibraryService, format_eta, progress_text
from hybridsearch.qt.widgets import Banner, heading

FOLDER_COLUMNS = ["Folder", "Documents", "Chunks", "Languages", "Last update", "Unreadable"]


def _ro(text, align_right: bool = False, tip: str = "") -> QTableWidgetItem:
    it = QTableWidgetItem(str(text))
    it.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
    if align_right:
        it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if tip:
        it.setToolTip(tip)
    return it


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class LibraryPage(QWidget):
    """Folders table, indexing progress with cancel, and the files that could not be read."""

    folders_changed = Signal(list)   # folder paths

    def __init__(self, service: LibraryService, settings=None, parent=None):
        super().__init__(parent)
        self.service = service
        self.settings = settings
        self.folder_infos = []
        self.failed = []
        self._last_live_refresh = 0.0

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 12, 12, 6)
        bar = QHBoxLayout()
        self.add_btn = QPushButton("Add folder…")
        self.add_btn.setToolTip("Add a folder of documents and index it (Ctrl+O)")
        self.remove_btn = QPushButton("Remove folder")
        self.remove_btn.setToolTip("Remove the selected folder from the library (the files stay on disk)")
        self.reindex_btn = QPushButton("Re-index")
        self.reindex_btn.setToolTip("Bring the selected folder (or all folders) up to date")
        for b in (self.add_btn, self.remove_btn, self.reindex_btn):
            bar.addWidget(b)
        bar.addStretch(1)
        self.totals = QLabel("")
        bar.addWidget(self.totals)
        lay.addLayout(bar)

        self.banner = Banner()
        lay.addWidget(self.banner)

        prog = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m files")
        self.progress_label = QLabel("")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop indexing; the next run continues where it stopped")
        self.cancel_btn.clicked.connect(self.service.cancel_job)
        prog.addWidget(self.progress, 2)
        prog.addWidget(self.progress_label, 3)
        prog.addWidget(self.cancel_btn)
        self.progress_row = QWidget()
        self.progress_row.setLayout(prog)
        self.progress_row.setVisible(False)
        lay.addWidget(self.progress_row)

        split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(heading("Folders"))
        self.table = QTableWidget(0, len(FOLDER_COLUMNS))
        self.table.setHorizontalHeaderLabels(FOLDER_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, len(FOLDER_COLUMNS)):
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        tl.addWidget(self.table)
        self.empty_label = QLabel("No folders yet. Click <b>Add folder…</b> to choose a folder of documents; "
                                  "it is indexed right away and kept up to date while the app is open.")
        self.empty_label.setWordWrap(True)
        tl.addWidget(self.empty_label)
        split.addWidget(top)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        self.failed_title = heading("Files that could not be read")
        bl.addWidget(self.failed_title)
        self.failed_table = QTableWidget(0, 2)
        self.failed_table.setHorizontalHeaderLabels(["File", "Reason"])
        self.failed_table.verticalHeader().setVisible(False)
        self.failed_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        fh = self.failed_table.horizontalHeader()
        fh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        fh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        fh.resizeSection(0, 420)
        bl.addWidget(self.failed_table)
        split.addWidget(bottom)
        split.setSizes([420, 220])
        lay.addWidget(split, 1)
        self.model_label = QLabel("")
        self.model_label.setStyleSheet("color: palette(placeholder-text)")
        self.model_label.setWordWrap(True)
        lay.addWidget(self.model_label)

        self.add_btn.clicked.connect(self.choose_folder)
        self.remove_btn.clicked.connect(lambda: self.remove_selected())
        self.reindex_btn.clicked.connect(self.reindex_selected)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        service.changed.connect(self.refresh)
        service.job_started.connect(self._job_started)
        service.job_progress.connect(self._job_progress)
        service.job_finished.connect(self._job_finished)
        service.model_ready.connect(self._model_ready)
        self._selection_changed()
        self._update_empty()

    # actions ---------------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        if not self.service.writable():
            return  # no folder dialog for a folder this window cannot add
        start = str(Path.home())
        if self.settings is not None:
            start = self.settings.get("library/last_dir", start) or start
        path = QFileDialog.getExistingDirectory(self, "Add a folder of documents", start)
        if path:
            self.add_folder(path)

    def add_folder(self, path: str) -> None:
        if self.settings is not None:
            self.settings.set("library/last_dir", str(Path(path).parent))
            last = [p for p in self.settings.get("library/folders", []) if p != str(path)]
            self.settings.set("library/folders", [str(path)] + last[:19])
        if self.service.add_folder(path) is None:
            self.banner.show_message("warning", f"Please wait until {self.service.job_kind_text()} finishes, "
                                     "then add the folder again.")

    def selected_folder(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        r = rows[0].row()
        return self.folder_infos[r].path if 0 <= r < len(self.folder_infos) else None

    def remove_selected(self, confirm: bool = True) -> None:
        path = self.selected_folder()
        if path is None:
            return
        if confirm and QMessageBox.question(
                self, "Remove folder", f"Remove {path} from the library?\n\nIts documents disappear from "
                "search results; the files themselves stay on disk.") != QMessageBox.StandardButton.Yes:
            return
        self.banner.show_message("info", f"Removing {path} from the library (your files stay on disk)…")
        self.service.remove_folder(path, on_done=lambda: self.banner.show_message(
            "success", f"Removed {path} from the library."))

    def reindex_selected(self) -> None:
        path = self.selected_folder()
        if self.service.index([path] if path else None) is None:
            self.banner.show_message("warning", f"Please wait until {self.service.job_kind_text()} finishes.")

    # display ---------------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.service.overview(self._apply, on_error=lambda msg: self.banner.show_message("error", msg))

    def _apply(self, ov: dict) -> None:
        keep = self.selected_folder()
        self.folder_infos = list(ov.get("folders") or [])
        self.failed = list(ov.get("failed") or [])
        self.table.setRowCount(len(self.folder_infos))
        for r, f in enumerate(self.folder_infos):
            langs = sorted((f.languages or {}).items(), key=lambda kv: -kv[1])
            lang_text = " ".join(k for k, _ in langs[:10]) + (f" +{len(langs) - 10}" if len(langs) > 10 else "")
            last = f.last_indexed.strftime("%Y-%m-%d %H:%M") if f.last_indexed else "not yet"
            self.table.setItem(r, 0, _ro(f.path, tip=f.path))
            self.table.setItem(r, 1, _ro(f.documents, True))
            self.table.setItem(r, 2, _ro(f.chunks, True))
            self.table.setItem(r, 3, _ro(lang_text or "—", tip=", ".join(f"{k}: {v} documents" for k, v in langs)))
            self.table.setItem(r, 4, _ro(last))
            self.table.setItem(r, 5, _ro(f.failed, True))
            if f.path == keep:
                self.table.selectRow(r)
        st = ov.get("status") or {}
        docs = sum(f.documents for f in self.folder_infos)
        chunks = sum(f.chunks for f in self.folder_infos)
        n_langs = len(ov.get("languages") or [])
        self.totals.setText(" · ".join(_count(n, w) for n, w in ((len(self.folder_infos), "folder"),
                                                                 (docs, "document"), (chunks, "chunk"),
                                                                 (n_langs, "language")))
                            if self.folder_infos else "")
        model = st.get("model_name") or self.service.model
        health = st.get("health", "ok")
        text = f"Library: {st.get('root', '')} · model: {model}"
        if health and health != "ok":
            text += f" · index: {health}"
        self.model_label.setText(text)
        if st.get("model_mismatch"):
            self.banner.show_message("warning", "The index was built with another model than the one in use. "
                                     "Use “Use this model for search” on the Training page, or re-index.")
        self._fill_failed()
        self._update_empty()
        self.folders_changed.emit([f.path for f in self.folder_infos])

    def _fill_failed(self) -> None:
        sel = self.selected_folder()
        rows = [f for f in self.failed if sel is None or f.folder == sel]
        self.failed_table.setRowCount(len(rows))
        for r, f in enumerate(rows):
            self.failed_table.setItem(r, 0, _ro(Path(f.path).name, tip=f.path))
            self.failed_table.setItem(r, 1, _ro(f.reason, tip=f.reason))
        scope = f" in {Path(sel).name}" if sel else ""
        self.failed_title.setText(f"<b>Files that could not be read{html.escape(scope)}: {len(rows)}</b>"
                                  if rows else f"<b>Files that could not be read{html.escape(scope)}: none</b>")

    def _update_empty(self) -> None:
        empty = not self.folder_infos
        self.empty_label.setVisible(empty)
        self.table.setVisible(not empty)

    def _selection_changed(self) -> None:
        sel = self.selected_folder()
        writable = not self.service.search_only
        self.remove_btn.setEnabled(sel is not None and not self.service.busy and writable)
        self.add_btn.setEnabled(writable)
        self.reindex_btn.setEnabled(writable and not self.service.busy)
        if not writable:
            for b in (self.add_btn, self.remove_btn, self.reindex_btn):
                b.setToolTip("The library is open in another hybridsearch window, which indexes it; "
                             "this window searches only")
        self.reindex_btn.setText("Re-index folder" if sel else "Re-index all")
        self._fill_failed()

    # job progress ----------------------------------------------------------------------------------
    def _job_started(self, kind: str) -> None:
        self.banner.hide()  # the last run's outcome is stale once another runs
        self.progress_row.setVisible(True)
        self.progress.setRange(0, 0)
        waiting = self.service.model_state_text() if kind != "reembed" else ""
        self.progress_label.setText(waiting or ("Re-embedding the library…" if kind == "reembed" else
                                                "Scanning folders…"))
        self.cancel_btn.setEnabled(True)
        self.reindex_btn.setEnabled(False)
        self.remove_btn.setEnabled(False)

    def _model_ready(self) -> None:
        text = self.progress_label.text()
        if self.service.busy and (text == "Loading the model…" or text.startswith("Preparing the model")):
            self.progress_label.setText("Scanning folders…")

    def _job_progress(self, p) -> None:
        extra = getattr(p, "extra", {}) or {}
        total = extra.get("files_total", p.total)
        done = extra.get("files_done", p.done)
        self.progress.setFormat("%v / %m files" if "files_total" in extra else "%v / %m")
        if total:
            self.progress.setRange(0, int(total))
            self.progress.setValue(int(done or 0))
        self.progress_label.setText(progress_text(p, self.service.job_kind))
        now = time.monotonic()
        if now - self._last_live_refresh > 2.0:  # counts grow while indexing runs
            self._last_live_refresh = now
            self.refresh()

    def _job_finished(self, kind: str, outcome: str, payload) -> None:
        self.progress_row.setVisible(False)
        self.reindex_btn.setEnabled(True)
        self._selection_changed()
        if outcome == "failed":
            self.banner.show_message("error", f"{'Re-embedding' if kind == 'reembed' else 'Indexing'} failed: "
                                     f"{payload}")
        elif outcome == "search-only":  # the window's banner says why; only searching is offered here
            self.banner.hide()
        elif outcome == "cancelled" or getattr(payload, "cancelled", False):
            self.banner.show_message("info", "Indexing was cancelled. What was indexed stays searchable; "
                                     "“Re-index” continues where it stopped.")
        elif kind == "index" and payload is not None:
            r = payload
            msg = (f"Index up to date: {r.added} added, {r.updated} updated, {r.removed} removed "
                   f"({format_eta(r.seconds)}).")
            if r.failed:
                msg += (f" {r.failed} file{'s' if r.failed != 1 else ''} could not be read this time; "
                        "every unreadable file is listed below with the reason.")
            self.banner.show_message("success" if not r.failed else "warning", msg)
        elif kind == "reembed":
            self.banner.show_message("success", "The library now uses the new model.")
        self.refresh()
