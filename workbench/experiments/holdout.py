"""The hold-out study behind the anomaly lesson: train an autoencoder or VAE without one class,
then score every validation image by its reconstruction error (analysis/anomaly.py scores; this
module trains, so it sits above the engine)."""

from __future__ import annotations


from workbench.analysis.anomaly import AnomalyResult, score_set
from workbench.core.errors import ConfigError, DatasetError
from workbench.core.tasks import Cancelled, TaskContext
from workbench.data.spec import TensorData
from workbench.engine.events import Finished, Metrics
from workbench.engine.trainer import Trainer, TrainSettings
from workbench.models.registry import get_config, get_model_info


def without_class(data, k: int):
    """`data` with class k removed from its training split (the validation split is kept whole:
    it is what gets scored). The description records the hold-out, so a run saved from it never
    claims the full set."""
    if data.y_train is None:
        raise DatasetError(f"{data.name} has no labels: there is no class to hold out")
    n = data.spec.num_classes
    if not 0 <= k < n:
        raise ConfigError(f"--holdout must be a class in 0..{n - 1}, got {k}")
    keep = data.y_train != k
    return TensorData(f"{data.name}-without-{k}", data.spec, data.x_train[keep],
                      data.y_train[keep], data.x_val, data.y_val,
                      {**data.source, "without_class": int(k)}, data.class_names)


def holdout_experiment(model_name: str, data, holdout: int, steps: int, *,
                       batch_size: int = 64, seed: int = 0, config=None, device: str = "cpu",
                       kind: str = "mse", ctx: TaskContext | None = None) -> AnomalyResult:
    """Train `model_name` for `steps` steps on `data` without class `holdout`, then score every
    validation image. `ctx` hears of progress (steps done of all) as training goes, and a stop
    asked of it raises Cancelled after the next step."""
    ctx = ctx or TaskContext()
    info = get_model_info(model_name)
    if not callable(getattr(info.model_cls, "reconstruct", None)):
        raise ConfigError(f"{model_name} cannot reconstruct (a GAN has no encoder): the anomaly "
                          "score is a reconstruction error; use an autoencoder or a VAE")
    if info.model_cls.conditional:
        raise ConfigError(f"{model_name} is conditional: it needs the label to reconstruct, "
                          "which an anomaly score must not know; use an unconditional AE or VAE")
    if steps < 1:
        raise ConfigError("--steps must be at least 1")
    train = without_class(data, holdout)
    settings = TrainSettings(batch_size=batch_size, steps=steps, epochs=0, seed=seed,
                             device=device, sample_every_s=0.0, log_every=max(1, min(10, steps)))
    trainer = Trainer(model_name, train, settings,
                      config=config if config is not None else get_config(model_name))
    ctx.progress(0, steps)
    for ev in trainer.fit():
        if ctx.cancelled:
            trainer.stop()  # it ends with Finished("stopped"), below
        if isinstance(ev, Metrics) and ev.phase == "train":
            ctx.progress(ev.step, steps)
        elif isinstance(ev, Finished):
            if ev.reason == "stopped":
                raise Cancelled("cancelled")
            if ev.reason == "diverged":
                raise ConfigError(f"training diverged: {ev.message}")
    model = trainer.model.eval()
    res = score_set(model, data.to(model.device), holdout, kind)
    res.model, res.steps, res.dataset = model_name, steps, data.name
    ctx.progress(steps, steps)
    return res
