"""The by-hand path's optimiser step: the fused Adam kernel called directly, where that is safe.

`Adam.step` wraps its fused kernel in Python work (grouping tensors, profiler hooks, argument
checks) that costs more than the kernel itself for the lab's small 2-D players, which take two
optimiser steps per lab step; `python bench/gan_lab.py --skip-modes` prints what the direct call
buys and that it was taken. The kernel, `torch._fused_adam_`, is private torch API, so the direct
call is made only on the torch versions it was tested on (TESTED_TORCH; tests/models/
test_by_hand.py holds it to `opt.step()`), and only where `opt.step()` would do exactly the
same work: a plain fused Adam, no step hooks (the distributed gradient averaging adds some), no
AMSGrad, no grad scaler, state already created by a first `opt.step()`, one device and dtype.
Everywhere else, and when `enabled` is False (the bench's comparison), it calls `opt.step()`.
The same kernel updates the same state tensors, so checkpoints and a later `opt.step()` see no
difference.
"""

from __future__ import annotations

import torch
from torch.optim import optimizer as _optimizer_module

TESTED_TORCH = ((2, 2), (2, 14))  # (major, minor), both ends included
enabled = True
direct_steps = 0  # how many steps took the direct call (the bench and the tests read it)


def _torch_version() -> tuple[int, int]:
    major, minor = torch.__version__.split("+")[0].split(".")[:2]
    return int(major), int(minor)


IN_TESTED_RANGE = TESTED_TORCH[0] <= _torch_version() <= TESTED_TORCH[1] and hasattr(
    torch, "_fused_adam_")


def step(opt: torch.optim.Optimizer) -> None:
    """One optimiser step on the gradients already set on the parameters."""
    global direct_steps
    if enabled and IN_TESTED_RANGE and _direct_step(opt):
        direct_steps += 1
    else:
        opt.step()


def _direct_step(opt: torch.optim.Optimizer) -> bool:
    """One fused Adam step on every parameter with a gradient; False (nothing done) where
    `opt.step()` must do it."""
    if (type(opt) is not torch.optim.Adam or opt._optimizer_step_pre_hooks
            or opt._optimizer_step_post_hooks
            or getattr(_optimizer_module, "_global_optimizer_pre_hooks", None)
            or getattr(_optimizer_module, "_global_optimizer_post_hooks", None)
            or getattr(opt, "grad_scale", None) is not None):
        return False
    plans = []
    for group in opt.param_groups:
        if (not group.get("fused") or group["amsgrad"] or group["differentiable"]
                or group.get("decoupled_weight_decay") or torch.is_tensor(group["lr"])):
            return False
        ps, gs, m, v, steps = [], [], [], [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            state = opt.state.get(p)
            if not state:  # the first step creates the state: let Adam do it
                return False
            ps.append(p)
            gs.append(p.grad)
            m.append(state["exp_avg"])
            v.append(state["exp_avg_sq"])
            steps.append(state["step"])
        if ps and any(p.device != ps[0].device or p.dtype != ps[0].dtype for p in ps):
            return False
        plans.append((group, ps, gs, m, v, steps))
    for group, ps, gs, m, v, steps in plans:
        if not ps:
            continue
        beta1, beta2 = group["betas"]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(ps, gs, m, v, [], steps, amsgrad=False, lr=group["lr"], beta1=beta1,
                           beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                           maximize=group["maximize"], grad_scale=None, found_inf=None)
    return True
