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
