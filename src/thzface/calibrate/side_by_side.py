"""Side-by-side dataset statistics (thz-physics section 4.4 plus stripes and drop-outs) of sets of scans, with a plot.

Statistics are display-independent (measured on the display values themselves) so any two folders compare.
Closeness is the effect size ``d = (mean_B - mean_A) / std_A`` per statistic (per-image spread of the first set).
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from thzface.calibrate.features import dropped_rows  # noqa: E402
from thzface.calibrate.scans import Scans, load_scans  # noqa: E402
from thzface.config import atomic_write_bytes  # noqa: E402
from thzface.sim.stats import STAT_KEYS, image_statistics  # noqa: E402

EXTRA_KEYS = ("row_acf1", "drop_row_share", "zero_share")
KEYS = (*STAT_KEYS, *EXTRA_KEYS)


def _images(scans: Scans) -> np.ndarray:
    return np.concatenate([scans.concealed[scans.has_concealed], scans.unconcealed[scans.has_unconcealed]])


def _extra(y: np.ndarray) -> dict[str, float]:
    """Stripe correlation (lag-1 autocorrelation of row means), dropped-row share, share of zero pixels."""
    m = y.mean(axis=1) - y.mean()
    den = float(np.sum(m * m))
    drop, _ = dropped_rows(y)
    return {
        "row_acf1": float(np.sum(m[1:] * m[:-1]) / den) if den > 0 else 0.0,
        "drop_row_share": float(drop.mean()),
        "zero_share": float(np.mean(y == 0)),
    }


def scan_statistics(scans: Scans) -> dict:
    """Per-statistic mean/std over all images of ``scans``, plus curves for the plot."""
    imgs = _images(scans).astype(np.float64)
    rows = [{**image_statistics(y), **_extra(y)} for y in imgs]
    out: dict = {"images": len(imgs)}
    for k in KEYS:
        v = np.array([r[k] for r in rows])
        out[k] = {"mean": float(v.mean()), "std": float(v.std())}
    hist = np.bincount(np.clip(np.rint(imgs * 255), 0, 255).astype(np.int64).ravel(), minlength=256)
    h, w = imgs.shape[1:]
    p = np.abs(np.fft.fft2(imgs - imgs.mean(axis=(1, 2), keepdims=True))) ** 2
    r = np.rint(np.hypot(*np.meshgrid(np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w, indexing="ij"))).astype(int)
    n = min(h, w) // 2
    sums = np.asarray(np.bincount(r.ravel(), weights=p.mean(axis=0).ravel(), minlength=n + 1), np.float64)
    spec = sums[1 : n + 1] / np.maximum(np.bincount(r.ravel(), minlength=n + 1)[1 : n + 1], 1)
    rm = imgs.mean(axis=2) - imgs.mean(axis=(1, 2))[:, None]  # (N, H) row means
    acf = [float(np.mean(rm[:, k:] * rm[:, : h - k]) / max(np.mean(rm * rm), 1e-12)) for k in range(min(16, h))]
    out["curves"] = {"histogram": (hist / hist.sum()).tolist(), "spectrum": spec.tolist(), "row_acf": acf}
    return out


def effect_sizes(a: dict, b: dict) -> dict[str, float]:
    """(mean_b - mean_a) / std_a per statistic (std floor 1e-9)."""
    return {k: (b[k]["mean"] - a[k]["mean"]) / max(a[k]["std"], 1e-9) for k in KEYS}


def format_side_by_side(stats: dict[str, dict], ref: str) -> str:
    """Text table: one column per named set (mean +- std), and |d| against ``ref`` for the others."""
    names = list(stats)
    others = [n for n in names if n != ref]
    d = {n: effect_sizes(stats[ref], stats[n]) for n in others}
    head = (
        "statistic".ljust(16)
        + "".join(n[:20].rjust(22) for n in names)
        + "".join(f"d({n[:10]})".rjust(13) for n in others)
    )
    lines = [head]
    for k in KEYS:
        cells = "".join(f"{stats[n][k]['mean']:.4g} ± {stats[n][k]['std']:.2g}".rjust(22) for n in names)
        lines.append(k.ljust(16) + cells + "".join(f"{d[n][k]:+.2f}".rjust(13) for n in others))
    lines.append("mean |d|".ljust(16) + " " * 22 * len(names) + "".join(
        f"{np.mean(np.abs(list(d[n].values()))):.2f}".rjust(13) for n in others))  # fmt: skip
    return "\n".join(lines)


def plot(stats: dict[str, dict], examples: dict[str, np.ndarray]) -> bytes:
    """PNG: histograms, radial spectra, row-mean autocorrelation, effect sizes, and example images per set."""
    names = list(stats)
    fig = plt.figure(figsize=(13, 7.5))
    ax = [fig.add_subplot(2, 3, i + 1) for i in range(4)]
    for n in names:
        c = stats[n]["curves"]
        ax[0].plot(np.linspace(0, 1, len(c["histogram"])), np.maximum(c["histogram"], 1e-7), label=n)
        ax[1].plot(np.arange(1, len(c["spectrum"]) + 1), c["spectrum"], label=n)
        ax[2].plot(c["row_acf"], marker=".", label=n)
    ax[0].set(yscale="log", xlabel="display value", ylabel="share of pixels", title="histogram")
    ax[1].set(xscale="log", yscale="log", xlabel="cycles / image", ylabel="power", title="radial spectrum")
    ax[2].set(xlabel="row lag", ylabel="autocorrelation", title="row means (stripes)")
    ref = names[0]
    for i, n in enumerate(names[1:]):
        d = effect_sizes(stats[ref], stats[n])
        ax[3].barh(
            np.arange(len(KEYS)) + 0.8 * i / max(len(names) - 1, 1),
            list(d.values()),
            height=0.8 / max(len(names) - 1, 1),
            label=n,
        )
    ax[3].set_yticks(np.arange(len(KEYS)), KEYS, fontsize=7)
    ax[3].axvline(0, color="k", lw=0.8)
    ax[3].set(xlabel=f"(mean - mean[{ref}]) / std[{ref}]", title="statistics vs " + ref)
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    for i, n in enumerate(names[:3]):
        a = fig.add_subplot(2, 6, 10 + i)
        a.imshow(examples[n], cmap="gray", vmin=0, vmax=1)
        a.set_title(n[:24], fontsize=8)
        a.axis("off")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def example_strip(scans: Scans, k: int = 4) -> np.ndarray:
    """(k*H, W) column of ``k`` images spread over the set."""
    imgs = _images(scans)
    idx = np.linspace(0, len(imgs) - 1, min(k, len(imgs))).astype(int)
    return np.concatenate(list(imgs[idx]), axis=0)


def compare(dir_a: Path, dir_b: Path, out_png: Path | None = None) -> dict:
    """Statistics of two scan folders side by side (+ plot at ``out_png``); ``table`` is printable."""
    a, b = load_scans(dir_a, min_images=1), load_scans(dir_b, min_images=1)
    name_a, name_b = f"A:{Path(dir_a).name}", f"B:{Path(dir_b).name}"
    stats = {name_a: scan_statistics(a), name_b: scan_statistics(b)}
    d = effect_sizes(stats[name_a], stats[name_b])
    result = {
        "a": str(dir_a), "b": str(dir_b),
        "statistics": {n: {k: v for k, v in s.items() if k != "curves"} for n, s in stats.items()},
        "effect_size": d, "mean_abs_effect_size": float(np.mean(np.abs(list(d.values())))),
        "table": format_side_by_side(stats, name_a),
    }  # fmt: skip
    if out_png is not None:
        atomic_write_bytes(out_png, plot(stats, {name_a: example_strip(a), name_b: example_strip(b)}))
        result["plot"] = str(out_png)
    return result
