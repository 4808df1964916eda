"""Dataset verbs: ``thzface synth``, ``thzface sim calibrate|compare`` and ``thzface data check|split|overlap``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thzface.report import dumps
from thzface.sim.dataset import synth


def cmd_synth(a: argparse.Namespace) -> int:
    res = synth(
        a.preset, Path(a.out), a.seed, a.workers, a.overrides, a.preset_file, shard=a.shard, finalize=a.finalize
    )
    print(dumps(res))
    print(f"dataset written to {a.out} (contact sheet: {Path(a.out) / 'contact_sheet.png'})")
    return 0


def cmd_sim(a: argparse.Namespace) -> int:
    if a.sim_cmd == "calibrate":
        from thzface.calibrate import calibrate

        res = calibrate(Path(a.dir), Path(a.out), seed=a.seed)
        print(res.get("table") or dumps(res))
        print(f"preset written to {a.out} (use: thzface synth --preset-file {a.out} --out DIR)")
        return 0
    from thzface.calibrate import compare

    res = compare(Path(a.dir_a), Path(a.dir_b), Path(a.out) if a.out else None)
    print(res.get("table") or dumps(res))
    return 0


def cmd_data(a: argparse.Namespace) -> int:
    if a.data_cmd == "check":
        from thzface.data.check import check_dataset

        problems = check_dataset(Path(a.dir), csv=Path(a.csv) if a.csv else None)
        for p in problems:
            print(str(p))
        errors = [p for p in problems if p.level == "error"]
        print(f"{a.dir}: {len(errors)} error(s), {len(problems) - len(errors)} warning(s)", file=sys.stderr)
        return 1 if errors else 0
    if a.data_cmd == "overlap":
        from thzface.data.overlap import folder_overlap

        shared = folder_overlap(Path(a.dir_a), Path(a.dir_b))
        for s in shared:
            print(f"{a.dir_a}:{s.a} = {a.dir_b}:{s.b} (shape difference {s.distance:.2g})")
        print(f"{len(shared)} person(s) shared between {a.dir_a} and {a.dir_b}", file=sys.stderr)
        return 1 if shared else 0
    from thzface.data.split import write_split

    print(dumps(write_split(Path(a.dir), protocol=a.protocol, seed=a.seed, negatives=a.negatives)))
    return 0
