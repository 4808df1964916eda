"""``thzface train`` killed with SIGKILL mid-run and run again ends with the weights of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

ARGS = ["mtl-tiny", "train.max_steps=24", "train.max_epochs=1000"]  # a preset name, not a path; one ckpt per epoch


def train_cmd(data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "thzface.cli", "train", *ARGS[:1], "--data", str(data), "--out", str(out), *ARGS[1:]]


def env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}


def weights(run: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert ckpt["global_step"] == 24
    return ckpt["state_dict"]


def test_sigkill_then_rerun_matches_uninterrupted(tiny_data: Path, tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(train_cmd(tiny_data, straight), env=env(), check=True, capture_output=True)
    proc = subprocess.Popen(train_cmd(tiny_data, killed), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last, deadline = killed / "checkpoints" / "last.ckpt", time.monotonic() + 300
    while not last.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = torch.load(last, weights_only=True, map_location="cpu")["global_step"]
    assert 0 < step < 24, step  # killed mid-run, after at least one checkpoint
    rerun = subprocess.run(train_cmd(tiny_data, killed), env=env(), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert '"resumed_from":' in rerun.stdout and "last.ckpt" in rerun.stdout
    a, b = weights(straight), weights(killed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
