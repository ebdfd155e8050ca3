"""Runs that are never lost: kill -9 of `genworkbench train` at random moments then --resume;
a pickle with code in it planted as a state file never runs; truncated checkpoints give a clear
error and resume falls back; a full disk during a save keeps the previous checkpoint."""

from __future__ import annotations

import errno
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from workbench.cli import main
from workbench.core import config as C
from workbench.core.errors import CheckpointError
from workbench.models.registry import get_config
from workbench.engine.checkpoint import list_checkpoints, load_state
from workbench.engine.runs import RunDir
from workbench.engine.trainer import Trainer, TrainSettings
from workbench.engine.workspace import read_run

STEPS = 300
ARGS = ["train", "ae_mlp", "--dataset", "mnist5k", "--steps", str(STEPS), "--batch-size", "32",
        "--set", "log_every=1", "--checkpoint-every", "7", "--seed", "5", "--device", "cpu", "-v"]
NEW = ["--set", "hidden=32"]  # a model setting: only for the first start (--resume refuses it)


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("PYTHONFAULTHANDLER", None)
    return env


def _train_losses(run_dir: Path) -> dict[int, float]:
    recs = [r for r in RunDir.open(run_dir).read_metrics() if "loss" in r]
    steps = [r["step"] for r in recs]
    assert steps == sorted(set(steps)), "a step was logged twice or out of order"
    return {r["step"]: r["loss"] for r in recs}


def _start(out: Path, resume: bool) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "workbench", *ARGS, "--out", str(out)]
    return subprocess.Popen(cmd + (["--resume"] if resume else NEW), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=_env())


def test_kill_9_at_random_moments_then_resume_finishes_exactly(tmp_path):
    """Three kills of one run, each at a random step and a random moment within it (a save
    included) once training is under way (a checkpoint written: before that --resume says 'no
    checkpoint yet'), then --resume to the end. The resumed run's losses equal an uninterrupted
    run's, each step logged once."""
    rng = random.Random(1234)
    out = tmp_path / "r"
    kills = 0
    for attempt in range(3):
        p = _start(out, resume=attempt > 0)
        seen_ckpt, start, target = False, 0, None
        for line in p.stdout:
            if "resuming at step" in line:
                start = int(line.rsplit(" ", 1)[1])
            if line.startswith("checkpoint "):
                seen_ckpt = True
                target = target or rng.randint(start + 8, start + 60)
            if seen_ckpt and line.startswith("step ") and int(line.split()[1]) >= target:
                break
        time.sleep(rng.uniform(0.0, 0.05))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        rest = p.stdout.read()
        p.wait(60)
        assert p.returncode in (0, -signal.SIGKILL), rest
        info = read_run(out)  # the Runs list tells a killed run from a stopped one
        if p.returncode == -signal.SIGKILL:
            assert info.status == "killed", info
    assert kills >= 2, "the runs finished before they could be killed: make them longer"
    done = subprocess.run([sys.executable, "-m", "workbench", *ARGS, "--out", str(out),
                           "--resume"], capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"finished at step {STEPS} of {STEPS}" in done.stdout
    assert read_run(out).status == "finished"
    assert list_checkpoints(out / "checkpoints")[-1].step == STEPS

    # the same run in one go, in this process (one thread, like the children)
    from workbench.data import load_dataset

    s = C.replace(TrainSettings(), batch_size=32, steps=STEPS, epochs=0, seed=5, device="cpu",
                  log_every=1, checkpoint_every=0, sample_every_s=0.0)
    for _ in Trainer("ae_mlp", load_dataset("mnist5k"), s,
                     config=C.replace(get_config("ae_mlp"), hidden=(32,)),
                     run_dir=tmp_path / "once").fit():
        pass
    killed, once = _train_losses(out), _train_losses(tmp_path / "once")
    assert sorted(killed) == list(range(1, STEPS + 1))
    assert killed == once


# -- hostile and broken files ---------------------------------------------------------------------
class Evil:
    """Unpickling this runs os.system: a marker file appears if it is ever executed."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _small_run(data, out, steps=6, every=3):
    s = C.replace(TrainSettings(), batch_size=16, steps=steps, epochs=0, device="cpu",
                  log_every=1, checkpoint_every=every, sample_every_s=0.0)
    t = Trainer("ae_mlp", data, s, config=C.replace(get_config("ae_mlp"), hidden=(32,)),
                run_dir=out)
    return t, list(t.fit())


def _resume(data, out, steps):
    s = C.replace(TrainSettings(), batch_size=16, steps=steps, epochs=0, device="cpu",
                  log_every=1, checkpoint_every=3, sample_every_s=0.0)
    t = Trainer("ae_mlp", data, s, run_dir=out, resume=True)
    return t, list(t.fit())


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch on the raw pickle
@pytest.mark.parametrize("fmt", ["torch-zip", "raw-pickle"])
def test_a_malicious_state_file_is_refused_and_never_runs(tiny_mnist, tmp_path, fmt):
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(Evil(probe)))  # the payload does run when unpickled plainly
    assert probe.exists()

    marker = tmp_path / "pwned"
    _small_run(tiny_mnist, tmp_path / "r")
    newest = RunDir.open(tmp_path / "r").checkpoints()[-1]
    payload = {"step": 6, "optimizers": Evil(marker), "rng": {}}
    if fmt == "torch-zip":
        torch.save(payload, newest.state)
    else:
        newest.state.write_bytes(pickle.dumps(payload))

    with pytest.raises(CheckpointError, match="refused") as ei:
        load_state(newest.state)
    assert "could run code" in str(ei.value) and newest.state.name in str(ei.value)
    trainer, events = _resume(tiny_mnist, tmp_path / "r", steps=9)
    assert events[0].start_step == 3  # fell back to the previous checkpoint
    assert "refused" in trainer.warnings[0] and events[-1].reason == "completed"
    assert not marker.exists()


def _truncate(path: Path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_checkpoints_give_clear_errors(tiny_mnist, tmp_path, capsys):
    _small_run(tiny_mnist, tmp_path / "r", steps=3, every=3)
    (only,) = RunDir.open(tmp_path / "r").checkpoints()
    _truncate(only.weights)
    assert main(["sample", str(tmp_path / "r"), "--n", "4", "--out", str(tmp_path / "s.png"),
                 "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("genworkbench: error: no readable checkpoint") and "\n" not in err
    assert only.weights.name in err and "corrupt or incomplete" in err
    _truncate(only.state)
    with pytest.raises(CheckpointError, match="corrupt or incomplete"):
        load_state(only.state)


# -- a full disk during a save ---------------------------------------------------------------------
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name the fd")
@pytest.mark.parametrize("which", ["safetensors", "state.pt"])
def test_a_full_disk_during_a_save_keeps_the_previous_checkpoint(tiny_mnist, tmp_path,
                                                                 monkeypatch, which):
    real_fsync = os.fsync

    def fsync(fd):
        name = os.readlink(f"/proc/self/fd/{fd}")
        if f"step-00000006.{which}" in name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(CheckpointError) as ei:
        _small_run(tiny_mnist, tmp_path / "r", steps=9, every=3)
    msg = str(ei.value)
    assert "step 6" in msg and "No space left on device" in msg
    assert "previous checkpoint (step 3) is intact" in msg
    ckdir = tmp_path / "r" / "checkpoints"
    assert sorted(p.name for p in ckdir.iterdir()) == ["step-00000003.safetensors",
                                                       "step-00000003.state.pt"]
    monkeypatch.setattr(os, "fsync", real_fsync)
    info = read_run(tmp_path / "r")  # the Runs list says why the run ended
    assert info.status == "failed" and info.message == msg and info.checkpoint_step == 3
    model = RunDir.open(tmp_path / "r").load_model()
    assert model.loaded_step == 3 and model.load_warnings == []
    trainer, events = _resume(tiny_mnist, tmp_path / "r", steps=9)
    assert events[0].start_step == 3 and events[-1].reason == "completed"


def test_a_full_disk_is_one_clear_line_from_the_cli(tmp_path, monkeypatch, capsys):
    import workbench.engine.checkpoint as ck

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ck, "atomic_write_bytes", full)
    assert main(["train", "ae_mlp", "--dataset", "mnist5k", "--steps", "2", "--batch-size",
                 "16", "--set", "hidden=16", "--device", "cpu",
                 "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"genworkbench: error: cannot save the checkpoint at step 2 in "
                   f"{tmp_path / 'r' / 'checkpoints'}: No space left on device; "
                   "no earlier checkpoint exists")
