"""``thzface bench sim``: bench-20 generation time with N workers, fidelity probes, identity/twin/within distances,
statistics."""

from __future__ import annotations

from pathlib import Path


def run(args) -> dict:
    from thzface.sim.bench import bench_sim

    res = bench_sim(Path(args.out) / "bench-20", workers=args.workers)
    lines = [f"{k}: {v}" for k, v in res.items() if isinstance(v, (int, float, str))]
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
