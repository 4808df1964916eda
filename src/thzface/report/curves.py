"""Training curves PNG from the CSV log Lightning writes (``logs/metrics.csv``)."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path


def read_metrics_csv(path: str | Path) -> dict[str, list[tuple[int, float]]]:
    """``{column: [(step, value), ...]}`` for every numeric column of a Lightning CSV log."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    path = Path(path)
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            step = int(float(row.get("step") or 0))
            for k, v in row.items():
                if k in ("step", "epoch") or v in (None, ""):
                    continue
                try:
                    fv = float(v)
                except ValueError:
                    continue
                if math.isfinite(fv):
                    series[k].append((step, fv))
    return dict(series)


def plot_curves(csv_path: str | Path, out_png: str | Path) -> Path | None:
    """Plot train/val curves (one panel per metric family); returns the PNG path or None if no log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from thzface.config import atomic_write_bytes

    series = read_metrics_csv(csv_path)
    keys = sorted(k for k in series if (k.startswith("train/") and k.endswith("loss")) or k.startswith("val/"))
    keys += ["train/supcon"] if "train/supcon" in series else []
    beside = {"train/supcon": ("train/supcon_uniform", "uniform")}  # a panel's second line: (key, legend)
    beside.update({k: ("fit/" + k[4:], "training people") for k in keys if k.startswith("val/")})
    if not keys:
        return None
    n = len(keys)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, k in zip(axes.flat, keys, strict=False):
        xs, ys = zip(*series[k], strict=True)
        ax.plot(xs, ys, marker="." if len(xs) < 30 else None, lw=1)
        other, legend = beside.get(k, ("", ""))
        if other in series:
            ox, oy = zip(*series[other], strict=True)
            ax.plot(ox, oy, ls="--", lw=1, label=legend)
            ax.legend(fontsize=7)
        ax.set_title(k, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(out_png, buf.getvalue())
    return Path(out_png)
