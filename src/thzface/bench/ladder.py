"""``thzface bench ladder``: where identity is lost. One recipe and budget trained and scored on four rungs of the
same world, each a seed-format folder whose scans are replaced by an easier stage of image formation:

  (a) ``clean-posefixed``  clean renders of the same people with the pose jitter removed (a fixed yaw / pitch per
                           posture, no roll, no placement offset, no carriage): what the person's geometry holds
  (b) ``clean``            clean renders (noise-free, unconcealed, at the concealed scan's pose)
  (c) ``unconcealed``      unconcealed scans (the sensor chain, no garment)
  (d) ``concealed``        the world as it is: concealed probes against unconcealed gallery scans

Every rung is scored by the same evaluation on the same unseen (identity-disjoint) people, beside raw pixels on
the same pairs, so the drop from one rung to the next is what that stage of image formation costs.
In rungs (a)-(c) both sides of a pair are the same kind of image; the evaluation leaves out the pair of a capture's
own two scans, so every genuine pair joins two different captures of the person.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from thzface.bench import format_table
from thzface.bench.mtl import FINETUNE, PRETRAINED, spread, train_and_eval
from thzface.data.naming import parse_name
from thzface.recipes import find_config

RUNGS = ("clean-posefixed", "clean", "unconcealed", "concealed")
# pose jitter removed: a fixed angle per posture (the middle of the default ranges), no roll, no placement, no carriage
POSE_FIXED: dict[str, dict] = {
    "pose": {"front_deg": 0.0, "turn_yaw_deg": [30.0, 30.0], "tilt_pitch_deg": [20.0, 20.0], "cross_jitter_deg": 0.0,
             "roll_deg": 0.0, "lateral_mm": 0.0},
    "identities": {"carriage_deg": 0.0},
}  # fmt: skip
KEYS = ["idd_eer", "idd_pixel_eer", "idd_same_posture_eer", "idd_cross_posture_eer", "idd_tar@far=0.01", "posture_acc"]


def _link_rest(src: Path, dst: Path) -> None:
    """Everything of ``src`` except ``thz/`` into ``dst`` (symlinks: the rung shares the world's other files)."""
    dst.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        if p.name != "thz":
            (dst / p.name).symlink_to(p.resolve(), target_is_directory=p.is_dir())


def derived_rung(world: Path, rung: str, out: Path) -> Path:
    """A copy of ``world`` whose ``thz/`` holds rung (b) clean renders or (c) unconcealed scans in every slot:
    a concealed slot and its unconcealed counterpart both get the capture's clean render (b) or its unconcealed
    scan (c). (d) is the world itself."""
    if rung == "concealed":
        return world
    if out.exists():
        shutil.rmtree(out)
    _link_rest(world, out)
    (out / "thz").mkdir()
    for f in sorted((world / "thz").glob("*.png")):
        name = parse_name(f.name)
        unconc = name.counterpart() if name.concealed else name  # clean/ files carry the unconcealed name
        if rung == "clean":
            src = world / "clean" / unconc.filename
        elif rung == "unconcealed":
            src = world / "thz" / unconc.filename
        else:
            raise ValueError(f"bench ladder: unknown derived rung {rung!r}")
        if not src.is_file():
            raise FileNotFoundError(f"{src}: missing (bench ladder needs a simulated world with clean/ targets)")
        shutil.copyfile(src, out / "thz" / f.name)
    return out


def pose_fixed_world(world: Path, out: Path, workers: int) -> Path:
    """The same preset, seed and people as ``world`` (its meta.json) rendered with the pose jitter removed; clean
    renders in every slot, as rung (b)."""
    from thzface.config import apply_overrides
    from thzface.data.split import write_split
    from thzface.sim import world as W
    from thzface.sim.config import sim_config_from_dict

    meta_path = world / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path}: missing (bench ladder needs a world written by thzface synth)")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    data = meta["config"]
    for section, values in POSE_FIXED.items():
        data[section] = {**data[section], **values}
    cfg = sim_config_from_dict(apply_overrides(data, ["write_visible=false", "contact_sheet=false"]), "ladder")
    raw = out / "world"
    if not (raw / "test.csv").is_file():
        W.synthesize(cfg, raw, seed=int(meta["seed"]), workers=workers, progress=False)
        write_split(raw, protocol="mixed", seed=int(meta["seed"]))
    return derived_rung(raw, "clean", out / "rung")


def run(args) -> dict:
    from thzface.sim.dataset import resolve_data

    world = resolve_data(args.data)
    out = Path(args.out)
    init = getattr(args, "init_from", None) or PRETRAINED
    arm = (getattr(args, "arms", None) or "default-pretrained").split(",")[0]
    if arm not in ("default", "default-pretrained"):
        raise ValueError(f"bench ladder --arms: one of default, default-pretrained; got {arm!r}")
    start, extra = (init, FINETUNE) if arm == "default-pretrained" else (None, [])
    results: dict = {}
    for rung in RUNGS:
        folder = (
            pose_fixed_world(world, out / rung / "data", args.workers)
            if rung == "clean-posefixed"
            else derived_rung(world, rung, out / rung / "data")
        )
        runs = [
            train_and_eval(find_config("mtl-default"), folder, out / rung / f"seed{s}", args.budget_s, s, extra, start)
            for s in range(args.seeds)
        ]
        mean, std = spread(runs)
        results[rung] = {"mean": mean, "std": std, "runs": runs}
    rows = {r: {k: f"{v['mean'][k]:.3g}±{v['std'][k]:.1g}" for k in KEYS if k in v["mean"]} for r, v in results.items()}
    return {
        "data": str(world),
        "arm": arm,
        "init": start,
        "budget_s": args.budget_s,
        "seeds": args.seeds,
        "rungs": results,
        "table": format_table(rows, KEYS, first="rung"),
    }
