"""Forms generated from dataclass configs (core/config.py): one widget per field, its help text
as the tooltip, its limits on the widget. `value()` returns a new config via `config.replace`, so
a form can never produce a value the CLI would refuse."""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtGui import QRegularExpressionValidator, QValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLineEdit,
                               QSpinBox, QWidget)

from workbench.core import config as C

INT_LIMIT = 2**31 - 1
_NUMBER = r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"  # one entry of a "floats" field


def _number_text(v: float) -> str:
    """The shortest text that reads back as exactly `v` ("0.25", "-1", "1e-05")."""
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


class LogSpinBox(QDoubleSpinBox):
    """A spin box for scale-like numbers (learning rates): shows 1e-3, steps by ×/÷ 10^¼."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDecimals(12)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:
        return f"{value:.4g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text, pos):
        try:
            float(text)
            return QValidator.State.Acceptable, text, pos
        except ValueError:
            return QValidator.State.Intermediate, text, pos

    def stepBy(self, steps: int) -> None:
        v = self.value()
        if v <= 0:
            v = max(self.minimum(), 1e-6)
        self.setValue(v * 10 ** (steps / 4))


def _tooltip(spec: C.FieldSpec) -> str:
    tip = spec.help
    if spec.min is not None or spec.max is not None:
        tip += f"\nRange: {spec.min if spec.min is not None else '−∞'} … " \
               f"{spec.max if spec.max is not None else '∞'}"
    return f"<b>{spec.name}</b><br>{tip}".replace("\n", "<br>")


class ConfigForm(QWidget):
    """Edits one frozen dataclass config; emits `changed` on any edit."""

    changed = Signal()

    def __init__(self, config, parent=None):
        super().__init__(parent)
        self._config = config
        self._widgets: dict[str, QWidget] = {}
        self._hidden: set[str] = set()  # rows set_field_visible hid (show_only keeps them hidden)
        self._specs = {s.name: s for s in C.fields_of(config)}
        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for spec in self._specs.values():
            w = self._make_widget(spec)
            w.setToolTip(_tooltip(spec))
            w.setObjectName(f"field_{spec.name}")
            self._widgets[spec.name] = w
            layout.addRow(spec.label, w)
            layout.labelForField(w).setToolTip(_tooltip(spec))
        self.set_config(config)

    def _make_widget(self, spec: C.FieldSpec) -> QWidget:
        if spec.kind == "bool":
            w = QCheckBox()
            w.toggled.connect(self.changed)
        elif spec.kind in ("choice",) or spec.choices:
            w = QComboBox()
            w.addItems([str(c) for c in spec.choices])
            w.currentIndexChanged.connect(self.changed)
        elif spec.kind == "int":
            w = QSpinBox()
            w.setRange(int(max(spec.min if spec.min is not None else -INT_LIMIT, -INT_LIMIT)),
                       int(min(spec.max if spec.max is not None else INT_LIMIT, INT_LIMIT)))
            w.setKeyboardTracking(False)
            w.valueChanged.connect(self.changed)
        elif spec.kind == "float":
            lo = spec.min if spec.min is not None else -1e12
            hi = spec.max if spec.max is not None else 1e12
            if spec.log:
                w = LogSpinBox()
            else:
                w = QDoubleSpinBox()
                w.setDecimals(4)
                w.setSingleStep(_nice_step(lo, hi))
                w.setKeyboardTracking(False)
            w.setRange(lo, hi)
            w.valueChanged.connect(self.changed)
        elif spec.kind == "ints":
            w = QLineEdit()
            w.setValidator(QRegularExpressionValidator(r"^\s*\d+(\s*,\s*\d+)*\s*$"))
            w.setPlaceholderText("e.g. 512,256")
            w.editingFinished.connect(self.changed)
        elif spec.kind == "floats":
            w = QLineEdit()
            w.setValidator(QRegularExpressionValidator(rf"^\s*{_NUMBER}(\s*,\s*{_NUMBER})*\s*$"))
            w.setPlaceholderText("e.g. -1, 0.5")
            w.editingFinished.connect(self.changed)
        else:
            w = QLineEdit()
            w.editingFinished.connect(self.changed)
        return w

    def set_config(self, config) -> None:
        self._config = config
        for name, w in self._widgets.items():
            v = getattr(config, name)
            w.blockSignals(True)
            if isinstance(w, QCheckBox):
                w.setChecked(bool(v))
            elif isinstance(w, QComboBox):
                w.setCurrentIndex(max(0, w.findText(str(v))))
            elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                w.setValue(v)
            elif self._specs[name].kind == "ints":
                w.setText(",".join(str(i) for i in v))
            elif self._specs[name].kind == "floats":
                w.setText(", ".join(_number_text(f) for f in v))
            else:
                w.setText(str(v))
            w.blockSignals(False)

    def raw_values(self) -> dict:
        out = {}
        for name, w in self._widgets.items():
            spec = self._specs[name]
            if isinstance(w, QCheckBox):
                out[name] = w.isChecked()
            elif isinstance(w, QComboBox):
                choice = spec.choices[w.currentIndex()]
                out[name] = choice
            elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                out[name] = w.value()
            else:
                out[name] = w.text()
        return out

    def value(self):
        """The edited config (raises ConfigError naming the field if a value is refused)."""
        current = C.to_dict(self._config)
        changes = {k: v for k, v in self.raw_values().items()
                   if not (isinstance(v, str) and self._specs[k].kind in ("ints", "floats")
                           and C.parse_value(self._specs[k], v) == tuple(current[k]))
                   and v != current[k]}
        return C.replace(self._config, **changes) if changes else self._config

    @property
    def config(self):
        """The config the form was last set to (not the edits: `value()` has those)."""
        return self._config

    def widget(self, name: str) -> QWidget:
        return self._widgets[name]

    def set_field_visible(self, name: str, visible: bool) -> None:
        """Show or hide one field's row, label included (a field that means nothing here)."""
        if visible:
            self._hidden.discard(name)
        else:
            self._hidden.add(name)
        self.layout().setRowVisible(self._widgets[name], visible)

    def show_only(self, names) -> None:
        """Show only the rows of `names` (None: every row), e.g. for classroom mode; rows hidden
        with set_field_visible stay hidden."""
        layout = self.layout()
        for name, w in self._widgets.items():
            layout.setRowVisible(w, name not in self._hidden and (names is None or name in names))

    def set_enabled_fields(self, enabled: dict[str, bool]) -> None:
        for name, on in enabled.items():
            if name in self._widgets:
                self._widgets[name].setEnabled(on)


def _nice_step(lo: float, hi: float) -> float:
    span = hi - lo
    if not math.isfinite(span) or span <= 0 or span > 1e6:
        return 0.1
    return 10 ** math.floor(math.log10(span / 20)) if span > 0 else 0.1
