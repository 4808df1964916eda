"""``thzface bench sim [--preset P] [overrides]``: each backend's generation speed with N workers (rows per backend,
two rounds A B B A, their ratio), the preset's fidelity probes, identity/twin/within distances, statistics."""

from __future__ import annotations

from pathlib import Path


def run(args) -> dict:
    from thzface.sim.bench import backend_table, bench_sim

    preset, over = getattr(args, "preset", None) or "bench-20", list(getattr(args, "overrides", None) or [])
    res = bench_sim(Path(args.out) / preset, workers=args.workers, preset=preset, overrides=over, rounds=2)
    lines = [f"{k}: {v}" for k, v in res.items() if isinstance(v, (int, float, str))] + backend_table(res)
    pr = res["probes"]
    lines += [f"seconds: {res['timing']['seconds']:.1f} (load {res['timing']['load_average']:.1f})"]
    lines += [f"{k}: {v:.3f}" for k, v in pr["copy_baseline"].items()]
    lines += [f"nn_identity {k}: {v:.3f}" for k, v in pr.get("nn_identity", {}).items()]
    lines += [f"energy_drop_db {k}: {v:.2f}" for k, v in pr["energy_drop_db"].items()]
    geo = pr["geometry_landmarks_mm"]
    lines += [f"geometry within {geo['within']:.2f} mm, between {geo['between']:.2f} mm, "
              f"within below nearest other: {geo['within_below_nearest']}"]  # fmt: skip
    res["table"] = "\n".join(lines)
    return res
