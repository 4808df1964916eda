"""``thzface bench infer``: inference throughput (images/s) of a run on this machine, batch 1 and batched."""

from __future__ import annotations

from pathlib import Path

from thzface.engine.infer import throughput


def run(args) -> dict:
    from thzface.recipes import load_run

    run_dir = Path(args.data) if args.data else None
    if run_dir is None:
        raise ValueError("bench infer: pass the run folder with --data RUN")
    cfg, model, _ = load_run(run_dir)
    size = cfg.data.image_size
    res = {
        "run": str(run_dir),
        "images_per_s_batch1": throughput(model, size, 1),
        "images_per_s_batch64": throughput(model, size, 64),
    }
    res["table"] = "\n".join(f"{k}: {v:.1f}" for k, v in res.items() if isinstance(v, float))
    return res
