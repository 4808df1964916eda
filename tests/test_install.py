"""A non-editable install into a fresh virtual environment ships the presets: ``thzface train mtl-tiny`` works.

The wheel is built from this checkout; third-party dependencies come from the running interpreter's
site-packages (linked with a .pth file) so the test needs no network and no dependency download.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_in_fresh_venv_trains_a_preset_by_name(tmp_path: Path) -> None:
    wheels, env_dir, work = tmp_path / "wheels", tmp_path / "venv", tmp_path / "elsewhere"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing of the checkout on the path
    env.update(OMP_NUM_THREADS="1", THZFACE_CACHE=str(tmp_path / "cache"))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)]
    tree = tmp_path / "tree"  # a copy, so the in-tree build leaves no build/ in the checkout
    shutil.copytree(REPO / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tree / name)
    subprocess.run([*build, str(tree)], env=env, check=True, capture_output=True)
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    wheel = next(wheels.glob("thzface-*.whl"))
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)]
    subprocess.run(pip, env=env, check=True, capture_output=True)
    (Path(purelib) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # torch & co. (after the install)
    work.mkdir()
    where = subprocess.run([py, "-c", "import thzface; print(thzface.__file__)"], cwd=work, env=env,
                           check=True, capture_output=True, text=True).stdout  # fmt: skip
    assert str(env_dir) in where  # the installed copy, not the checkout
    listed = subprocess.run([env_dir / "bin" / "thzface", "configs"], cwd=work, env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and "mtl-tiny" in listed.stdout, listed.stderr
    assert "pretrained:mtl-default" in listed.stdout  # the shipped weights are package data
    cmd = [env_dir / "bin" / "thzface", "train", "mtl-tiny", "--data", "sim:tiny", "--out", str(work / "run"),
           "train.max_steps=2"]  # fmt: skip
    res = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (work / "run" / "model.safetensors").is_file()
