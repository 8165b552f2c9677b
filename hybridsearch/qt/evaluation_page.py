"""Evaluation page: pick models and an evaluation file, run in the background, compare in charts."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QMenu, QProgressBar, QPushButton, QSpinBox, QToolButton,
                               QVBoxLayout, QWidget)

from hybridsearch.qt.charts import (METRIC_TITLES, BiasChart, HeatmapWidget, MetricBarsChart, export_report,
                                    legend_html)
from hybridsearch.qt.models import model_label, model_options
from hybridsearch.qt.widgets import Banner
from hybridsearch.encoder import BUNDLED_NAME
from hybridsearch.errors import HybridSearchError
from hybridsearch.progress import Progress
from hybridsearch.records import SUMMARY_KEYS
from hybridsearch.qt.workers import Worker, ensure_model_stack
from trainer.evaluation_run import (HELD_OUT_ARTICLES, evaluate_models, is_xquad_r, load_evaluation_data,
                                    overlap_warning, parse_articles)


class EvaluationPage(QWidget):
    """Models × evaluation file -> per-language bars, cross-lingual heatmap, language-bias charts."""

    evaluated = Signal(dict)
    status = Signal(str)

    def __init__(self, settings=None, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.results: dict[str, dict] = {}
        self.worker: Worker | None = None

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 12, 12, 6)
        top = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Models</b> (tick one or more)"))
        self.models = QListWidget()
        self.models.setMaximumHeight(120)
        self.models.setMinimumWidth(300)
        self.models.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        left.addWidget(self.models)
        top.addLayout(left, 2)
        right = QGridLayout()
        right.addWidget(QLabel("<b>Evaluation file</b>"), 0, 0, 1, 3)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("Parallel QA file, or an XQuAD-R folder")
        right.addWidget(self.path_edit, 1, 0, 1, 2)
        self.choose_btn = QPushButton("File…")
        self.choose_btn.clicked.connect(self._choose_file)
        self.folder_btn = QPushButton("Folder…")
        self.folder_btn.clicked.connect(self._choose_folder)
        fl = QHBoxLayout()
        fl.addWidget(self.choose_btn)
        fl.addWidget(self.folder_btn)
        right.addLayout(fl, 1, 2)
        right.addWidget(QLabel("XQuAD-R articles:"), 3, 0)
        self.articles = QLineEdit(HELD_OUT_ARTICLES)
        self.articles.setToolTip("Which XQuAD-R articles to evaluate on, e.g. 28-35 or 0-3, 7 (all: every article). "
                                 "The bundled model was trained on articles 0-27: 28-35 are held out.")
        self.articles.textChanged.connect(lambda _: self.check_overlap())
        right.addWidget(self.articles, 3, 1)
        right.addWidget(QLabel("Questions (ids) to use:"), 2, 0)
        self.limit = QSpinBox()
        self.limit.setRange(0, 1_000_000)
        self.limit.setSpecialValueText("all")
        self.limit.setToolTip("Evaluate on the first N question ids (0 = all); fewer is faster")
        self.limit.setValue(200)
        right.addWidget(self.limit, 2, 1)
        runrow = QHBoxLayout()
        self.run_btn = QPushButton("Run evaluation")
        self.run_btn.clicked.connect(self.run)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        self.export_btn = QToolButton()
        self.export_btn.setText("Export")
        self.export_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        runrow.addWidget(self.run_btn)
        runrow.addWidget(self.cancel_btn)
        runrow.addWidget(self.export_btn)
        right.addLayout(runrow, 4, 0, 1, 3)
        top.addLayout(right, 3)
        lay.addLayout(top)
        prow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setVisible(False)  # an empty bar before the first run reads as a text field
        self.progress_label = QLabel("Pick models and an evaluation file, then run.")
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.progress_label, 2)
        lay.addLayout(prow)
        self.banner = Banner()
        lay.addWidget(self.banner)
        #: says when the chosen data overlaps a ticked model's training data
        self.overlap = Banner(closable=False)
        lay.addWidget(self.overlap)

        grid = QGridLayout()
        grid.setSpacing(6)
        self.map_chart = MetricBarsChart("map", "Multilingual mAP per query language")
        self.mono_chart = MetricBarsChart("mono_mrr", "Monolingual MRR per language")
        self.cross_chart = MetricBarsChart("cross_mrr", "Cross-lingual MRR per query language")
        self.heatmap = HeatmapWidget()
        self.qlf_chart = MetricBarsChart("qlf_rate", "Language bias: query-language-first rate")
        self.rank_chart = BiasChart()
        heat_box = QWidget()
        hl = QVBoxLayout(heat_box)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.setSpacing(2)
        hrow = QHBoxLayout()
        hrow.addWidget(QLabel("Heatmap of:"))
        self.heat_model = QComboBox()
        self.heat_model.currentIndexChanged.connect(self._show_heatmap)
        hrow.addWidget(self.heat_model, 1)
        hl.addLayout(hrow)
        hl.addWidget(self.heatmap, 1)
        grid.addWidget(self.map_chart, 0, 0)
        grid.addWidget(self.mono_chart, 0, 1)
        grid.addWidget(self.cross_chart, 0, 2)
        grid.addWidget(heat_box, 1, 0)
        grid.addWidget(self.qlf_chart, 1, 1)
        grid.addWidget(self.rank_chart, 1, 2)
        for c in range(3):
            grid.setColumnStretch(c, 1)
        for r in range(2):
            grid.setRowStretch(r, 1)
        #: one legend for every chart of the page (a chart's own is hidden when it would be cut)
        self.legend = QLabel("")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        lay.addWidget(self.legend)
        lay.addLayout(grid, 1)

        self.charts = {"map": self.map_chart, "mono_mrr": self.mono_chart, "cross_mrr": self.cross_chart,
                       "heatmap": self.heatmap, "qlf_rate": self.qlf_chart, "rank_distance": self.rank_chart}
        for c in (self.map_chart, self.mono_chart, self.cross_chart, self.qlf_chart, self.rank_chart):
            c.shared_legend = True
        for name, w in self.charts.items():
            w.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            w.customContextMenuRequested.connect(lambda pos, n=name: self._chart_menu(n, pos))
        menu = QMenu(self)
        for name in self.charts:
            a = QAction(f"Chart “{self._chart_title(name)}” as PNG…", menu)
            a.triggered.connect(lambda _=False, n=name: self.export_chart_dialog(n))
            menu.addAction(a)
        menu.addSeparator()
        a = QAction("All charts as PNG to a folder…", menu)
        a.triggered.connect(self._export_all_dialog)
        menu.addAction(a)
        a = QAction("Report as JSON…", menu)
        a.triggered.connect(lambda: self.export_report_dialog("json"))
        menu.addAction(a)
        a = QAction("Report as CSV…", menu)
        a.triggered.connect(lambda: self.export_report_dialog("csv"))
        menu.addAction(a)
        self.export_btn.setMenu(menu)
        self.export_btn.setEnabled(False)

        self.refresh_models()
        if settings is not None:
            self.path_edit.setText(settings.get("evaluation/path", ""))
            self.limit.setValue(int(settings.get("evaluation/limit", 200)))
            self.articles.setText(settings.get("evaluation/articles", HELD_OUT_ARTICLES))
        self.path_edit.textChanged.connect(lambda _: self.check_overlap())
        self.models.itemChanged.connect(lambda _: self.check_overlap())
        self.check_overlap()

    # models ----------------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        checked = set(self.selected_models())
        if not checked and self.settings is not None:
            checked = set(self.settings.get("evaluation/models", []))
        if not checked:  # the model search uses by default
            names = [name for _, name in model_options()]
            checked = {BUNDLED_NAME if BUNDLED_NAME in names else "base"}
        self.models.clear()
        for label, name in model_options():
            it = QListWidgetItem(label.split(" — ")[0])  # the description is in the tooltip
            it.setData(Qt.ItemDataRole.UserRole, name)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(Qt.CheckState.Checked if name in checked else Qt.CheckState.Unchecked)
            it.setToolTip(f"{label}\n{name}")
            self.models.addItem(it)

    def selected_models(self) -> list[str]:
        out = []
        for i in range(self.models.count()):
            it = self.models.item(i)
            if it.checkState() == Qt.CheckState.Checked:
                out.append(it.data(Qt.ItemDataRole.UserRole))
        return out

    def set_checked(self, names) -> None:
        names = set(names)
        for i in range(self.models.count()):
            it = self.models.item(i)
            it.setCheckState(Qt.CheckState.Checked if it.data(Qt.ItemDataRole.UserRole) in names
                             else Qt.CheckState.Unchecked)

    def add_model(self, name: str, label: str | None = None, checked: bool = True) -> None:
        for i in range(self.models.count()):
            if self.models.item(i).data(Qt.ItemDataRole.UserRole) == name:
                self.models.item(i).setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                return
        it = QListWidgetItem(label or model_label(name))
        it.setData(Qt.ItemDataRole.UserRole, name)
        it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        it.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.models.addItem(it)

    def check_overlap(self) -> None:
        """Warn when the chosen data overlaps a ticked model's training data."""
        path = self.path_edit.text().strip()
        self.articles.setEnabled(bool(path) and is_xquad_r(path))
        if not path:
            self.overlap.hide()
            return
        try:
            articles = parse_articles(self.articles.text()) if is_xquad_r(path) else None
        except HybridSearchError as exc:
            self.overlap.show_message("warning", str(exc))
            return
        models = self.selected_models()
        text = overlap_warning(models, path, articles, {m: model_label(m) for m in models})
        if text:
            self.overlap.show_message("warning", text)
        else:
            self.overlap.hide()

    # files -----------------------------------------------------------------------------------------
    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose an evaluation file", self.path_edit.text() or "",
                                              "QA files (*.jsonl *.json *.csv *.tsv);;All files (*)")
        if path:
            self.path_edit.setText(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose an XQuAD-R folder", self.path_edit.text() or "")
        if path:
            self.path_edit.setText(path)

    # running ---------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.running

    def run(self) -> None:
        if self.running:
            return
        models = self.selected_models()
        path = self.path_edit.text().strip()
        if not models:
            self.banner.show_message("warning", "Tick at least one model to evaluate.")
            return
        if not path:
            self.banner.show_message("warning", "Choose an evaluation file (a parallel QA file or an XQuAD-R "
                                     "folder).")
            return
        limit = self.limit.value()
        try:
            articles = parse_articles(self.articles.text()) if is_xquad_r(path) else None
        except HybridSearchError as exc:
            self.banner.show_message("warning", str(exc))
            return
        if self.settings is not None:
            self.settings.set("evaluation/path", path)
            self.settings.set("evaluation/limit", limit)
            self.settings.set("evaluation/models", models)
            self.settings.set("evaluation/articles", self.articles.text())
        self.banner.hide()
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.progress_label.setText("Reading the evaluation file…")
        self.run_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)

        labels = {m: model_label(m) for m in models}

        def job(cancel, report):
            ensure_model_stack()
            report(Progress("evaluate", 0, None, "Reading the evaluation data…"))
            data = load_evaluation_data(path, articles, limit)
            return evaluate_models(models, data, labels, cancel, report)

        w = Worker(job, lane_name="evaluation", min_interval_s=0.1, parent=self)
        w.progress.connect(self._on_progress)
        w.result.connect(self._on_result)
        w.error.connect(self._on_error)
        w.cancelled.connect(self._on_cancelled)
        w.finished.connect(self._finished)
        self.worker = w.start()
        self.status.emit("Evaluating…")

    def cancel(self) -> None:
        if self.running:
            self.worker.cancel()
            self.progress_label.setText("Cancelling…")

    def _on_progress(self, p) -> None:
        if p.total:
            self.progress.setRange(0, int(p.total))
            self.progress.setValue(int(p.done))
        self.progress_label.setText(p.message or "Evaluating…")
        self.status.emit(f"Evaluating: {p.message}")

    def _on_result(self, results: dict) -> None:
        self.set_results(results)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        n = int(next(iter(results.values())).get("n_queries", 0)) if results else 0
        self.progress_label.setText(f"Done: {len(results)} model{'s' if len(results) != 1 else ''}, "
                                    f"{n} queries each." + "".join("\n" + line for line in language_fair_lines(results)))
        self.status.emit("Evaluation complete")
        self.evaluated.emit(results)

    def _on_error(self, msg: str) -> None:
        exc = self.worker.exception if self.worker is not None else None
        problems = getattr(exc, "problems", None) or []
        extra = "".join(f"<br>line {ln}: {html.escape(str(m))}" for ln, m in problems[:8])
        self.banner.show_message("error", f"<b>The evaluation failed.</b> {html.escape(msg)}{extra}", rich=True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_label.setText("Failed.")
        self.status.emit("Evaluation failed")

    def _on_cancelled(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_label.setText("Cancelled.")
        self.status.emit("Evaluation cancelled")

    def _finished(self) -> None:
        self.run_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)

    # charts ----------------------------------------------------------------------------------------
    def set_results(self, results: dict[str, dict]) -> None:
        """Show ``{model name: flat metrics dict}`` in every chart."""
        self.results = {model_label(k) if Path(str(k)).is_absolute() else k: v for k, v in results.items()}
        for key in SUMMARY_KEYS:
            self.charts[key].set_models(self.results)
        self.legend.setText(legend_html(list(self.results), "unbiased level (bias charts)") if self.results else "")
        self.heat_model.blockSignals(True)
        self.heat_model.clear()
        self.heat_model.addItems(list(self.results))
        self.heat_model.blockSignals(False)
        self.heat_model.setCurrentIndex(len(self.results) - 1)
        self._show_heatmap()
        self.export_btn.setEnabled(bool(self.results))

    def _show_heatmap(self, *_) -> None:
        name = self.heat_model.currentText()
        self.heatmap.set_metrics(self.results.get(name, {}), name)

    def _chart_title(self, name: str) -> str:
        if name == "heatmap":
            return "language × language heatmap"
        return METRIC_TITLES[name][0].lower() + METRIC_TITLES[name][1:]

    def _chart_menu(self, name: str, pos) -> None:
        menu = QMenu(self)
        a = menu.addAction("Save as PNG…")
        a.triggered.connect(lambda: self.export_chart_dialog(name))
        menu.exec(self.charts[name].mapToGlobal(pos))

    def export_chart(self, name: str, path: str | Path) -> bool:
        return self.charts[name].save_png(path)

    def export_chart_dialog(self, name: str) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save chart as PNG", f"{name}.png", "PNG image (*.png)")
        if path:
            ok = self.export_chart(name, path)
            self.status.emit(f"Saved {path}" if ok else f"Could not save {path}")

    def export_all(self, folder: str | Path) -> list[Path]:
        out = []
        Path(folder).mkdir(parents=True, exist_ok=True)
        for name in self.charts:
            p = Path(folder) / f"{name}.png"
            if self.export_chart(name, p):
                out.append(p)
        return out

    def _export_all_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save all charts to")
        if folder:
            files = self.export_all(folder)
            self.status.emit(f"Saved {len(files)} charts to {folder}")

    def export_report(self, path: str | Path) -> Path:
        return export_report(self.results, path)

    def export_report_dialog(self, fmt: str) -> None:
        path, _ = QFileDialog.getSaveFileName(self, f"Save report as {fmt.upper()}", f"evaluation.{fmt}",
                                              f"{fmt.upper()} (*.{fmt})")
        if path:
            try:
                self.export_report(path)
                self.status.emit(f"Saved {path}")
            except OSError as exc:
                self.banner.show_message("error", f"Could not save the report: {exc}")


def language_fair_lines(results: dict[str, dict]) -> list[str]:
    """One line per model with its figures ranked language-fair, as search ranks (its same-language
    offset, cross-language feedback): mAP and the query-language-first rate."""
    def how(m):
        parts = [f"offset {m['language_offset']:.4g}"] if m.get("language_offset") else []
        return ", ".join(parts + ["feedback"] * bool(m.get("feedback")))

    return [f"{model_label(k) if Path(str(k)).is_absolute() else k} language-fair ({how(m)}): mAP "
            f"{m['map_language_fair']:.3f}, the query's language first {m['qlf_rate_language_fair']:.0%} of the time"
            for k, m in results.items() if "map_language_fair" in m]
