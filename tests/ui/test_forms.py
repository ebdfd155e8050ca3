from workbench.engine.trainer import TrainSettings
from workbench.models.vae import VAEConfig


def test_form_round_trip_and_limits(qtbot):
    from workbench.core.errors import ConfigError
    from workbench.ui.forms import ConfigForm, LogSpinBox

    f = ConfigForm(VAEConfig())
    qtbot.addWidget(f)
    assert f.value() == VAEConfig()
    lat = f.widget("latent_dim")
    assert lat.minimum() == 1 and lat.maximum() == 1024
    assert "Size of the code" in lat.toolTip()
    lat.setValue(7)
    f.widget("hidden").setText("300, 100")
    f.widget("arch").setCurrentIndex(1)
    cfg = f.value()
    assert cfg.latent_dim == 7 and cfg.hidden == (300, 100) and cfg.arch == "conv"
    lr = f.widget("lr")
    assert isinstance(lr, LogSpinBox)
    lr.stepBy(4)  # one decade up
    assert abs(f.value().lr - 1e-2) < 1e-9
    f.widget("hidden").setText("0,100")
    try:
        f.value()
    except ConfigError as e:
        assert "hidden" in str(e)
    else:
        raise AssertionError("a zero-width layer must be refused")


def test_a_list_of_numbers_round_trips_through_its_line_edit(qtbot):
    from dataclasses import dataclass

    from PySide6.QtWidgets import QLineEdit

    from workbench.core.config import param
    from workbench.core.errors import ConfigError
    from workbench.ui.forms import ConfigForm

    @dataclass(frozen=True)
    class Points:
        thetas: tuple[float, ...] = param((-1.0, 0.25, 1e-5, 2.0 / 3.0), min=-10, max=10,
                                          help="Where to look.")

    f = ConfigForm(Points())
    qtbot.addWidget(f)
    w = f.widget("thetas")
    assert isinstance(w, QLineEdit)
    assert w.text().startswith("-1, 0.25, 1e-05, 0.666")
    assert f.value() == Points()  # the shortest text that reads back exactly
    assert w.validator().validate("-1, .5, 2e-3", 0)[0].name == "Acceptable"
    assert w.validator().validate("1, a", 0)[0].name == "Invalid"
    w.setText("0.5, -2")
    assert f.value().thetas == (0.5, -2.0)
    w.setText("0.5, 20")
    try:
        f.value()
    except ConfigError as e:
        assert "thetas" in str(e) and "20" in str(e)
    else:
        raise AssertionError("an entry beyond max must be refused")


def test_train_settings_form(qtbot):
    from workbench.ui.forms import ConfigForm

    f = ConfigForm(TrainSettings())
    qtbot.addWidget(f)
    f.widget("batch_size").setValue(32)
    f.widget("device").setCurrentText("cpu")
    s = f.value()
    assert s.batch_size == 32 and s.device == "cpu"


def test_a_hidden_field_hides_its_label_and_stays_hidden(qtbot):
    from workbench.ui.forms import ConfigForm

    f = ConfigForm(VAEConfig())
    qtbot.addWidget(f)
    f.show()
    arch = f.widget("arch")
    label = f.layout().labelForField(arch)
    f.set_field_visible("arch", False)
    assert not arch.isVisible() and not label.isVisible()
    f.show_only(None)  # classroom mode showing every row leaves a hidden field hidden
    assert not arch.isVisible() and f.widget("latent_dim").isVisible()
    f.set_field_visible("arch", True)
    assert arch.isVisible() and label.isVisible()
    assert f.config == VAEConfig()
