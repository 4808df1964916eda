"""Multi-process DDP on CPU: two ``gloo`` processes train through the CLI with no code change."""

from __future__ import annotations

import os
import subprocess
import sys

from thzface.recipes import load_run


def test_two_gloo_processes(repo, tiny_data, tmp_path):
    run = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "thzface.cli",
        "train",
        str(repo / "configs/mtl-tiny.yaml"),
        "--data",
        str(tiny_data),
        "--out",
        str(run),
        "train.devices=2",
        "train.strategy=ddp",
        "train.accelerator=cpu",
        "train.max_steps=2",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "gloo" in res.stderr or "distributed_backend=gloo" in res.stdout + res.stderr
    cfg, model, extra = load_run(run)
    assert cfg.train.devices == 2 and extra["step"] >= 1
