"""Charts that read only the flat metrics dict of an evaluation (and live training curves).

Metric keys (see ``trainer.evaluate``): overall ``map``, ``mono_mrr``, ``cross_mrr``,
``rank_distance``, ``qlf_rate``...; per query language ``{lang}_map``, ``{lang}_mono_mrr``,
``{lang}_cross_mrr``, ``{lang}_rank_distance``, ``{lang}_qlf_rate``; the matrix ``{x}_{y}_mrr``.
Languages are derived from the keys, never passed separately.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from PySide6.QtCharts import (QBarCategoryAxis, QBarSeries, QBarSet, QChart, QChartView, QLineSeries,
                              QValueAxis)
from PySide6.QtCore import QMargins, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QApplication, QSizePolicy, QWidget

from hybridsearch.qt import theme
from hybridsearch.records import SUMMARY_KEYS

PER_LANG_SUFFIXES = (*SUMMARY_KEYS, "mono_r1", "mono_r10", "cross_r1", "cross_r10")
METRIC_TITLES = {
    "map": "Multilingual mAP",
    "mono_mrr": "Monolingual MRR",
    "cross_mrr": "Cross-lingual MRR",
    "rank_distance": "Rank distance",
    "qlf_rate": "Query-language-first rate",
}



def add_unbiased_line(chart, ax, ay, ref: float, n_categories: int, label: str) -> None:
    """The dashed "unbiased (label)" level ``ref`` across a bar chart of ``n_categories`` bars."""
    line = QLineSeries()
    line.setName(f"unbiased ({label})")
    line.append(-0.5, ref)
    line.append(n_categories - 0.5, ref)
    pen = QPen(QColor("#D55E00"))
    pen.setWidthF(2.0)
    pen.setStyle(Qt.PenStyle.DashLine)
    line.setPen(pen)
    chart.addSeries(line)
    line.attachAxis(ax)
    line.attachAxis(ay)

def metric_languages(metrics: dict) -> list[str]:
    """Query languages present in ``metrics`` (from ``{lang}_map`` / ``{lang}_mono_mrr`` keys)."""
    langs = set()
    for key in metrics:
        for suffix in SUMMARY_KEYS:
            if key.endswith("_" + suffix):
                lang = key[: -len(suffix) - 1]
                if lang and lang not in ("mono", "cross") and "_" not in lang:
                    langs.add(lang)
    return sorted(langs)


def matrix_languages(metrics: dict) -> tuple[list[str], list[str]]:
    """(query languages, pool languages) of the ``{x}_{y}_mrr`` matrix."""
    qs, ps = set(), set()
    known = set(metric_languages(metrics))
    for key in metrics:
        if not key.endswith("_mrr"):
            continue
        parts = key[:-4].split("_")
        if len(parts) == 2 and parts[0] not in ("mono", "cross") and parts[1] not in ("mono", "cross"):
            if not known or (parts[0] in known):
                qs.add(parts[0])
                ps.add(parts[1])
    return sorted(qs), sorted(ps)


def unbiased_level(metric: str, metrics: dict) -> float | None:
    """The reference level: 1/languages for qlf_rate (no preference for the query's language);
    languages−1 for rank distance (all translations of the answer ranked together at the top)."""
    n = metrics.get("n_languages") or len(metric_languages(metrics))
    if metric == "qlf_rate":
        return 1.0 / n if n else None
    if metric == "rank_distance":
        return float(n - 1) if n else None
    return None


#: Exported charts are drawn afresh at this size (print resolution), not grabbed from the screen.
EXPORT_SIZE = QSize(1800, 1100)


def _render_offscreen(widget: QWidget, size: QSize, path: str | Path) -> bool:
    """Lay ``widget`` out at ``size`` without showing it and save it as a PNG."""
    widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    widget.resize(size)
    widget.show()
    QApplication.processEvents()
    if hasattr(widget, "fit_to_size"):
        widget.fit_to_size()
        QApplication.processEvents()
    pix = widget.grab()
    pix.setDevicePixelRatio(1.0)
    ok = pix.save(str(path), "PNG")
    widget.close()
    widget.deleteLater()
    return ok


def legend_html(names: list[str], reference: str | None = None) -> str:
    """One legend for a page of charts: a coloured square per model, in series order."""
    parts = [f'<span style="color:{theme.series_color(i).name()}">■</span>&nbsp;{n}' for i, n in enumerate(names)]
    if reference:
        parts.append(f'<span style="color:#D55E00">- - -</span>&nbsp;{reference}')
    return "&nbsp;&nbsp;&nbsp;".join(parts)


def _num(value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(v) else v


def _style_chart(chart: QChart, title: str) -> None:
    chart.setTheme(QChart.ChartTheme.ChartThemeDark if theme.is_dark() else QChart.ChartTheme.ChartThemeLight)
    chart.setTitle(title)
    f = QFont(chart.titleFont())
    f.setPointSizeF(max(9.0, f.pointSizeF()))
    f.setBold(True)
    chart.setTitleFont(f)
    chart.setMargins(QMargins(4, 4, 4, 4))
    chart.setBackgroundRoundness(0)
    chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)


class ChartView(QChartView):
    """A QChartView that can be exported and says when it has nothing to show."""

    def __init__(self, title: str = "", parent=None, short_title: str | None = None, **attrs):
        super().__init__(parent)
        # PySide objects must be initialised before Python attributes are set on them.
        for k, v in attrs.items():
            setattr(self, k, v)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumSize(QSize(200, 180))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._title = title
        #: the title used when the long one does not fit the chart's width
        self._short_title = short_title or title
        #: True when the page shows a legend for all charts: this one may then hide its own
        self.shared_legend = False
        self.legend_fits = True
        self.empty_text = "No data yet"
        self.reset()

    def reset(self) -> QChart:
        chart = QChart()
        _style_chart(chart, self._title)
        old = getattr(self, "_chart", None)
        self.setChart(chart)
        # Keep Python references: the view does not own its chart in PySide, and the chart's
        # series and axes must outlive this call.
        self._chart = chart
        self._old_chart = old
        return chart

    def has_data(self) -> bool:
        return any(s.count() if hasattr(s, "count") else True for s in self.chart().series())

    def resizeEvent(self, event):  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.fit_to_size()

    def fit_to_size(self) -> None:
        """Keep every label readable at the chart's size: smaller fonts when narrow, the short
        title when the long one does not fit, category labels turned upright when crowded."""
        chart = self.chart()
        w = max(1, self.width())
        pt = 7.5 if w < 340 else 8.0 if w < 520 else 9.0
        tf = QFont(chart.titleFont())
        tf.setPointSizeF(pt + 1)
        chart.setTitleFont(tf)
        chart.setTitle(self._title if QFontMetrics(tf).horizontalAdvance(self._title) < w - 48 else self._short_title)
        legend = chart.legend()
        lf = QFont(legend.font())
        lf.setPointSizeF(pt)
        legend.setFont(lf)
        # a legend too wide for one row would be cut to "hybrid-e5…": hide it; the page shows one
        # legend for all its charts (see ``legend_html``), and exports have room for it
        names = [m.label() for m in legend.markers()]
        need = sum(QFontMetrics(lf).horizontalAdvance(n) + 34 for n in names)
        self.legend_fits = need < w - 16
        legend.setVisible(self.legend_fits or not self.shared_legend)
        plot_w = chart.plotArea().width() if chart.plotArea().width() > 10 else w - 70
        for ax in chart.axes():
            f = QFont(ax.labelsFont())
            f.setPointSizeF(pt)
            ax.setLabelsFont(f)
            at = QFont(ax.titleFont())
            at.setPointSizeF(pt)
            ax.setTitleFont(at)
            ax.setTruncateLabels(False)  # "…" for "en" tells nobody anything; turn or shrink instead
            if isinstance(ax, QBarCategoryAxis) and ax.count():
                widest = max(QFontMetrics(f).horizontalAdvance(c) for c in ax.categories()) + 8
                ax.setLabelsAngle(-90 if widest > plot_w / ax.count() else 0)

    def export_copy(self) -> "ChartView":
        """A new chart of the same kind with the same data (for export at print size)."""
        raise NotImplementedError

    def save_png(self, path: str | Path, size: QSize = EXPORT_SIZE) -> bool:
        """Save at print resolution (``size``, 1800×1100 px): the chart is laid out afresh at that size."""
        try:
            copy = self.export_copy()
        except NotImplementedError:
            return self.grab().save(str(path), "PNG")
        return _render_offscreen(copy, size, path)

    def restyle(self) -> None:
        """Follow a light/dark change (subclasses redraw their data with the new colours)."""
        self.chart().setTheme(QChart.ChartTheme.ChartThemeDark if theme.is_dark()
                              else QChart.ChartTheme.ChartThemeLight)

    def paintEvent(self, event):  # noqa: N802 - Qt override
        super().paintEvent(event)
        if not self.chart().series():
            p = QPainter(self.viewport())
            p.setPen(theme.muted_color())
            # wrapped inside the chart, so a narrow chart shows the whole sentence, not its middle
            p.drawText(self.viewport().rect().adjusted(16, 0, -16, 0),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty_text)
            p.end()


class MetricBarsChart(ChartView):
    """Per-language bars of one metric, one bar set per model, with an 'all' group for the overall value."""

    def __init__(self, metric: str, title: str | None = None, parent=None, short_title: str | None = None):
        super().__init__(title or METRIC_TITLES.get(metric, metric), parent,
                         short_title=short_title or METRIC_TITLES.get(metric, metric), metric_key=metric)
        self.models: dict[str, dict] = {}

    def export_copy(self) -> "MetricBarsChart":
        c = MetricBarsChart(self.metric_key, self._title, short_title=self._short_title)
        c.set_models(self.models)
        return c

    def set_models(self, models: dict[str, dict]) -> None:
        self.models = dict(models)
        chart = self.reset()
        if not models:
            return
        langs = sorted(set().union(*(metric_languages(m) for m in models.values())))
        cats = langs + ["all"]
        series = QBarSeries()
        top = 0.0
        ref = None
        for i, (name, metrics) in enumerate(models.items()):
            bs = QBarSet(name)
            bs.setColor(theme.series_color(i))
            bs.setBorderColor(theme.series_color(i))
            for lang in langs:
                v = _num(metrics.get(f"{lang}_{self.metric_key}"))
                bs.append(v)
                top = max(top, v)
            v = _num(metrics.get(self.metric_key))
            bs.append(v)
            top = max(top, v)
            series.append(bs)
            ref = ref if ref is not None else unbiased_level(self.metric_key, metrics)
        series.setBarWidth(0.8)
        chart.addSeries(series)
        ax = QBarCategoryAxis()
        ax.append(cats)
        ay = QValueAxis()
        hi = 1.0 if top <= 1.0 else math.ceil(top * 1.1)
        ay.setRange(0.0, hi)
        ay.setLabelFormat("%.2f" if hi <= 1.0 else "%.0f")
        ay.setTickCount(6)
        chart.addAxis(ax, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(ay, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(ax)
        series.attachAxis(ay)
        if ref is not None and self.metric_key == "qlf_rate":
            add_unbiased_line(chart, ax, ay, ref, len(cats), f"{ref:.2f}")
        series.hovered.connect(self._hovered)
        self._cats = cats
        self.fit_to_size()
        self.viewport().update()  # the "No data yet" text must not stay painted behind the bars

    def restyle(self) -> None:
        self.set_models(self.models)

    def _hovered(self, status: bool, index: int, barset: QBarSet) -> None:
        if status:
            self.setToolTip(f"{barset.label()} · {self._cats[index]}: {barset.at(index):.3f}")
        else:
            self.setToolTip("")

    def values(self) -> dict[str, list[float]]:
        """Bar values per model as shown (for tests and export)."""
        out = {}
        for s in self.chart().series():
            if isinstance(s, QBarSeries):
                for bs in s.barSets():
                    out[bs.label()] = [bs.at(i) for i in range(bs.count())]
        return out


class BiasChart(ChartView):
    """Language bias per query language: rank distance between the best- and worst-ranked
    translation of the answer, with the ideal level (languages − 1) marked."""

    def __init__(self, parent=None):
        super().__init__("Language bias: rank distance (lower = better)", parent,
                         short_title="Rank distance (lower = better)")
        self.models: dict[str, dict] = {}

    def export_copy(self) -> "BiasChart":
        c = BiasChart()
        c.set_models(self.models)
        return c

    def restyle(self) -> None:
        self.set_models(self.models)

    def set_models(self, models: dict[str, dict]) -> None:
        self.models = dict(models)
        chart = self.reset()
        if not models:
            return
        langs = sorted(set().union(*(metric_languages(m) for m in models.values())))
        cats = langs + ["all"]
        series = QBarSeries()
        lo, hi = 0.0, 0.0
        for i, (name, metrics) in enumerate(models.items()):
            bs = QBarSet(name)
            bs.setColor(theme.series_color(i))
            bs.setBorderColor(theme.series_color(i))
            for key in [f"{lang}_rank_distance" for lang in langs] + ["rank_distance"]:
                v = _num(metrics.get(key))
                bs.append(v)
                lo, hi = min(lo, v), max(hi, v)
            series.append(bs)
        chart.addSeries(series)
        ref = unbiased_level("rank_distance", next(iter(models.values()))) or 0.0
        hi = max(hi, ref)
        ax = QBarCategoryAxis()
        ax.append(cats)
        ay = QValueAxis()
        pad = max(0.5, (hi - lo) * 0.1)
        ay.setRange(min(0.0, lo - (pad if lo < 0 else 0)), hi + pad)
        ay.applyNiceNumbers()
        ay.setLabelFormat("%.0f" if hi > 5 else "%.1f")
        chart.addAxis(ax, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(ay, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(ax)
        series.attachAxis(ay)
        add_unbiased_line(chart, ax, ay, ref, len(cats), f"{ref:g}")
        self.fit_to_size()
        self.viewport().update()


class CurveChart(ChartView):
    """Live line chart: ``add_point(name, x, y)`` appends to (or creates) the named curve."""

    def __init__(self, title: str, x_title: str = "step", y_title: str = "", parent=None,
                 short_title: str | None = None):
        super().__init__(title, parent, short_title=short_title, _x_title=x_title, _y_title=y_title)

    def export_copy(self) -> "CurveChart":
        c = CurveChart(self._title, self._x_title, self._y_title, short_title=self._short_title)
        for name in self.names():
            for x, y in self.points(name):
                c.add_point(name, x, y)
        return c

    def reset(self) -> QChart:
        chart = super().reset()
        self._series: dict[str, QLineSeries] = {}
        self._ax = QValueAxis()
        self._ax.setTitleText(self._x_title)
        self._ax.setLabelFormat("%d")
        self._ay = QValueAxis()
        self._ay.setTitleText(self._y_title)
        chart.addAxis(self._ax, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self._ay, Qt.AlignmentFlag.AlignLeft)
        self._bounds = None
        return chart

    def add_point(self, name: str, x: float, y: float) -> None:
        if y is None or (isinstance(y, float) and math.isnan(y)):
            return
        s = self._series.get(name)
        if s is None:
            s = QLineSeries()
            s.setName(name)
            pen = QPen(theme.series_color(len(self._series)))
            pen.setWidthF(2.0)
            s.setPen(pen)
            self.chart().addSeries(s)
            s.attachAxis(self._ax)
            s.attachAxis(self._ay)
            self._series[name] = s
            self.fit_to_size()
            self.viewport().update()  # the "No data yet" text must not stay painted behind the curve
        s.append(float(x), float(y))
        if self._bounds is None:
            self._bounds = [x, x, y, y]
        b = self._bounds
        b[0], b[1], b[2], b[3] = min(b[0], x), max(b[1], x), min(b[2], y), max(b[3], y)
        self._ax.setRange(b[0], max(b[1], b[0] + 1))
        span_x = max(1.0, b[1] - b[0])
        step = 1.0
        while span_x / step > 6:  # whole-number ticks, at most ~6 of them
            step *= 2 if str(int(step))[0] in "15" else 2.5
        self._ax.setTickType(QValueAxis.TickType.TicksDynamic)
        self._ax.setTickAnchor(0.0)
        self._ax.setTickInterval(float(int(step)) or 1.0)
        # equal values (a dev mAP of 1.0 at every step) get a readable range, not 0.99999995-1.00000005
        span = max(b[3] - b[2], 0.02 * max(1.0, abs(b[3])))
        lo, hi = b[2] - 0.05 * span, b[3] + 0.05 * span
        if b[3] - b[2] < 1e-9:
            lo, hi = b[2] - span / 2, b[3] + span / 2
        self._ay.setRange(lo, hi)
        self._ay.setLabelFormat("%.3g")

    def restyle(self) -> None:
        super().restyle()
        for i, s in enumerate(self._series.values()):
            pen = QPen(theme.series_color(i))
            pen.setWidthF(2.0)
            s.setPen(pen)

    def points(self, name: str) -> list[tuple[float, float]]:
        s = self._series.get(name)
        return [(p.x(), p.y()) for p in s.points()] if s else []

    def names(self) -> list[str]:
        return list(self._series)


class HeatmapWidget(QWidget):
    """Language × language cross-lingual MRR: rows are query languages, columns pool languages."""

    def __init__(self, title: str = "MRR by query language × answer language", parent=None):
        super().__init__(parent)
        self.title = title
        self.metrics: dict = {}
        self.model_name = ""
        self.rows: list[str] = []
        self.cols: list[str] = []
        self.setMinimumSize(QSize(260, 220))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_metrics(self, metrics: dict, model_name: str = "") -> None:
        self.metrics = dict(metrics or {})
        self.model_name = model_name
        self.rows, self.cols = matrix_languages(self.metrics)
        self.update()

    def value(self, x: str, y: str) -> float | None:
        v = self.metrics.get(f"{x}_{y}_mrr")
        return None if v is None else _num(v)

    def has_data(self) -> bool:
        return bool(self.rows and self.cols)

    def save_png(self, path: str | Path, size: QSize = EXPORT_SIZE) -> bool:
        """Save at print resolution (``size``), drawn afresh at that size."""
        copy = HeatmapWidget(self.title)
        copy.set_metrics(self.metrics, self.model_name)
        f = QFont(copy.font())
        f.setPointSizeF(f.pointSizeF() * size.width() / 700)
        copy.setFont(f)
        return _render_offscreen(copy, size, path)

    def paintEvent(self, event):  # noqa: N802 - Qt override
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        fg = theme.text_color()
        title_font = QFont(self.font())
        title_font.setBold(True)
        p.setFont(title_font)
        p.setPen(fg)
        title = self.title
        if QFontMetrics(title_font).horizontalAdvance(title) > self.width() - 8:
            title = "MRR: query × answer language"
        th = QFontMetrics(title_font).height() + 6
        p.drawText(QRectF(0, 2, self.width(), th), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter,
                   title)
        p.setFont(self.font())
        if not self.has_data():
            p.setPen(theme.muted_color())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No data yet")
            p.end()
            return
        fm = QFontMetrics(self.font())
        values = [v for r in self.rows for c in self.cols if (v := self.value(r, c)) is not None]
        # colour scale over the values shown (not 0..1), so differences between pairs are visible
        lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
        if hi - lo < 0.05:
            lo = max(0.0, hi - 0.05)
        label_w = max(fm.horizontalAdvance(r) for r in self.rows) + 12
        legend_h = fm.height() + 8
        top = th + fm.height() + 6
        left = label_w
        w = max(10.0, self.width() - left - 8)
        h = max(10.0, self.height() - top - legend_h - 4)
        cw, ch = w / len(self.cols), h / len(self.rows)
        for j, col in enumerate(self.cols):
            p.setPen(fg)
            p.drawText(QRectF(left + j * cw, th, cw, fm.height() + 4), Qt.AlignmentFlag.AlignCenter, col)
        small = QFont(self.font())
        if min(cw, ch) < 30:
            small.setPointSizeF(max(6.0, small.pointSizeF() * 0.8))
        for i, row in enumerate(self.rows):
            p.setPen(fg)
            p.drawText(QRectF(0, top + i * ch, label_w - 6, ch), Qt.AlignmentFlag.AlignRight |
                       Qt.AlignmentFlag.AlignVCenter, row)
            for j, col in enumerate(self.cols):
                v = self.value(row, col)
                rect = QRectF(left + j * cw, top + i * ch, cw, ch)
                color = theme.heat_color(v, lo, hi) if v is not None else pal.window().color()
                p.fillRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), color)
                if row == col:
                    p.setPen(QPen(fg, 1.2, Qt.PenStyle.DotLine))
                    p.drawRect(rect.adjusted(1, 1, -1, -1))
                if v is not None and cw > 22 and ch > 12:
                    p.setFont(small)
                    p.setPen(QColor("white") if color.lightness() < 140 else QColor("black"))
                    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{v:.2f}".lstrip("0") if v < 1 else "1.0")
                    p.setFont(self.font())
        p.setPen(theme.muted_color())
        p.drawText(QRectF(0, self.height() - legend_h, self.width(), legend_h), Qt.AlignmentFlag.AlignCenter,
                   f"rows: query · columns: answers · {'brighter' if theme.is_dark() else 'darker'} = better "
                   f"({lo:.2f}–{hi:.2f})")
        p.end()


# Report export ---------------------------------------------------------------------------------

def report_rows(models: dict[str, dict]) -> list[dict]:
    """Long-format rows (model, language, metric, value) for CSV export."""
    rows = []
    for name, metrics in models.items():
        for key, value in sorted(metrics.items()):
            lang, metric = "all", key
            for suffix in PER_LANG_SUFFIXES:
                if key.endswith("_" + suffix) and key != suffix:
                    lang, metric = key[: -len(suffix) - 1], suffix
                    break
            else:
                if key.endswith("_mrr") and key.count("_") == 2:
                    x, y, _ = key.split("_")
                    lang, metric = x, f"mrr_vs_{y}"
            rows.append({"model": name, "language": lang, "metric": metric, "value": value})
    return rows


def export_report(models: dict[str, dict], path: str | Path) -> Path:
    """Write the report as JSON (``.json``) or CSV (anything else)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(models, indent=2, ensure_ascii=False), encoding="utf-8")
    else:
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=["model", "language", "metric", "value"])
            w.writeheader()
            w.writerows(report_rows(models))
    return path
