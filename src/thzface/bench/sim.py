"""``thzface bench sim``: bench-20 generation time with N workers, identity/twin/within distances, statistics."""

from __future__ import annotations

from pathlib import Path


def run(args) -> dict:
    from thzface.sim.bench import bench_sim

    res = bench_sim(Path(args.out) / "bench-20", workers=args.workers)
    lines = [f"{k}: {v}" for k, v in res.items() if isinstance(v, (int, float, str))]
    res["table"] = "\n".join(lines)
    return res
