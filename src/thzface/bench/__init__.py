"""Benchmarks behind ``thzface bench <what>``: each writes ``OUT/bench.json`` and returns a printable table."""

from __future__ import annotations

import importlib
import platform
from datetime import date
from pathlib import Path

from thzface.config import atomic_write_text
from thzface.report import dumps

BENCHES: dict[str, str] = {
    "sim": "thzface.bench.sim",
    "mtl": "thzface.bench.mtl",
    "ladder": "thzface.bench.ladder",
    "calibrate": "thzface.bench.calibrate",
    "infer": "thzface.bench.infer",
    "onnx": "thzface.bench.onnx",
    "serve": "thzface.bench.serve_load",
    "twin": "thzface.bench.twin",
    "inpaint": "thzface.bench.inpaint",
    "distill": "thzface.bench.distill",
    "unmask3d": "thzface.bench.unmask3d",
}


def machine() -> dict:
    import os

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "date": date.today().isoformat(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gpu": gpu,
    }


def write_bench(out: Path, result: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), **result}
    atomic_write_text(out / "bench.json", dumps(result))


def arm_overrides(args) -> list[str]:
    """``thzface bench WHAT KEY=VALUE …`` of a training bench (mtl, distill, inpaint, twin, unmask3d): config
    overrides every trained arm takes after its own (e.g. ``train.precision=bf16-mixed``); ``sim`` and ``ladder``
    read them as simulator overrides instead."""
    return list(getattr(args, "overrides", None) or [])


def run_bench(what: str, args) -> dict:
    if what not in BENCHES:
        raise ValueError(f"bench: unknown benchmark {what!r}; known: {sorted(BENCHES)}")
    mod = importlib.import_module(BENCHES[what])
    result = mod.run(args)
    if arm_overrides(args):
        result.setdefault("overrides", arm_overrides(args))
    write_bench(Path(args.out), result)
    return result


def format_table(rows: dict[str, dict], keys: list[str], first: str = "metric") -> str:
    """Side-by-side text table: one column per entry of ``rows``, one line per key."""
    names = list(rows)
    width = max(len(k) for k in keys + [first]) + 2

    def cell(v: object) -> str:
        return "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))

    cols = {n: max([16, len(n) + 2] + [len(cell(rows[n].get(k))) + 2 for k in keys]) for n in names}
    lines = [first.ljust(width) + "".join(n.rjust(cols[n]) for n in names)]
    for k in keys:
        lines.append(k.ljust(width) + "".join(cell(rows[n].get(k)).rjust(cols[n]) for n in names))
    return "\n".join(lines)
