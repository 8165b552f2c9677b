"""Training page: pick a parallel QA file, set up hybrid batch training, watch it, compare, adopt."""

from __future__ import annotations

import html
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QGridLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QListWidget, QProgressBar, QPushButton, QRadioButton, QScrollArea, QSlider,
                               QSpinBox, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from hybridsearch.qt import theme
from hybridsearch.qt.charts import CurveChart, MetricBarsChart
from hybridsearch.qt.library_service import format_eta
from hybridsearch.qt.models import model_label, model_options
from hybridsearch.qt.widgets import Banner
from hybridsearch.qt.workers import Worker, ensure_model_stack
from trainer import estimate
from trainer.config import DEFAULTS as TRAIN_DEFAULTS

#: the form's defaults: the training defaults of trainer.config, plus the form's own
DEFAULTS = {"steps_mode": True, "epochs": 1.0,
            **{k: getattr(TRAIN_DEFAULTS, k) for k in (
                "steps", "batch_size", "lr", "temperature", "alpha", "max_length", "freeze_embeddings",
                "hard_negatives", "all_languages_weight", "dev_share", "seed", "eval_every")},
            "base_model": None}  # None: the bundled model when there is one, else base

HARD_TIP = ("Also train against another sentence of the answer's passage, in the question's language "
            "(needs the optional context column, or SQuAD/XQuAD-R data). About 1.5× the time per step.")
EXTRA_TIP = ("Translations and other question sets to mix into training, each kind in its own batches: "
             "translation memories (TMX), line-aligned text (one file per language in a folder), FLORES, "
             "Mintaka-style JSON (translated questions), MLQA-style folders (questions and their paragraphs) "
             "or more QA files. The weight is a source's share of the batches; the QA file above has 1. "
             "Checkpoints are still chosen on the QA file's dev split.")
DATA_HINT = ("Choose a file with rows of id, language, question, answer; rows sharing an id are translations "
             "of each other.")
KIND_NAMES = {"qa-sentence": "question → answer", "qa-paragraph": "question → paragraph",
              "question-question": "translated questions", "bitext": "translations"}
MIXTURE_OFF = "Not with other sources: this applies to one QA file."
ALL_LANGUAGES_TIP = ("Also ask each question to rank its answer in every language of the file above the batch's "
                     "other answers, all translations alike. This lowers the language bias (the answer in the "
                     "question's own language coming first) but encodes every answer in all languages: much "
                     "slower and far more memory per step. 0 turns it off; the bundled model used 0.5.")


def default_start_model() -> str:
    """Fine-tune the bundled hybrid-trained model by default: a person's own pairs add to it."""
    from hybridsearch.encoder import BUNDLED_NAME, bundled_model_dir

    return BUNDLED_NAME if bundled_model_dir() is not None else "base"


def alpha_text(alpha: float) -> str:
    """The one line under the α slider."""
    pct = round(alpha * 100)
    if pct <= 0:
        return "α = 0: every batch is monolingual (question and answer in the same language)."
    if pct >= 100:
        return "α = 1: every batch is cross-lingual (question and answer in different languages)."
    return (f"α = {alpha:.2f}: {pct}% of batches pair questions with answers in another language, "
            f"{100 - pct}% keep one language — balancing same-language and cross-language search.")


class TrainingPage(QWidget):
    """Settings on the left; live curves, then the new model against the current one, on the right."""

    training_finished = Signal(object)      # TrainResult
    use_model_requested = Signal(str)       # model directory
    status = Signal(str)

    def __init__(self, settings=None, current_model=lambda: "default", parent=None):
        super().__init__(parent)
        self.settings = settings
        self.current_model = current_model
        self.data = None
        self.data_path = ""
        self._passages = False     # the loaded QA file has passages (hard negatives can train)
        self._summary = DATA_HINT  # what the data box says of the loaded QA file
        self.worker: Worker | None = None
        self.load_worker: Worker | None = None
        self.result = None
        self.comparison: dict[str, dict] = {}
        self.devices = []
        self._started_at = 0.0
        #: measured CPU training speed per (model, frozen embeddings): pairs per second
        self._rates: dict[tuple, float] = {}
        self._measuring: set[tuple] = set()
        self.rate_worker: Worker | None = None

        outer = QHBoxLayout(self)
        outer.setContentsMargins(12, 12, 12, 6)
        split = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(split)

        # left: settings --------------------------------------------------------------------------
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 6, 0)

        data_box = self.data_box = QGroupBox("Training data: parallel questions and answers")
        dl = QVBoxLayout(data_box)
        row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("JSON Lines, CSV, TSV or XQuAD-R file or folder")
        self.path_edit.returnPressed.connect(lambda: self.load_file(self.path_edit.text()))
        row.addWidget(self.path_edit, 1)
        self.choose_btn = QPushButton("Choose…")
        self.choose_btn.clicked.connect(self._choose)
        row.addWidget(self.choose_btn)
        dl.addLayout(row)
        self.data_summary = QLabel(DATA_HINT)
        self.data_summary.setWordWrap(True)
        self.data_summary.setTextFormat(Qt.TextFormat.RichText)
        dl.addWidget(self.data_summary)
        self.error_list = QListWidget()
        self.error_list.setMaximumHeight(120)
        self.error_list.setWordWrap(True)
        self.error_list.setVisible(False)
        dl.addWidget(self.error_list)
        # other sources mixed in (trainer/qa/mixture.py): each row a loaded PairSet and its weight
        self.extras: list[dict] = []
        extra_label = QLabel("Also train on (optional): translations or other question sets")
        extra_label.setWordWrap(True)
        extra_label.setToolTip(EXTRA_TIP)
        dl.addWidget(extra_label)
        extra_head = QHBoxLayout()
        self.add_file_btn = QPushButton("Add file…")
        self.add_file_btn.setToolTip(EXTRA_TIP)
        self.add_file_btn.clicked.connect(self._choose_extra_file)
        self.add_folder_btn = QPushButton("Add folder…")
        self.add_folder_btn.setToolTip(EXTRA_TIP)
        self.add_folder_btn.clicked.connect(self._choose_extra_folder)
        self.remove_extra_btn = QPushButton("Remove")
        self.remove_extra_btn.clicked.connect(self._remove_extra)
        self.remove_extra_btn.setEnabled(False)
        self.source_worker: Worker | None = None
        for b in (self.add_file_btn, self.add_folder_btn, self.remove_extra_btn):
            extra_head.addWidget(b)
        extra_head.addStretch(1)
        dl.addLayout(extra_head)
        self.extra_table = QTableWidget(0, 3)
        self.extra_table.setHorizontalHeaderLabels(["Source", "Pairs", "Weight"])
        self.extra_table.setToolTip(EXTRA_TIP)
        self.extra_table.verticalHeader().setVisible(False)
        self.extra_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.extra_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.extra_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.extra_table.setMaximumHeight(96)
        self.extra_table.setVisible(False)
        dl.addWidget(self.extra_table)
        ll.addWidget(data_box)

        set_box = self.settings_box = QGroupBox("Settings")
        form = QFormLayout(set_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.base_model = QComboBox()
        self.base_model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.base_model.setMinimumContentsLength(14)
        form.addRow("Start from", self.base_model)
        # two lines, so that the form fits the settings pane at 1024 px without a sideways scroll
        length = QGridLayout()
        length.setContentsMargins(0, 0, 0, 0)
        self.steps_radio = QRadioButton("Steps")
        self.epochs_radio = QRadioButton("Epochs")
        grp = QButtonGroup(self)
        grp.addButton(self.steps_radio)
        grp.addButton(self.epochs_radio)
        self.steps = QSpinBox()
        self.steps.setRange(1, 1_000_000)
        self.epochs = QDoubleSpinBox()
        self.epochs.setRange(0.1, 100.0)
        self.epochs.setSingleStep(0.5)
        self.epochs.setDecimals(1)
        for i, (radio, box) in enumerate([(self.steps_radio, self.steps), (self.epochs_radio, self.epochs)]):
            length.addWidget(radio, i, 0)
            length.addWidget(box, i, 1)
        length.setColumnStretch(1, 1)
        self.steps_radio.toggled.connect(self._length_mode)
        form.addRow("Length", length)
        self.batch = QSpinBox()
        self.batch.setRange(2, 4096)
        self.batch.setToolTip("Pairs per batch; the other pairs of a batch are the negatives.")
        form.addRow("Batch size", self.batch)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1e-2)
        self.lr.setSingleStep(1e-5)
        form.addRow("Learning rate", self.lr)
        self.temperature = QDoubleSpinBox()
        self.temperature.setDecimals(3)
        self.temperature.setRange(0.005, 1.0)
        self.temperature.setSingleStep(0.01)
        form.addRow("Temperature", self.temperature)
        alpha_box = QWidget()
        al = QGridLayout(alpha_box)
        al.setContentsMargins(0, 0, 0, 0)
        self.alpha = QSlider(Qt.Orientation.Horizontal)
        self.alpha.setRange(0, 100)
        self.alpha.setTickInterval(10)
        self.alpha.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.alpha.setAccessibleName("hybrid ratio alpha")
        al.addWidget(self.alpha, 0, 0, 1, 2)
        lo = QLabel("all monolingual")
        hi = QLabel("all cross-lingual")
        for lab in (lo, hi):
            lab.setStyleSheet("color: palette(placeholder-text); font-size: 8pt")
        al.addWidget(lo, 1, 0)
        al.addWidget(hi, 1, 1, Qt.AlignmentFlag.AlignRight)
        self.alpha_line = QLabel()
        self.alpha_line.setWordWrap(True)
        al.addWidget(self.alpha_line, 2, 0, 1, 2)
        self.alpha.valueChanged.connect(lambda v: self.alpha_line.setText(alpha_text(v / 100)))
        form.addRow("Hybrid ratio α", alpha_box)
        self.max_length = QSpinBox()
        self.max_length.setRange(16, 512)
        self.max_length.setSingleStep(16)
        form.addRow("Max length", self.max_length)
        self.freeze = QCheckBox("Freeze word embeddings")
        self.freeze.setToolTip("Faster, and the trained model is smaller: the word-embedding table, most of the "
                               "model's weights, stays as it is and is not saved again.")
        form.addRow("", self.freeze)
        self.hard = QCheckBox("Hard negatives (answer's passage)")
        self.hard.setToolTip(HARD_TIP)
        form.addRow("", self.hard)
        self.all_languages = QDoubleSpinBox()
        self.all_languages.setRange(0.0, 5.0)
        self.all_languages.setSingleStep(0.1)
        self.all_languages.setDecimals(2)
        self.all_languages.setSpecialValueText("off")
        self.all_languages.setToolTip(ALL_LANGUAGES_TIP)
        self.all_languages.setAccessibleName("all-languages weight")
        form.addRow("All-languages weight", self.all_languages)
        self.dev_share = QDoubleSpinBox()
        self.dev_share.setRange(0.0, 0.5)
        self.dev_share.setSingleStep(0.05)
        self.dev_share.setDecimals(2)
        self.dev_share.setToolTip("Share of question ids held out to measure the model during training")
        form.addRow("Dev split share", self.dev_share)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        form.addRow("Seed", self.seed)
        self.device = QComboBox()
        self.device.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device.setMinimumContentsLength(16)
        form.addRow("Device", self.device)
        ll.addWidget(set_box)
        self.dev_warning = Banner(closable=False)
        ll.addWidget(self.dev_warning)
        self.device_warning = Banner(closable=False)
        ll.addWidget(self.device_warning)
        ll.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        # never clip: at 1024×700 a long model name or label gets a scroll bar, not a cut edge
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(left)
        scroll.setMinimumWidth(360)
        self.settings_scroll = scroll
        split.addWidget(scroll)

        # right: run --------------------------------------------------------------------------------
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(6, 0, 0, 0)
        run_row = QHBoxLayout()
        self.start_btn = QPushButton("Start training")
        self.start_btn.setDefault(True)
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel)
        self.cancel_btn.setEnabled(False)
        run_row.addWidget(self.start_btn)
        run_row.addWidget(self.cancel_btn)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m steps")
        self.progress.setVisible(False)  # shown from the first run on: empty, it reads as a text field
        run_row.addWidget(self.progress, 1)
        run_row.addStretch(0)  # keeps the buttons compact while the bar is hidden
        rl.addLayout(run_row)
        self.stats = QLabel("Not started.")
        rl.addWidget(self.stats)
        self.banner = Banner()
        rl.addWidget(self.banner)
        curves = QHBoxLayout()
        self.loss_chart = CurveChart("Training loss", "step", "loss")
        self.loss_chart.empty_text = "The loss curve appears when training starts"
        self.dev_chart = CurveChart("Dev metrics", "step", "")
        self.dev_chart.empty_text = "Dev metrics appear at each evaluation"
        curves.addWidget(self.loss_chart)
        curves.addWidget(self.dev_chart)
        rl.addLayout(curves, 1)
        cmp_row = QHBoxLayout()
        self.cmp_map = MetricBarsChart("map", "Multilingual mAP on the dev split")
        self.cmp_map.empty_text = "After training: the new model next to the current one"
        self.cmp_cross = MetricBarsChart("cross_mrr", "Cross-lingual MRR on the dev split")
        self.cmp_cross.empty_text = ""
        cmp_row.addWidget(self.cmp_map)
        cmp_row.addWidget(self.cmp_cross)
        rl.addLayout(cmp_row, 1)
        use_row = QHBoxLayout()
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        use_row.addWidget(self.result_label, 1)
        self.use_btn = QPushButton("Use this model for search")
        self.use_btn.setToolTip("Re-embeds your library with the new model in the background; search keeps "
                                "using the current index until the new one is complete.")
        self.use_btn.setEnabled(False)
        self.use_btn.clicked.connect(self._use_model)
        use_row.addWidget(self.use_btn)
        rl.addLayout(use_row)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([440, 820])

        self.restore_settings()
        self.refresh_models()
        for w in (self.steps, self.batch, self.max_length):
            w.valueChanged.connect(self._update_device_warning)
        self.epochs.valueChanged.connect(self._update_device_warning)
        self.all_languages.valueChanged.connect(self._update_device_warning)
        self.hard.toggled.connect(self._update_device_warning)
        self.device.currentIndexChanged.connect(self._update_device_warning)
        self.dev_share.valueChanged.connect(self._update_dev_warning)
        QTimer.singleShot(0, self, self.refresh_devices)

    # settings --------------------------------------------------------------------------------------
    def restore_settings(self) -> None:
        s = dict(DEFAULTS)
        if self.settings is not None:
            s.update(self.settings.get("training/settings", {}) or {})
        self.steps_radio.setChecked(bool(s["steps_mode"]))
        self.epochs_radio.setChecked(not s["steps_mode"])
        self.steps.setValue(int(s["steps"]))
        self.epochs.setValue(float(s["epochs"]))
        self.batch.setValue(int(s["batch_size"]))
        self.lr.setValue(float(s["lr"]))
        self.temperature.setValue(float(s["temperature"]))
        self.alpha.setValue(round(float(s["alpha"]) * 100))
        self.alpha_line.setText(alpha_text(self.alpha.value() / 100))
        self.max_length.setValue(int(s["max_length"]))
        self.freeze.setChecked(bool(s["freeze_embeddings"]))
        self.hard.setChecked(bool(s.get("hard_negatives", False)))
        self.all_languages.setValue(float(s.get("all_languages_weight", 0.0)))
        self.dev_share.setValue(float(s["dev_share"]))
        self.seed.setValue(int(s["seed"]))
        self._base_pref = s.get("base_model") or default_start_model()
        self.eval_every = int(s.get("eval_every", 50))
        self._length_mode()
        if self.settings is not None:
            last = self.settings.get("training/data_path", "")
            if last:
                self.path_edit.setText(last)
                if Path(last).exists():  # check it again in the background, as if just chosen
                    QTimer.singleShot(0, self, lambda: self.load_file(last))

    def current_settings(self) -> dict:
        return {"steps_mode": self.steps_radio.isChecked(), "steps": self.steps.value(),
                "epochs": self.epochs.value(), "batch_size": self.batch.value(), "lr": self.lr.value(),
                "temperature": self.temperature.value(), "alpha": self.alpha.value() / 100,
                "max_length": self.max_length.value(), "freeze_embeddings": self.freeze.isChecked(),
                "hard_negatives": self.hard.isChecked(), "all_languages_weight": self.all_languages.value(),
                "dev_share": self.dev_share.value(), "seed": self.seed.value(),
                "base_model": self.base_model.currentData() or "base", "eval_every": self.eval_every}

    def save_settings(self) -> None:
        if self.settings is not None:
            self.settings.set("training/settings", self.current_settings())
            self.settings.set("training/data_path", self.data_path or self.path_edit.text())

    def refresh_models(self) -> None:
        keep = self.base_model.currentData() or getattr(self, "_base_pref", None) or default_start_model()
        self.base_model.clear()
        for label, name in model_options():
            self.base_model.addItem(label, name)
        i = self.base_model.findData(keep)
        if i < 0:
            self.base_model.addItem(model_label(keep), keep)
            i = self.base_model.count() - 1
        self.base_model.setCurrentIndex(i)

    def _length_mode(self) -> None:
        steps = self.steps_radio.isChecked()
        self.steps.setEnabled(steps)
        self.epochs.setEnabled(not steps)
        self._update_device_warning()

    # devices ---------------------------------------------------------------------------------------
    def refresh_devices(self) -> None:
        w = Worker(lambda cancel, report: _devices(), lane_name="probe", parent=self)
        w.result.connect(self.set_devices)
        w.error.connect(lambda msg: self.set_devices([]))
        w.start()

    def set_devices(self, devices) -> None:
        self.devices = list(devices or [])
        self.device.clear()
        if not self.devices:
            self.device.addItem("CPU", "cpu")
        for d in self.devices:
            mem = f" — {d.memory_bytes / 2**30:.0f} GiB" if getattr(d, "memory_bytes", None) else ""
            self.device.addItem(f"{d.name}{mem}", d.id)
        self._update_device_warning()

    def planned_pairs(self) -> int | None:
        if self.steps_radio.isChecked():
            return self.steps.value() * self.batch.value()
        if self.data is None:
            return None
        return int(self.epochs.value() * self.data.summary().get("xx_pairs", 0) * 1.0)

    def data_languages(self) -> int:
        """Languages of the loaded file (11, as XQuAD-R, before one is loaded)."""
        return len(self.data.languages) if self.data is not None else 11

    def texts_per_pair(self) -> int:
        """Texts encoded for each pair of a batch (see ``trainer.estimate.texts_per_pair``)."""
        return estimate.texts_per_pair(self.data_languages(), self.all_languages.value() > 0,
                                       self.hard.isChecked() and self.hard.isEnabled())

    def measured_rate(self) -> float | None:
        """This computer's measured training speed for the chosen model (pairs/s), if measured."""
        return self._rates.get(self._rate_key())

    def _rate_key(self) -> tuple:
        return (self.base_model.currentData() or "base", self.freeze.isChecked())

    def measure_speed(self) -> None:
        """Time a few real training steps on the CPU in the background; the estimate then uses them."""
        key = self._rate_key()
        if key in self._rates or key in self._measuring or (self.device.currentData() or "cpu") != "cpu":
            return
        self._measuring.add(key)
        model, freeze = key

        def job(cancel, report):
            ensure_model_stack()
            return estimate.measure_cpu_rate(model, freeze_embeddings=freeze, cancel=cancel)

        def done(rate, key=key):
            self._measuring.discard(key)
            self._rates[key] = float(rate)
            self._update_device_warning()

        w = Worker(job, lane_name="measure", parent=self)  # its own lane: a run never waits behind it
        w.result.connect(done)
        w.error.connect(lambda msg, key=key: self._measuring.discard(key))
        w.cancelled.connect(lambda key=key: self._measuring.discard(key))
        self.rate_worker = w.start()

    def _update_device_warning(self, *_) -> None:
        dev = self.device.currentData() or "cpu"
        only_cpu = all(getattr(d, "kind", "cpu") == "cpu" for d in self.devices) if self.devices else True
        pairs = self.planned_pairs()
        if dev == "cpu":
            measured = self.measured_rate()
            texts_pp, length = self.texts_per_pair(), self.max_length.value()
            rate = estimate.cpu_rate(texts_pp, length, measured)
            secs = estimate.cpu_seconds(pairs, texts_pp, length, measured) if pairs else 0
            how = ("measured on this computer" if measured is not None else
                   "a rough figure until a short warm-up has measured this computer")
            est = f" At about {rate:.1f} question–answer pairs per second ({how}) this run takes " \
                  f"roughly {format_eta(secs)}." if pairs else ""
            memory = ""
            if self.all_languages.value() > 0:
                texts = self.batch.value() * texts_pp
                gb = estimate.cpu_memory_gb(self.batch.value(), texts_pp, length)
                memory = (f" <b>The all-languages term encodes {texts} texts a step and needs about "
                          f"{gb:.0f} GB of memory on a CPU</b>: use a GPU, a smaller batch size or weight 0.")
            head = "No GPU found: training will run on the CPU." if only_cpu else "Training on the CPU."
            self.device_warning.show_message(
                "warning", f"<b>{head}</b> That is slow.{est}{memory} Fewer steps, a smaller batch size or a "
                "shorter max length make it faster; the live ETA appears once training starts.", rich=True)
        else:
            self.device_warning.hide()

    # data ------------------------------------------------------------------------------------------
    def _choose(self) -> None:
        start = str(Path(self.path_edit.text()).parent) if self.path_edit.text() else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a parallel QA file", start,
                                              "QA files (*.jsonl *.json *.csv *.tsv *.txt);;All files (*)")
        if path:
            self.load_file(path)

    def load_file(self, path: str) -> None:
        path = str(path).strip()
        if not path:
            return
        self.path_edit.setText(path)
        self.data = None
        self.data_path = path
        self.error_list.clear()
        self.error_list.setVisible(False)
        self.data_summary.setText("Checking the file…")
        self._update_start()

        def job(cancel, report):
            from trainer.qa import load_parallel_qa

            return load_parallel_qa(path)

        w = Worker(job, lane_name="data", parent=self)
        w.result.connect(lambda data, p=path: self._data_loaded(p, data))
        w.error.connect(lambda msg, w=w, p=path: self._data_failed(p, w.exception, msg))
        self.load_worker = w.start()

    def _data_loaded(self, path: str, data) -> None:
        if path != self.data_path:
            return
        self.data = data
        s = data.summary()
        langs = ", ".join(s.get("languages", []))
        self._passages = data.pool is not None or any(r.context for r in data.rows)
        self._update_one_file_terms()
        self._summary = (
            f"<b style='color:{theme.ok_color()}'>✓ Valid.</b> {s.get('ids', 0)} question ids · {s.get('rows', 0)} rows · "
            f"{len(s.get('languages', []))} languages ({html.escape(langs)})<br>"
            f"{s.get('xx_pairs', 0)} same-language and {s.get('xy_pairs', 0)} cross-language pairs")
        self.data_summary.setText(self._summary)
        self.save_settings()
        self._update_start()
        self._update_dev_warning()
        self._update_device_warning()  # the file's languages and passages change the estimate
        self.measure_speed()  # the person means to train: calibrate the estimate now

    def _update_dev_warning(self, *_) -> None:
        """Warn when the dev split is too small for its metrics to mean anything."""
        if self.data is None:
            self.dev_warning.hide()
            return
        text = estimate.dev_split_warning(len(self.data.ids), self.dev_share.value())
        if text:
            self.dev_warning.show_message("warning", text)
        else:
            self.dev_warning.hide()

    def _data_failed(self, path: str, exc, msg: str) -> None:
        if path != self.data_path:
            return
        problems = list(getattr(exc, "problems", []) or [])
        self.data = None
        self._passages = False
        self._summary = DATA_HINT
        head = html.escape(msg)
        self.data_summary.setText(f"<b style='color:{theme.error_color()}'>✗ This file cannot be used.</b> {head}"
                                  + (f"<br>{len(problems)} problem{'s' if len(problems) != 1 else ''}:"
                                     if problems else ""))
        self._show_problems(problems)
        self._update_start()

    def _show_problems(self, problems) -> None:
        """(line, text) problems of a file, each on a line of the error list (hidden when none)."""
        self.error_list.clear()
        for line, text in problems:
            self.error_list.addItem(f"line {line}: {text}" if line else str(text))
        self.error_list.setVisible(bool(problems))

    def error_lines(self) -> list[str]:
        return [self.error_list.item(i).text() for i in range(self.error_list.count())]

    # other sources (a mixture) ---------------------------------------------------------------------
    def _choose_extra_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Add translations or another question set", str(Path.home()),
            "Translations and QA sets (*.tmx *.json *.jsonl *.csv *.tsv *.txt);;All files (*)")
        if path:
            self.add_source(path)

    def _choose_extra_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder: line-aligned text, FLORES, MLQA-style or "
                                                "XQuAD-R", str(Path.home()))
        if path:
            self.add_source(path)

    def add_source(self, path: str) -> None:
        """Check ``path`` in the background as another source of the mixture; a good one gets a row."""
        path = str(path).strip()
        if not path or any(e["path"] == path for e in self.extras):
            return
        self.data_summary.setText(f"Checking {html.escape(Path(path).name)}…")

        def job(cancel, report):
            from trainer.qa.loader import detect, split_selector
            from trainer.qa.mixture import SourceSpec, load_source

            ps = load_source(SourceSpec(path, None, 1.0))
            return ps, detect(split_selector(path)[0])

        w = Worker(job, lane_name="data", parent=self)
        w.result.connect(lambda res, p=path: self._source_loaded(p, *res))
        w.error.connect(lambda msg, w=w, p=path: self._source_failed(p, w.exception, msg))
        self.source_worker = w.start()

    def _source_loaded(self, path: str, pairs, fmt: str) -> None:
        if any(e["path"] == path for e in self.extras):
            return
        s = pairs.summary()
        weight = QDoubleSpinBox()
        weight.setRange(0.05, 10.0)
        weight.setSingleStep(0.25)
        weight.setDecimals(2)
        weight.setValue(1.0)
        weight.setToolTip("This source's share of the batches, against 1 for the QA file above")
        self.extras.append({"path": path, "pairs": pairs, "weight": weight})
        row = self.extra_table.rowCount()
        self.extra_table.insertRow(row)
        name = QTableWidgetItem(Path(path).name)
        name.setToolTip(f"{path} ({fmt})")
        self.extra_table.setItem(row, 0, name)
        langs = s.get("languages", [])
        self.extra_table.setItem(row, 1, QTableWidgetItem(
            f"{KIND_NAMES.get(pairs.kind, pairs.kind)} · {s.get('ids', 0):,} ids · {len(langs)} languages"))
        self.extra_table.setCellWidget(row, 2, weight)
        self._extras_changed()
        self.data_summary.setText(self._summary)  # the check's message gives way to the QA file's summary

    def _source_failed(self, path: str, exc, msg: str) -> None:
        problems = list(getattr(exc, "problems", []) or [])
        self.data_summary.setText(f"<b style='color:{theme.error_color()}'>✗ {html.escape(Path(path).name)} "
                                  f"cannot be added.</b> {html.escape(msg)}")
        self._show_problems(problems)

    def _remove_extra(self) -> None:
        rows = sorted({i.row() for i in self.extra_table.selectedIndexes()}, reverse=True)
        if not rows and self.extras:
            rows = [len(self.extras) - 1]
        for r in rows:
            self.extra_table.removeRow(r)
            del self.extras[r]
        self._extras_changed()

    def _extras_changed(self) -> None:
        self.extra_table.setVisible(bool(self.extras))
        self.remove_extra_btn.setEnabled(bool(self.extras))
        self._update_one_file_terms()

    def _update_one_file_terms(self) -> None:
        """Hard negatives need a QA file with passages; they and the all-languages term apply to
        one QA file, not to a mixture of sources."""
        mixing = bool(self.extras)
        self.hard.setEnabled(self._passages and not mixing)
        self.hard.setToolTip(MIXTURE_OFF if mixing else HARD_TIP if self._passages else
                             HARD_TIP + "\nThis file has no passages: add a context column to use it.")
        self.all_languages.setEnabled(not mixing)
        self.all_languages.setToolTip(MIXTURE_OFF if mixing else ALL_LANGUAGES_TIP)

    def extra_sources(self) -> list[tuple]:
        """(PairSet, weight, spec) of each added source, in order."""
        return [(e["pairs"], e["weight"].value(), f"{e['pairs'].kind}={e['path']}:{e['weight'].value():g}")
                for e in self.extras]

    def _update_start(self) -> None:
        running = self.worker is not None and self.worker.running
        self.start_btn.setEnabled(self.data is not None and not running)
        self.settings_box.setEnabled(not running)  # a run keeps the settings it started with
        self.data_box.setEnabled(not running)
        self.cancel_btn.setEnabled(running)

    # running ---------------------------------------------------------------------------------------
    def build_config(self):
        from hybridsearch import paths
        from trainer.train import TrainConfig

        s = self.current_settings()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out_dir = paths.models_dir() / f"trained-{stamp}"
        steps = s["steps"] if s["steps_mode"] else None
        epochs = None if s["steps_mode"] else s["epochs"]
        eval_every = max(1, min(s["eval_every"], max(1, (steps or 10**9) // 5)))
        return TrainConfig(model=s["base_model"], out_dir=str(out_dir), steps=steps, epochs=epochs,
                           batch_size=s["batch_size"], lr=s["lr"], temperature=s["temperature"], alpha=s["alpha"],
                           max_length=s["max_length"], freeze_embeddings=s["freeze_embeddings"],
                           hard_negatives=s["hard_negatives"] and self.hard.isEnabled(),
                           all_languages_weight=0.0 if self.extras else s["all_languages_weight"],
                           sources=[self.data_path] + [spec for _, _, spec in self.extra_sources()]
                           if self.extras else None,
                           dev_share=s["dev_share"], seed=s["seed"], eval_every=eval_every,
                           device=self.device.currentData() or "auto")

    def start(self) -> None:
        if self.data is None or (self.worker is not None and self.worker.running):
            return
        self.save_settings()
        if self.rate_worker is not None and self.rate_worker.running:
            self.rate_worker.cancel()  # the run itself measures from now on (live ETA)
        cfg = self.build_config()
        data = self.data
        extra = self.extra_sources()
        current = self.current_model()
        self.banner.hide()
        self.result = None
        self.comparison = {}
        self.loss_chart.reset()
        self.dev_chart.reset()
        self.cmp_map.set_models({})
        self.cmp_cross.set_models({})
        self.use_btn.setEnabled(False)
        self.result_label.setText("")
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.stats.setText("Loading the model…")
        self._started_at = time.monotonic()

        def job(cancel, report):
            from trainer.compare import train_and_compare

            ensure_model_stack()
            return train_and_compare(cfg, data, current, model_label(current), on_progress=report, cancel=cancel,
                                     extra_sources=extra)

        w = Worker(job, lane_name="training", min_interval_s=0.0, parent=self)  # every step is a point
        w.progress.connect(self._on_progress)
        w.result.connect(self._on_result)
        w.error.connect(self._on_error)
        w.cancelled.connect(self._on_cancelled)
        w.finished.connect(self._update_start)
        self.worker = w.start()
        self.status.emit("Training started")
        self._update_start()

    def cancel(self) -> None:
        if self.worker is not None and self.worker.running:
            self.worker.cancel()
            self.stats.setText("Cancelling after the current step…")
            self.cancel_btn.setEnabled(False)

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.running

    def _on_progress(self, p) -> None:
        if hasattr(p, "step"):
            self._total_steps = int(p.total_steps)
            self.progress.setRange(0, int(p.total_steps))
            self.progress.setValue(int(p.step))
            self.loss_chart.add_point("loss", p.step, p.loss)
            if p.dev_metrics:
                for key, name in (("map", "mAP"), ("mono_mrr", "mono MRR"), ("cross_mrr", "cross MRR")):
                    if key in p.dev_metrics:
                        self.dev_chart.add_point(name, p.step, p.dev_metrics[key])
            text = (f"Step {p.step}/{p.total_steps} · loss {p.loss:.4f} · {p.pairs_per_s:.1f} pairs/s · "
                    f"ETA {format_eta(p.eta_s)}")
            if p.dev_metrics and "map" in p.dev_metrics:
                text += f" · dev mAP {p.dev_metrics['map']:.3f}"
            self.stats.setText(text)
            self.status.emit(f"Training: step {p.step}/{p.total_steps}, ETA {format_eta(p.eta_s)}")
        else:
            self.progress.setRange(0, 0)
            self.stats.setText(getattr(p, "message", "") or "Evaluating…")

    def _on_result(self, payload) -> None:
        res, comparison = payload
        self.result = res
        self.progress.setRange(0, max(1, getattr(self, "_total_steps", 1)))
        if res.cancelled:
            self._on_cancelled(res)
            return
        self.progress.setValue(self.progress.maximum())
        from trainer.compare import ERROR_KEY

        problem = comparison.pop(ERROR_KEY, None)
        self.comparison = comparison
        self.cmp_map.set_models(comparison)
        self.cmp_cross.set_models(comparison)
        if problem:
            self.banner.show_message("warning", f"The current model could not be evaluated for the comparison: "
                                     f"{problem}")
        if getattr(res, "note", None):
            self.banner.show_message("info", f"The model is saved; {res.note}.")
        took = format_eta(time.monotonic() - self._started_at)
        best = res.best_metrics or {}
        txt = f"Done in {took}. Saved to {res.out_dir}."
        small_dev = self.data is not None and estimate.dev_split_warning(len(self.data.ids),
                                                                         self.dev_share.value())
        if best and small_dev:
            n = estimate.dev_ids(len(self.data.ids), self.dev_share.value())
            txt += (f" The dev split held only {n} question id{'s' if n != 1 else ''}, so its mAP "
                    f"({best.get('map', float('nan')):.3f}) says nothing about the model: evaluate it on "
                    "other data (Evaluation page).")
        elif best:
            txt += f" Best dev mAP {best.get('map', float('nan')):.3f} at step {res.best_step}."
        if best.get("calibrated_offset"):
            txt += (f" Search will take {best['calibrated_offset']:.4g} from the similarity of passages in the "
                    f"query's language (dev mAP then {best['map_calibrated']:.3f}).")
        self.result_label.setText(txt)
        self.stats.setText("Training complete.")
        self.use_btn.setEnabled(True)
        self.status.emit("Training complete")
        self.training_finished.emit(res)
        self.refresh_models()

    def _on_cancelled(self, res=None) -> None:
        self.progress.setRange(0, max(1, getattr(self, "_total_steps", 1)))
        out = getattr(res, "out_dir", None)
        saved = out is not None and any((Path(out) / f).is_file() for f in ("overlay.safetensors", "model.safetensors"))
        step = self.progress.value()
        if saved:
            from hybridsearch.qt.models import mark_cancelled

            mark_cancelled(self.settings, str(out), step)
            self.stats.setText(f"Training cancelled at step {step}.")
            self.banner.show_message("warning", f"Training was cancelled at step {step} of {self.progress.maximum()}. "
                                     f"The model as it was then is saved in {out} and listed as "
                                     f"“{model_label(str(out))} (cancelled at step {step})”; it is not a finished "
                                     "model.")
        else:
            self.stats.setText("Training cancelled.")
            self.banner.show_message("info", "Training was cancelled before any model was saved.")
        self.status.emit("Training cancelled")
        self.refresh_models()

    def _on_error(self, msg: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        exc = self.worker.exception if self.worker is not None else None
        oom = type(exc).__name__ == "TrainingOOM" or "out of memory" in msg.lower()
        title = "The GPU ran out of memory." if oom else "Training failed."
        self.banner.show_message("error", f"<b>{title}</b> {html.escape(msg)}", rich=True)
        self.stats.setText(title)
        self.status.emit("Training failed")

    def _use_model(self) -> None:
        if self.result is not None:
            self.use_model_requested.emit(str(self.result.out_dir))
            self.use_btn.setEnabled(False)
            self.result_label.setText(self.result_label.text() + " Re-embedding your library with it in the "
                                      "background; search keeps using the current index until it is done.")


def _devices():
    from trainer.devices import available_devices

    return available_devices()
