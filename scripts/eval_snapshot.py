"""Before/after check of ``thzface eval`` for every recipe on the tiny world: train each tiny preset a few steps
(fixed seed), evaluate, and compare two evaluations' metrics.json key by key and value by value.

    python scripts/eval_snapshot.py train OUT          # tiny world + one short run per recipe arm + OUT/before/
    python scripts/eval_snapshot.py eval OUT after     # evaluate the same runs again into OUT/after/
    python scripts/eval_snapshot.py retrain OUT again  # train every arm again (same seed) and evaluate: OUT/again/
    python scripts/eval_snapshot.py compare OUT/before OUT/after

Timing values (``*_per_s``, ``ms_*``, ``seconds``) and paths are left out of the value comparison; NaN equals NaN.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ARMS: dict[str, tuple[str, list[str]]] = {  # name -> (preset, overrides); {mtl} = the mtl run folder
    "mtl": ("mtl-tiny", []),
    "distill": ("distill-tiny", []),
    "distill-teacher": ("distill-tiny", ["model.stage=teacher"]),
    "twin": ("twin-tiny", ["model.global_run={mtl}"]),
    "inpaint": ("inpaint-tiny", []),
    "unmask3d": ("unmask3d-tiny", []),
}
STEPS = ["train.max_steps=3", "train.max_epochs=3"]
SKIP = ("_per_s", "ms_", "seconds", "path", "data", "trained_on", "source", "run")


def train(out: Path, tag: str = "before") -> None:
    import torch

    from thzface.recipes import load_config
    from thzface.recipes import train as fit
    from thzface.sim.dataset import synth

    torch.set_num_threads(1)
    data = out / "data"
    if not (data / "test.csv").is_file():
        synth("tiny", data, seed=0, workers=1, overrides=[], progress=False)
    runs = out / ("runs" if tag == "before" else f"runs-{tag}")
    for name, (preset, extra) in ARMS.items():
        over = [o.replace("{mtl}", str(runs / "mtl")) for o in [*STEPS, *extra]]
        fit(load_config(preset, over), data, runs / name, resume=False)
    evaluate(out, tag, runs)


def evaluate(out: Path, tag: str, runs: Path | None = None) -> None:
    import torch

    from thzface.recipes import recipe_of

    torch.set_num_threads(1)
    for name in ARMS:
        run = (runs or out / "runs") / name
        recipe_of(run).evaluate(run, out / "data", out / tag / name)
        print(name, "->", out / tag / name / "metrics.json")


def flat(d: object, prefix: str = "") -> dict[str, object]:
    if isinstance(d, dict):
        out: dict[str, object] = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def compare(a: Path, b: Path) -> int:
    bad = 0
    for fa in sorted(a.glob("*/metrics.json")):
        fb = b / fa.parent.name / "metrics.json"
        x, y = flat(json.loads(fa.read_text())), flat(json.loads(fb.read_text()))
        missing, added = sorted(set(x) - set(y)), sorted(set(y) - set(x))
        diff = [k for k in set(x) & set(y) if not any(s in k for s in SKIP) and not same(x[k], y[k])]
        bad += len(missing) + len(added) + len(diff)
        print(f"{fa.parent.name}: {len(x)} keys; missing {missing[:8]}; added {added[:8]}", end="; ")
        print(f"differing {sorted(diff)[:8]}")
    return 1 if bad else 0


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "train":
        train(Path(args[0]))
    elif cmd == "retrain":
        train(Path(args[0]), args[1])
    elif cmd == "eval":
        evaluate(Path(args[0]), args[1])
    elif cmd == "compare":
        sys.exit(compare(Path(args[0]), Path(args[1])))
    else:
        sys.exit(__doc__)
