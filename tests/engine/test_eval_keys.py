"""Every recipe's ``eval`` keeps its metrics.json keys: a short run of each tiny preset on the tiny world,
evaluated, has every key recorded in ``eval_keys.json`` (written from the evaluations before the one evaluation
path existed, scripts/eval_snapshot.py); the same seed gives the same metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

KEYS = json.loads((Path(__file__).parent / "eval_keys.json").read_text())
ARMS = {  # name -> (preset, overrides); {mtl}: the mtl run (twin's frozen global branch)
    "mtl": ("mtl-tiny", []),
    "distill": ("distill-tiny", []),
    "distill-teacher": ("distill-tiny", ["model.stage=teacher"]),
    "twin": ("twin-tiny", ["model.global_run={mtl}"]),
    "inpaint": ("inpaint-tiny", []),
    "unmask3d": ("unmask3d-tiny", []),
}
TIMING = ("_per_s", "ms_per_image", "seconds")


def flat(d: object, prefix: str = "") -> dict[str, object]:
    if isinstance(d, dict):
        out: dict[str, object] = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def train_arm(name: str, data: Path, runs: Path) -> Path:
    from thzface.recipes import load_config
    from thzface.recipes import train as fit

    preset, extra = ARMS[name]
    over = [o.replace("{mtl}", str(runs / "mtl")) for o in ["train.max_steps=3", "train.max_epochs=3", *extra]]
    fit(load_config(preset, over), data, runs / name, resume=False)
    return runs / name


@pytest.fixture(scope="module")
def evaluations(tiny_data: Path, tmp_path_factory) -> dict[str, dict]:
    from thzface.recipes import recipe_of

    root = tmp_path_factory.mktemp("eval-keys")
    out = {}
    for name in ARMS:
        run = train_arm(name, tiny_data, root / "runs")
        recipe_of(run).evaluate(run, tiny_data, root / "reports" / name)
        out[name] = json.loads((root / "reports" / name / "metrics.json").read_text())  # what eval wrote
    return out


@pytest.mark.parametrize("name", list(ARMS))
def test_eval_keeps_every_key(evaluations: dict[str, dict], name: str) -> None:
    keys = set(flat(evaluations[name]))
    missing = sorted(set(KEYS[name]) - keys)
    assert not missing, f"{name}: {len(missing)} keys lost, e.g. {missing[:5]}"


def test_same_seed_same_metrics(tiny_data: Path, tmp_path: Path, evaluations: dict[str, dict]) -> None:
    from thzface.recipes import recipe_of

    run = train_arm("mtl", tiny_data, tmp_path / "runs")
    recipe_of(run).evaluate(run, tiny_data, tmp_path / "report")
    again = flat(json.loads((tmp_path / "report" / "metrics.json").read_text()))
    first = flat(evaluations["mtl"])
    numbers = [k for k, v in first.items() if isinstance(v, float) and not any(t in k for t in TIMING)]
    assert len(numbers) > 100
    assert {k: again[k] for k in numbers} == {k: first[k] for k in numbers}
