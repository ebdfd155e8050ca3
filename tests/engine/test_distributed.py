"""`genworkbench train` under torchrun: 2 CPU processes (gloo) against 1 process with the same
global batch. Each rank takes its half of every global batch, so the union of the shards is the
single process's batch and averaged gradients are the single process's gradients."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from workbench.core.errors import ConfigError
from workbench.engine.distributed import Distributed
from workbench.engine.runs import RunDir

dist = pytest.importorskip("torch.distributed")
pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="this PyTorch build has no torch.distributed with the gloo backend")

TINY = ["--dataset", "mnist5k", "--seed", "1", "--batch-size", "32", "--set", "hidden=32",
        "--set", "latent_dim=4", "--set", "log_every=1"]


def _env():
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"  # two ranks on a 2-core machine
    return env


def train(*args, procs: int = 1):
    """`genworkbench train` under torchrun with `procs` processes, or (procs=1) in this process,
    which saves starting Python and torch once more."""
    argv = ["train", *map(str, args)]
    if procs == 1:
        from workbench.cli import main

        n = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            assert main(argv) == 0
        finally:
            torch.set_num_threads(n)
        return None
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        "--nproc_per_node", str(procs), "-m", "workbench", *argv], env=_env(),
                       capture_output=True, text=True, timeout=180, check=False)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return r


def train_losses(run_dir) -> list[dict]:
    return [r for r in RunDir.open(run_dir).read_metrics() if "loss" in r]


def flat_weights(run_dir) -> torch.Tensor:
    model = RunDir.open(run_dir).load_model()  # a single-process session loads it
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.fixture(scope="module")
def vae_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("vae")
    train("vae_mlp", *TINY, "--steps", 12, "--out", root / "dist", procs=2)
    train("vae_mlp", *TINY, "--steps", 12, "--out", root / "single")
    return root


def test_ae_matches_single_process_exactly(tmp_path):
    # A deterministic model: same data, same averaged gradients, so the same losses and weights
    # up to the order of float sums in the all-reduce.
    train("ae_mlp", *TINY, "--steps", 4, "--out", tmp_path / "d", procs=2)
    train("ae_mlp", *TINY, "--steps", 4, "--out", tmp_path / "s")
    d, s = train_losses(tmp_path / "d"), train_losses(tmp_path / "s")
    assert [r["step"] for r in d] == [1, 2, 3, 4]
    assert [r["loss"] for r in d] == pytest.approx([r["loss"] for r in s], rel=1e-5)
    assert torch.allclose(flat_weights(tmp_path / "d"), flat_weights(tmp_path / "s"),
                          rtol=1e-4, atol=1e-6)


def test_vae_matches_single_process(vae_runs):
    d, s = train_losses(vae_runs / "dist"), train_losses(vae_runs / "single")
    assert [r["step"] for r in d] == [r["step"] for r in s] == list(range(1, 13))
    # Step 1: the same weights and the same 32 images; the KL term has no noise in it.
    assert d[0]["kl"] == pytest.approx(s[0]["kl"], rel=1e-5)
    # Each rank draws its own reparameterisation noise (ε in z = μ + σε), so the single-sample
    # ELBO differs by Monte Carlo noise only; measured ≤ 1 % per step at batch 32 (20 steps).
    for a, b in zip(d, s):
        assert a["loss"] == pytest.approx(b["loss"], rel=0.02), a["step"]
    assert d[-1]["loss"] < d[0]["loss"] - 20  # and both learn: 12 steps take off ~40 nats


def test_vae_weights_close_and_run_written_once(vae_runs):
    from workbench.models.registry import create_model
    from workbench.core.seeding import seed_everything

    run = RunDir.open(vae_runs / "dist")
    seed_everything(1)
    w0 = torch.cat([p.detach().flatten() for p in create_model(
        "vae_mlp", data=run.data_spec(), config=run.config()).parameters()])
    wd, ws = flat_weights(vae_runs / "dist"), flat_weights(vae_runs / "single")
    # The two runs move the weights the same way: their gap is a fraction of the way travelled.
    assert (wd - ws).norm() < 0.5 * (ws - w0).norm()
    assert (wd - w0).norm() == pytest.approx((ws - w0).norm(), rel=0.15)
    # Written by rank 0 alone: every metric line once, one checkpoint, the same files.
    lines = run.read_metrics()
    assert len(lines) == len(RunDir.open(vae_runs / "single").read_metrics()) == 13
    assert [c.step for c in run.checkpoints()] == [12]
    assert sorted(p.name for p in (vae_runs / "dist").rglob("*")) == sorted(
        p.name for p in (vae_runs / "single").rglob("*"))
    assert run.meta["train"]["batch_size"] == 32  # the global batch
    assert sorted(p.name for p in vae_runs.iterdir()) == ["dist", "single"]  # nothing stray


def test_gan_resumes_across_single_and_distributed(tmp_path):
    out = tmp_path / "gan"
    common = ["gan_mlp", "--dataset", "mnist5k", "--batch-size", 32, "--set", "log_every=1",
              "--out", out]
    train(*common, "--set", "hidden=16", "--set", "latent_dim=4", "--steps", 2)
    r = train(*common, "--steps", 4, "--resume", procs=2)  # a single-process checkpoint
    assert "resuming at step 2" in r.stdout and "16 on each of 2 processes, gloo" in r.stdout
    run = RunDir.open(out)
    state = torch.load(run.checkpoints()[-1].state, weights_only=True)
    assert state["step"] == 4 and len(state["rng_ranks"]) == 2  # two players, two optimizers
    assert set(state["optimizers"]) == {"G", "D"}
    train(*common, "--steps", 5, "--resume")  # and back to one process
    steps = [r["step"] for r in train_losses(out)]
    assert steps == [1, 2, 3, 4, 5]
    assert all(abs(r["d_loss"]) < 10 for r in train_losses(out))
    assert run.load_model().loaded_step == 5


def test_from_env():
    assert Distributed.from_env({}) is None
    assert Distributed.from_env({"RANK": "0", "WORLD_SIZE": "1"}) is None  # one process: plain
    d = Distributed.from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert (d.rank, d.world_size, d.local_rank, d.is_main) == (1, 2, 1, False)
    assert d.shard(32) == (16, 32)
    with pytest.raises(ConfigError, match="the batch size 33 is the global batch and must "
                                          "split evenly over the 2 processes"):
        d.shard(33)
