"""Short training runs for the lesson studies: a few hundred steps on the Trainer's batch order.

A study trains a model briefly and then looks at it; it needs none of the Trainer's run
directory, checkpoints or events, only what makes its training comparable to a real run: the
same batch order (epoch e is the permutation `epoch_order(n, seed, e)`, the last partial batch
dropped). `short_run` is a generator, like `Trainer.fit`: the study's loop body does what only
it knows (a learning-rate schedule, a validation pass, recording a metric) between two steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from workbench.core.errors import ConfigError
from workbench.engine.trainer import epoch_order


def short_run(trainee, steps: int, ctx, *, x=None, y=None, batch_size: int = 64,
              seed: int = 0, name: str = "training", text: Callable[[int], str] | None = None,
              span: tuple[float, float] = (0.0, 1.0), report_every: int = 10,
              finite: bool = True) -> Iterator[tuple[int, dict[str, float]]]:
    """Run `steps` steps of `trainee`, yielding (steps done, what the step returned) after each.

    `trainee` is a model (each step: `model.train()`, then `model.train_step(xb, yb)`, as in
    the Trainer) or a step function: `step(xb, yb)` with data, `step()` without (a study that
    draws its batches from a known distribution, e.g. a discriminator between two segments).
    With data `x` (and labels `y`, else yb is None) the batches come in the Trainer's order
    from `seed`; a batch larger than the data is the whole data.

    ctx.check() runs before every step, so a cancel request lands within one step.
    ctx.progress() reports before the first step, every `report_every` steps and after the
    last, mapping this run onto `span` of the whole study, with `text(steps done)` (default
    "name: step s/steps"); it runs after the loop body, so the text may show what the body
    just measured. With `finite`, a step that returns a non-finite number is a ConfigError
    naming `name` (False: the value is yielded and the caller decides)."""
    if x is None and y is not None:
        raise ValueError("labels need their data: pass x with y")
    run = _step_of(trainee, with_data=x is not None)
    n = len(x) if x is not None else 0
    bs = min(batch_size, n)
    per_epoch = n // bs if n else 0
    a, b = span
    say = text or (lambda s: f"{name}: step {s}/{steps}")
    order, order_epoch = None, -1
    ctx.progress(a, text=say(0))
    for s in range(steps):
        ctx.check()
        if x is None:
            values = run()
        else:
            epoch, i = divmod(s, per_epoch)
            if epoch != order_epoch:
                order, order_epoch = epoch_order(n, seed, epoch, x.device), epoch
            idx = order[i * bs:(i + 1) * bs]
            values = run(x[idx], y[idx] if y is not None else None)
        if finite:
            bad = next((k for k, v in values.items() if not math.isfinite(v)), None)
            if bad is not None:
                raise ConfigError(f"{name} diverged at step {s + 1} ({bad} became "
                                  f"{values[bad]}); try a lower learning rate")
        yield s + 1, values
        if (s + 1) % report_every == 0 or s + 1 == steps:
            ctx.progress(a + (b - a) * (s + 1) / steps, text=say(s + 1))


def _step_of(trainee, with_data: bool) -> Callable[..., dict[str, float]]:
    train_step = getattr(trainee, "train_step", None)
    if train_step is None:
        return trainee
    if not with_data:
        raise ValueError("a model's train_step needs data: pass x")

    def step(xb, yb):
        trainee.train()  # a validation pass in the loop body may have left it in eval mode
        return train_step(xb, yb)

    return step
