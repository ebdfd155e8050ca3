"""The GAN dynamics lab: a 2-D GAN (workbench/experiments/lab.py) trained by hand or at a chosen pace
while the panel draws real and generated points, D's map, G's warped z grid, the sample-space
gradient field and the mode metrics.

Threading: a `LabLoop` owns the `GanLab` and runs as the panel's Task (ui/tasks.py) in that
task's worker thread; every call into the lab happens on that thread. The GUI sends commands
through a queue and receives snapshots, states and configs as the task's emitted payloads. The
loop takes a snapshot only after the GUI has drawn the previous one (it acks), at most 15 times a
second and with snapshot + drawing at most a third of the time, so a slow GUI costs frames, never
a backlog, and training keeps going; the GUI draws only the newest snapshot (latest wins).

While the GUI draws and paints a snapshot the loop stands aside (waits for the ack, 250 ms at
most). Both threads run Python, and every Qt call releases the GIL: with the loop stepping, each
re-acquisition could wait out a 5 ms switch interval, which turned a 20 ms draw into 150 ms
stalls on 2 busy cores."""

from __future__ import annotations

import gc
import queue
import threading
import time
from concurrent.futures import Future

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QGridLayout, QGroupBox, QHBoxLayout,
                               QLabel, QPushButton, QScrollArea, QSlider, QSpinBox, QSplitter,
                               QVBoxLayout, QWidget)

from workbench.core import config as C
from workbench.core.errors import WorkbenchError
from workbench.core.tasks import TaskContext
from workbench.data import list_datasets
from workbench.ui.forms import ConfigForm
from workbench.ui.panels.dirac_view import arrow_segments
from workbench.ui.tasks import Task

SNAP_HZ = 15.0
SNAP_SHARE = 1 / 3  # at most this share of the loop's time goes to snapshots while playing
CHUNK_S = 0.03      # steps run between two looks at the command queue (commands stay snappy)
RATES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 0]  # steps/s of the pace slider; 0 = as fast as it can
HISTORY_COLUMNS = 240  # mode-count history kept for the modes × time image
REAL_COLOR, FAKE_COLOR, ARROW_COLOR, GRID_COLOR = "#2ca02c", "#7b2cbf", "#ff7f0e", (20, 60, 90)
LAYERS = [("d_map", "D's map", "The discriminator's output over the plane: red = 'real', "
                               "blue = 'fake' (probability); for a critic, its raw score."),
          ("manifold", "G's manifold", "A grid in z warped by G: where G sends each patch of its "
                                       "input. Darker lines = more probability mass per area."),
          ("real", "real samples", "Points of the dataset."),
          ("fake", "generated samples", "G(z) for 2500 fixed noise vectors."),
          ("arrows", "gradient arrows", "−∇ₓ of G's loss at generated samples: where D's "
                                        "gradient pushes each sample.")]


class LabLoop:
    """Owns the GanLab, in the panel task's worker thread (`run(ctx)` is the task's work).
    Commands: `send(...)` tuples (see the panel's methods). It emits ("snapshot", LabSnapshot),
    ("state", dict), ("config", config) and ("failed", message); it ends when cancelled."""

    def __init__(self, dataset: str, model: str, seed: int):
        self.commands: queue.Queue = queue.Queue()
        self.lab = None
        self._ctx: TaskContext | None = None
        self._init = (dataset, model, seed)
        self.playing = False
        self.rate = 0
        self._awaiting_ack = self._stood_aside = False
        self._acked = threading.Event()
        self._draw_cost = 0.0
        self._want_snapshot = True
        self._last_snap = 0.0
        self._snap_cost = 0.0
        self._rate_window: list[tuple[float, int]] = []

    # -- called from the GUI thread ---------------------------------------------------------------
    def send(self, *cmd) -> None:
        self.commands.put(cmd)

    def ack(self, draw_s: float = 0.0) -> None:
        """The GUI has drawn (and painted) the last snapshot in `draw_s` seconds: the next one
        may be taken."""
        self._draw_cost = 0.7 * self._draw_cost + 0.3 * draw_s
        self._awaiting_ack = False
        self._acked.set()

    def call(self, fn) -> Future:
        """Run fn(lab) on the lab's thread; the Future holds its result (for tests and tools)."""
        fut: Future = Future()
        self.send("call", fn, fut)
        return fut

    # -- the lab's thread -------------------------------------------------------------------------
    def run(self, ctx: TaskContext) -> None:
        # torch and the lab load here, not at the top: the panel module stays cheap to import
        import torch

        from workbench.experiments.lab import GanLab

        # One intra-op thread, for this thread only (OpenMP's setting is per thread): the toy
        # nets' matrices are tiny, and on 2 busy cores a second thread made 100 steps take
        # 16.6 s instead of 0.5 s (spinning workers fighting the GUI and each other).
        torch.set_num_threads(1)
        self._ctx = ctx
        dataset, model, seed = self._init
        self.lab = GanLab(dataset=dataset, model=model, seed=seed)  # an error ends the task
        ctx.emit(("config", self.lab.config))
        budget = 0.0
        t_prev = time.perf_counter()
        while not ctx.cancelled:  # the panel's shutdown cancels the task
            try:
                cmd = self.commands.get(timeout=0.05) if not self.playing else \
                    self.commands.get_nowait()
            except queue.Empty:
                cmd = None
            if cmd is not None:
                self._do(cmd)
                t_prev = time.perf_counter()
                continue  # drain every queued command before stepping
            if self._awaiting_ack and not self._stood_aside:
                self._stood_aside = True  # once per snapshot: a hidden panel never acks
                self._acked.wait(0.25)
                t_prev = time.perf_counter()
                continue
            now = time.perf_counter()
            if self.playing:
                if self.rate:
                    budget = min(budget + (now - t_prev) * self.rate, max(1.0, self.rate * 0.2))
                    n = int(budget)
                    if n == 0:
                        time.sleep(min(0.01, (1 - budget) / self.rate))
                else:
                    n = self._chunk()
                t_prev = now
                if n:
                    t0 = time.perf_counter()
                    if not self._guard(self.lab.step_both, n):
                        continue
                    budget -= n
                    self._per_step = (time.perf_counter() - t0) / n
                    self._want_snapshot = True
                    self._emit_state()
            self._maybe_snapshot()

    def _chunk(self) -> int:
        per = getattr(self, "_per_step", None)
        return 1 if per is None else max(1, min(200, int(CHUNK_S / max(per, 1e-6))))

    def _guard(self, fn, *args, **kw) -> bool:
        try:
            fn(*args, **kw)
            return True
        except Exception as e:  # noqa: BLE001 - bad config values, NaNs: shown, lab paused
            self.playing = False
            self._ctx.emit(("failed", _message(e)))
            self._emit_state()
            return False

    def _do(self, cmd) -> None:
        name, args = cmd[0], cmd[1:]
        lab = self.lab
        if name == "play":
            self.playing = True
        elif name == "pause":
            self.playing = False
        elif name == "rate":
            self.rate = int(args[0])
        elif name == "step_d":
            self._guard(lab.step_d)
        elif name == "step_g":
            self._guard(lab.step_g)
        elif name == "step_both":
            self._guard(lab.step_both, args[0] if args else 1)
        elif name == "set_config":
            self._guard(lab.set_config, **args[0])
            self._ctx.emit(("config", lab.config))  # also after a refusal: the form shows the truth
        elif name == "reset":
            seed, dataset, model = args
            if self._guard(lab.reset, seed=seed, dataset=dataset, model=model):
                self._rate_window.clear()
            self._ctx.emit(("config", lab.config))
        elif name == "call":
            fn, fut = args
            try:
                fut.set_result(fn(lab))
            except Exception as e:  # noqa: BLE001 - handed to the caller
                fut.set_exception(e)
            return
        self._want_snapshot = True
        self._emit_state()

    def _maybe_snapshot(self) -> None:
        now = time.perf_counter()
        cost = self._snap_cost + self._draw_cost
        interval = max(1.0 / SNAP_HZ, cost / SNAP_SHARE if self.playing else 0.0)
        if not self._want_snapshot or self._awaiting_ack or now - self._last_snap < interval:
            return
        try:
            snap = self.lab.snapshot()
        except Exception as e:  # noqa: BLE001
            self.playing = False
            self._ctx.emit(("failed", _message(e)))
            return
        self._last_snap = time.perf_counter()
        self._snap_cost = 0.7 * self._snap_cost + 0.3 * (self._last_snap - now)
        self._want_snapshot = False
        self._awaiting_ack, self._stood_aside = True, False
        self._acked.clear()
        self._ctx.emit(("snapshot", snap))

    def _emit_state(self) -> None:
        lab = self.lab
        now = time.perf_counter()
        w = self._rate_window
        w.append((now, lab.step))
        while len(w) > 2 and now - w[0][0] > 2.0:
            w.pop(0)
        rate = (w[-1][1] - w[0][1]) / (w[-1][0] - w[0][0]) if len(w) > 1 and \
            w[-1][0] > w[0][0] else 0.0
        self._ctx.emit(("state", {"step": lab.step, "d_updates": lab.d_updates,
                                  "playing": self.playing,
                                  "steps_per_s": rate if self.playing else 0.0,
                                  "dataset": lab.dataset_name, "model": lab.model_name,
                                  "seed": lab.seed}))


def _freeze_gc() -> None:
    """Move every object alive now (torch, Qt, pyqtgraph: a few hundred thousand) out of the
    cyclic collector's reach. Full collections then scan only newer objects: before, one took
    150–420 ms and landed in the middle of a draw (measured here on 2 busy cores)."""
    gc.collect()
    gc.freeze()


def _message(e: Exception) -> str:
    return str(e) if isinstance(e, WorkbenchError) else f"{type(e).__name__}: {e}"


class GanLabPanel(QWidget):
    """The lab. `shutdown()` stops the lab's loop (call it before the window closes)."""

    state_changed = Signal(dict)  # the lab's step count, pace and setup, as the loop reports it

    def __init__(self, dataset: str = "grid25", model: str = "toy_gan", seed: int = 0,
                 parent=None):
        super().__init__(parent)
        self.snapshot = None       # the newest snapshot received
        self.drawn_step = -1       # step of the snapshot on screen
        self.last_state: dict = {"step": 0, "d_updates": 0, "playing": False, "steps_per_s": 0.0}
        self.config = None
        self.form = None
        self.draw_ms: list[float] = []
        self._mode_history: list[np.ndarray] = []
        self._history_steps: list[int] = []
        self.lab_loop = LabLoop(dataset, model, seed)
        self._build(dataset, model, seed)
        self.lab_loop.send("rate", RATES[self.pace.value()])
        self.task = Task("gan-lab")
        self.task.submit(self.lab_loop.run, on_emit=self._on_lab_news,
                         on_error=lambda e: self._on_failed(_message(e)))

    @property
    def running(self) -> bool:
        """The lab's loop is alive (until `shutdown()`, or a lab that could not be built)."""
        return self.task.busy

    def _on_lab_news(self, news) -> None:
        kind, payload = news
        {"snapshot": self._on_snapshot, "state": self._on_state, "config": self._on_config,
         "failed": self._on_failed}[kind](payload)

    # -- commands (also the API for the window and tests) -----------------------------------------
    @property
    def playing(self) -> bool:
        """Play is on: the loop steps by itself (what the window pauses when the tab is left)."""
        return self.play_button.isChecked()

    def play(self) -> None:
        self.play_button.setChecked(True)

    def pause(self) -> None:
        self.play_button.setChecked(False)

    def step_d(self) -> None:
        self.pause()
        self.lab_loop.send("step_d")

    def step_g(self) -> None:
        self.pause()
        self.lab_loop.send("step_g")

    def step_both(self, n: int = 1) -> None:
        self.pause()
        self.lab_loop.send("step_both", n)

    def set_config(self, **changes) -> None:
        self.lab_loop.send("set_config", changes)

    def reset(self, seed: int | None = None, dataset: str | None = None,
              model: str | None = None) -> None:
        self._mode_history.clear()
        self._history_steps.clear()
        self.lab_loop.send("reset", seed if seed is not None else self.seed_spin.value(),
                         dataset, model)

    def shutdown(self) -> None:
        """Stop the lab's loop and wait for it (idempotent)."""
        if not self.task.shutdown(timeout=10):
            raise RuntimeError("the GAN lab's loop did not stop within 10 s")

    # -- layout -----------------------------------------------------------------------------------
    def _build(self, dataset, model, seed) -> None:
        outer = QHBoxLayout(self)
        split = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(split)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("gan_lab_plane")
        p = self.plot.getPlotItem()
        p.setAspectLocked(True)
        p.setMenuEnabled(False)
        p.hideButtons()
        p.setTitle("Real and generated samples over D's map")
        self.d_image = pg.ImageItem(axisOrder="row-major")
        self.d_image.setOpacity(0.55)
        self.d_image.setZValue(-10)
        self.d_image.setLookupTable(pg.colormap.get("CET-D1").getLookupTable(nPts=256))
        p.addItem(self.d_image)
        self.grid_curves = []
        for i, alpha in enumerate((40, 80, 130, 200)):
            c = pg.PlotCurveItem(pen=pg.mkPen((*GRID_COLOR, alpha), width=1), connect="pairs")
            c.setZValue(-5 + i * 0.1)
            p.addItem(c)
            self.grid_curves.append(c)
        self.real_item = pg.ScatterPlotItem(size=3.5, pen=None, brush=pg.mkBrush(REAL_COLOR))
        self.fake_item = pg.ScatterPlotItem(size=3.5, pen=None, brush=pg.mkBrush(FAKE_COLOR))
        self.arrow_item = pg.PlotCurveItem(pen=pg.mkPen(ARROW_COLOR, width=1.3), connect="pairs")
        for item in (self.real_item, self.fake_item, self.arrow_item):
            p.addItem(item)
        # no legend over the data: the layer check boxes below carry the colours
        self.layer_items = {"d_map": [self.d_image], "manifold": self.grid_curves,
                            "real": [self.real_item], "fake": [self.fake_item],
                            "arrows": [self.arrow_item]}
        lv.addWidget(self.plot, 1)
        layers = QGridLayout()  # two rows: one row of five made the lab too wide beside the setup
        self.layer_boxes: dict[str, QCheckBox] = {}
        for n_box, (key, text, tip) in enumerate(LAYERS):
            box = QCheckBox(text)
            box.setChecked(True)
            box.setToolTip(tip)
            color = {"real": REAL_COLOR, "fake": FAKE_COLOR, "arrows": ARROW_COLOR,
                     "manifold": "#14485a"}.get(key)
            if color:
                box.setStyleSheet(f"QCheckBox {{ color: {color}; font-weight: bold; }}")
            box.toggled.connect(lambda on, k=key: self.set_layer(k, on))
            self.layer_boxes[key] = box
            layers.addWidget(box, n_box // 3, n_box % 3)
        layers.setColumnStretch(3, 1)
        lv.addLayout(layers)
        self.d_legend = QLabel()
        self.d_legend.setStyleSheet("color: palette(mid);")
        lv.addWidget(self.d_legend)
        split.addWidget(left)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(4, 0, 0, 0)
        rv.addWidget(self._transport(dataset, model, seed))
        # The mode charts and the config form share the column's height through a splitter:
        # on a 900-pixel screen the form got two rows; now it keeps at least five, and the
        # user can drag the boundary either way.
        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split.setChildrenCollapsible(False)
        self.right_split.addWidget(self._metrics_box())
        self.form_box = QGroupBox("Loss and stabilisers (applied live)")
        self.form_box.setToolTip("Every change applies to the running lab at once; the weights "
                                 "are kept (layer sizes and the latent size rebuild the nets).")
        fl = QVBoxLayout(self.form_box)
        self.form_scroll = QScrollArea()
        self.form_scroll.setWidgetResizable(True)
        self.form_scroll.setMinimumHeight(150)
        fl.addWidget(self.form_scroll)
        self.right_split.addWidget(self.form_box)
        self.right_split.setStretchFactor(0, 0)
        self.right_split.setStretchFactor(1, 1)
        rv.addWidget(self.right_split, 1)
        self.status = QLabel()
        self.status.setObjectName("lab_status")
        self.status.setWordWrap(True)
        rv.addWidget(self.status)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

    def _transport(self, dataset, model, seed) -> QWidget:
        # here, not at the top: the registry imports torch (the panel module stays cheap)
        from workbench.models.registry import get_model_info, list_models

        box = QGroupBox("Training")
        g = QGridLayout(box)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Train continuously at the chosen pace (Space).")
        self.play_button.setShortcut("Space")
        self.play_button.toggled.connect(self._play_toggled)
        self.step_d_button = QPushButton("Step D")
        self.step_d_button.setToolTip("One discriminator update; G stays as it is. Watch D's map "
                                      "and the arrows change while the points stay put.")
        self.step_g_button = QPushButton("Step G")
        self.step_g_button.setToolTip("One generator update against the current D: the points "
                                      "move along the arrows.")
        self.step_both_button = QPushButton("Step both")
        self.step_both_button.setToolTip("One full training step: D steps per G step D updates, "
                                         "then one G update.")
        self.step_d_button.clicked.connect(self.step_d)
        self.step_g_button.clicked.connect(self.step_g)
        self.step_both_button.clicked.connect(lambda: self.step_both(1))
        for i, b in enumerate((self.play_button, self.step_d_button, self.step_g_button,
                               self.step_both_button)):
            g.addWidget(b, 0, i)
        self.pace = QSlider(Qt.Orientation.Horizontal)
        self.pace.setRange(0, len(RATES) - 1)
        self.pace.setValue(len(RATES) - 1)
        self.pace.setToolTip("Slow motion: training steps per second while playing (right end: "
                             "as fast as the machine allows).")
        self.pace_label = QLabel()
        self.pace.valueChanged.connect(self._pace_changed)
        g.addWidget(QLabel("Pace"), 1, 0)
        g.addWidget(self.pace, 1, 1, 1, 2)
        g.addWidget(self.pace_label, 1, 3)
        self.dataset_combo = QComboBox()
        self.dataset_combo.setToolTip("The 2-D data set. ring8 and grid25 are PacGAN's mixtures, "
                                      "with mode metrics; the others have no modes to count.")
        for info in list_datasets():
            if info.kind == "points":
                self.dataset_combo.addItem(info.name)
                self.dataset_combo.setItemData(self.dataset_combo.count() - 1, info.description,
                                               Qt.ItemDataRole.ToolTipRole)
        self.dataset_combo.setCurrentText(dataset)
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("toy_gan: plain GAN training (collapses on grid25); "
                                    "toy_gan_stable: the recipe that keeps every mode.")
        for name in list_models("toy_gan*"):
            self.model_combo.addItem(name)
            self.model_combo.setItemData(self.model_combo.count() - 1,
                                         get_model_info(name).description,
                                         Qt.ItemDataRole.ToolTipRole)
        self.model_combo.setCurrentText(model)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(seed)
        self.seed_spin.setToolTip("Seed of the networks' initial weights, the batches and the "
                                  "noise. Reset to apply.")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Fresh networks from the seed (keeps the live settings "
                                     "unless the model changes).")
        self.reset_button.clicked.connect(lambda: self.reset())
        self.dataset_combo.activated.connect(
            lambda _i: self.reset(dataset=self.dataset_combo.currentText()))
        self.model_combo.activated.connect(
            lambda _i: self.reset(model=self.model_combo.currentText()))
        g.addWidget(QLabel("Data"), 2, 0)
        g.addWidget(self.dataset_combo, 2, 1)
        g.addWidget(QLabel("Model"), 2, 2)
        g.addWidget(self.model_combo, 2, 3)
        g.addWidget(QLabel("Seed"), 3, 0)
        g.addWidget(self.seed_spin, 3, 1)
        g.addWidget(self.reset_button, 3, 2, 1, 2)
        self._pace_changed(self.pace.value())
        return box

    def _metrics_box(self) -> QWidget:
        box = QGroupBox("Modes")
        v = QVBoxLayout(box)
        grid = QGridLayout()
        self.metric_labels: dict[str, QLabel] = {}
        tips = {
            "step": "G updates so far (D updates in brackets) and the steps per second achieved.",
            "hq": "Share of 2500 samples within 3σ of their nearest mode (PacGAN's 'high "
                  "quality'). The ceiling is 98.9 %.",
            "modes": "Modes that are the nearest mode of at least one high-quality sample.",
            "kl": "KL(generated mode histogram ‖ uniform) in nats: 0 = every mode equally "
                  "filled, log K = everything in one mode.",
            "losses": "The latest D and G losses.",
        }
        names = {"step": "step", "hq": "high quality", "modes": "modes captured",
                 "kl": "reverse KL", "losses": "losses"}
        for i, key in enumerate(names):
            name = QLabel(names[key] + ":")
            val = QLabel("—")
            val.setObjectName(f"metric_{key}")
            val.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            for w in (name, val):
                w.setToolTip(tips[key])
            grid.addWidget(name, i // 2, 2 * (i % 2))
            grid.addWidget(val, i // 2, 2 * (i % 2) + 1)
            self.metric_labels[key] = val
        v.addLayout(grid)
        self.modes_plot = pg.PlotWidget(background="w")
        self.modes_plot.setObjectName("mode_history")
        self.modes_plot.setMinimumHeight(120)
        self.modes_plot.setMaximumHeight(190)
        mp = self.modes_plot.getPlotItem()
        mp.setMenuEnabled(False)
        mp.hideButtons()
        mp.setMouseEnabled(False, False)
        mp.setLabel("bottom", "step")
        mp.setLabel("left", "mode")
        mp.setTitle("Samples per mode over time (rows emptying = collapse)", size="9pt")
        self.modes_image = pg.ImageItem(axisOrder="row-major")
        cmap = pg.colormap.get("CET-L1")
        cmap.reverse()  # white = empty
        self.modes_image.setLookupTable(cmap.getLookupTable(nPts=256))
        mp.addItem(self.modes_image)
        self.modes_plot.setToolTip("Each row is a mode, each column a snapshot; darker = more of "
                                   "the generated samples in that mode (black = its fair share "
                                   "1/K). When G collapses, rows go white.")
        v.addWidget(self.modes_plot)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=FAKE_COLOR)
        self.bars_plot = pg.PlotWidget(background="w")
        self.bars_plot.setObjectName("mode_bars")
        self.bars_plot.setMaximumHeight(110)
        bp = self.bars_plot.getPlotItem()
        bp.setMenuEnabled(False)
        bp.hideButtons()
        bp.setMouseEnabled(False, False)
        bp.addItem(self.bars)
        bp.setLabel("left", "% now")
        bp.addLine(y=0, pen=pg.mkPen("#888"))
        self.uniform_line = bp.addLine(y=0, pen=pg.mkPen("#2ca02c", style=Qt.PenStyle.DashLine))
        self.bars_plot.setToolTip("Share of samples in each mode now; the dashed line is the "
                                  "uniform share of a generator that keeps every mode.")
        v.addWidget(self.bars_plot)
        return box

    def _hide_fields(self, form) -> None:
        """Hide the settings that mean nothing for 2-D points (their param(data_kinds=...))."""
        for name, kinds in C.field_metadata(form.config, "data_kinds").items():
            if "points" not in kinds:
                form.set_field_visible(name, False)

    # -- slots ------------------------------------------------------------------------------------
    def set_layer(self, key: str, on: bool) -> None:
        for item in self.layer_items[key]:
            item.setVisible(on)

    def _play_toggled(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        self.lab_loop.send("play" if on else "pause")

    def _pace_changed(self, i: int) -> None:
        r = RATES[i]
        self.pace_label.setText(f"{r} steps/s" if r else "max")
        self.lab_loop.send("rate", r)

    def _on_config(self, config) -> None:
        self.config = config
        if self.form is None or type(self.form.config) is not type(config):
            self.form = ConfigForm(config)
            self._hide_fields(self.form)
            self.form.changed.connect(self._form_changed)
            self.form_scroll.setWidget(self.form)
        else:
            self.form.set_config(config)

    def _form_changed(self) -> None:
        try:
            new = self.form.value()
        except WorkbenchError as e:
            self.status.setText(f"<span style='color:#d62728'>{e}</span>")
            return
        changes = {k: getattr(new, k) for k in new.__dataclass_fields__
                   if getattr(new, k) != getattr(self.config, k)}
        if changes:
            self.status.setText("applied: " + ", ".join(f"{k} = {v}" for k, v in changes.items()))
            self.set_config(**changes)

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"<span style='color:#d62728'>{message}</span>")
        if self.play_button.isChecked():
            self.play_button.blockSignals(True)
            self.play_button.setChecked(False)
            self.play_button.setText("Play")
            self.play_button.blockSignals(False)

    def _on_state(self, st: dict) -> None:
        self.last_state = st
        self.state_changed.emit(st)
        rate = f", {st['steps_per_s']:.0f}/s" if st["playing"] else ""
        self.metric_labels["step"].setText(f"{st['step']} ({st['d_updates']} D){rate}")
        if "dataset" in st:
            for combo, key in ((self.dataset_combo, "dataset"), (self.model_combo, "model")):
                if combo.currentText() != st[key]:
                    combo.setCurrentText(st[key])

    def _on_snapshot(self, snap) -> None:
        """Draw in two slices with a 1 ms timer between them and before the ack: Qt paints what
        changed in between (its paint requests are posted events, which run before timers), and
        input and other timers get their turn. A zero timer would not do: in Qt 6 it is a posted
        event too, so all of it would run as one block. The loop waits for the ack, so the
        painting does not fight it for the GIL (see the module docstring)."""
        if self.snapshot is None:
            _freeze_gc()
        self.snapshot = snap
        if not self.isVisible():  # another tab is showing: draw the newest one when shown
            self._stale = True
            self.lab_loop.ack(0.0)
            return
        self._stale = False
        self._busy_s = 0.0
        self._timed(self._draw_plane, snap)
        QTimer.singleShot(1, self._draw_rest)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if getattr(self, "_stale", False) and self.snapshot is not None:
            self._stale = False
            self._draw(self.snapshot)

    def _timed(self, fn, *args) -> None:
        t0 = time.perf_counter()
        try:
            fn(*args)
        finally:
            self._busy_s += time.perf_counter() - t0

    def _draw_rest(self) -> None:
        try:
            self._timed(self._draw_modes, self.snapshot)
        finally:
            self._t_rest = time.perf_counter()
            QTimer.singleShot(1, self._painted)

    def _painted(self) -> None:
        self.draw_ms.append(self._busy_s * 1000)  # drawing alone; painting is Qt's
        del self.draw_ms[:-500]
        self.lab_loop.ack(self._busy_s + time.perf_counter() - self._t_rest)

    # -- drawing ----------------------------------------------------------------------------------
    def _draw(self, s) -> None:
        """Everything at once (tests, tools); the live path slices it (_on_snapshot)."""
        self._draw_plane(s)
        self._draw_modes(s)

    def _draw_plane(self, s) -> None:
        x0, x1, y0, y1 = s.extent
        p = self.plot.getPlotItem()
        if getattr(self, "_extent", None) != s.extent:
            self._extent = s.extent
            p.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        if s.d_map_kind == "probability":
            levels = (0.0, 1.0)
            self.d_legend.setText("D's map: probability that a point is real "
                                  "(blue 0 · white ½ · red 1)")
        else:
            # a critic has no fixed scale: centre on its median, symmetric robust range
            mid = float(np.median(s.d_map))
            half = float(np.percentile(np.abs(s.d_map - mid), 98)) or 1.0
            levels = (mid - half, mid + half)
            self.d_legend.setText(f"D's map: critic score, {levels[0]:.2g} (blue) … "
                                  f"{levels[1]:.2g} (red)")
        self.d_image.setImage(s.d_map, levels=levels, autoLevels=False)
        self.d_image.setRect(x0, y0, x1 - x0, y1 - y0)
        self.real_item.setData(pos=s.real)
        self.fake_item.setData(pos=s.fake)
        self._draw_manifold(s.manifold, s.manifold_density)
        self._draw_arrows(s.arrow_pos, s.arrow_vec, x1 - x0)
        m = s.metrics
        if m:
            self.metric_labels["losses"].setText(
                f"D {m.get('d_loss', float('nan')):.3f} · G {m.get('g_loss', float('nan')):.3f}")
        self.drawn_step = s.step

    def _draw_manifold(self, pts, dens) -> None:
        k = pts.shape[0]
        # segments along rows and columns of the warped grid; each takes the density of a cell
        # beside it, banded on a log scale into the four curves
        h0, h1 = pts[:, :-1].reshape(-1, 2), pts[:, 1:].reshape(-1, 2)
        v0, v1 = pts[:-1, :].reshape(-1, 2), pts[1:, :].reshape(-1, 2)
        dpad = np.pad(dens, ((0, 1), (0, 1)), mode="edge")
        dh = dpad[:, :-1].reshape(-1)
        dv = dpad[:-1, :].reshape(-1)
        a = np.concatenate([h0, v0])
        b = np.concatenate([h1, v1])
        d = np.concatenate([dh, dv])
        band = np.digitize(np.log10(np.maximum(d, 1e-12)), [-2.0, -1.0, -0.4])
        seg = np.stack([a, b], 1)  # (n, 2, 2)
        for i, curve in enumerate(self.grid_curves):
            sel = seg[band == i].reshape(-1, 2)
            curve.setData(sel[:, 0], sel[:, 1])
        del k

    def _draw_arrows(self, pos, vec, width) -> None:
        if len(pos) == 0:
            self.arrow_item.setData([], [])
            return
        mag = np.hypot(vec[:, 0], vec[:, 1])
        scale = float(np.percentile(mag, 90)) or 1.0
        # lengths ∝ |∇|, the 90th percentile drawn at 5 % of the view, long ones capped
        length = np.minimum(mag / scale, 1.5) * 0.05 * width
        xs, ys = arrow_segments(pos[:, 0] + vec[:, 0] / np.maximum(mag, 1e-12) * length / 2,
                                pos[:, 1] + vec[:, 1] / np.maximum(mag, 1e-12) * length / 2,
                                vec[:, 0], vec[:, 1], length)
        self.arrow_item.setData(xs, ys)

    def _draw_modes(self, s) -> None:
        r = s.modes
        if r is None:
            for key in ("hq", "modes", "kl"):
                self.metric_labels[key].setText("— (no modes in this data)")
            self.modes_image.clear()
            self.bars.setOpts(x=[], height=[])
            return
        self.metric_labels["hq"].setText(f"{100 * r.hq_share:.1f} %")
        self.metric_labels["modes"].setText(f"{r.modes_captured} / {r.n_modes}")
        self.metric_labels["kl"].setText(f"{r.reverse_kl:.3f} nats")
        share = r.counts / max(r.n_samples, 1)
        if self._mode_history and len(self._mode_history[-1]) != len(share):
            self._mode_history.clear()
            self._history_steps.clear()
        if not self._history_steps or s.step != self._history_steps[-1]:
            self._mode_history.append(share)
            self._history_steps.append(s.step)
            del self._mode_history[:-HISTORY_COLUMNS], self._history_steps[:-HISTORY_COLUMNS]
        img = np.stack(self._mode_history, 1)  # modes × time
        # black = a mode holding its fair share of all samples (1/K): a good generator turns
        # the image dark, a collapsing one leaves rows white
        self.modes_image.setImage(img, levels=(0.0, 1.0 / len(share)), autoLevels=False)
        t0, t1 = self._history_steps[0], self._history_steps[-1]
        self.modes_image.setRect(t0, -0.5, max(t1 - t0, 1), len(share))
        self.modes_plot.getPlotItem().setRange(xRange=(t0, t0 + max(t1 - t0, 1)),
                                               yRange=(-0.5, len(share) - 0.5), padding=0)
        self.bars.setOpts(x=np.arange(len(share)), height=100 * share, width=0.8)
        self.uniform_line.setValue(100.0 / len(share))
        self.bars_plot.getPlotItem().setRange(
            xRange=(-0.6, len(share) - 0.4),
            yRange=(0, 100 * max(3.0 / len(share), float(share.max()))), padding=0)
