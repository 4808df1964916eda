"""Image and dataset statistics for calibrating the simulator against real scans (thz-physics section 4.4):
sparsity, glint count, histogram shape (log-normal vs gamma), radial spectrum slope, row-mean variance.

Works on any folder in the seed format (``DIR/thz/*.png`` or a flat folder of seed-named PNGs), so real data
and simulated data are measured by the same code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.special import gammaln

from thzface.data.naming import NameError_, parse_name

STAT_KEYS = (
    "sparsity_10",
    "sparsity_50",
    "glints",
    "mean",
    "std",
    "skew",
    "lognormal_ll",
    "gamma_ll",
    "spectrum_slope",
    "row_mean_var",
    "col_mean_var",
)


def _as_float(img: np.ndarray) -> np.ndarray:
    x = np.asarray(img)
    if x.ndim == 3:
        x = x.mean(axis=-1)
    if x.ndim != 2:
        raise ValueError(f"image: expected (H, W) or (H, W, C), got shape {np.asarray(img).shape}")
    return x.astype(np.float64) / 255.0 if np.issubdtype(x.dtype, np.integer) else x.astype(np.float64)


def histogram_fits(x: np.ndarray) -> tuple[float, float]:
    """Mean per-pixel log-likelihood of the positive values under ML log-normal and ML gamma fits."""
    v = x[x > 0]
    if v.size < 2 or np.ptp(v) <= 0:
        return 0.0, 0.0
    lv = np.log(v)
    mu, sd = float(lv.mean()), max(float(lv.std()), 1e-6)
    ll_ln = float(np.mean(-lv - np.log(sd * np.sqrt(2 * np.pi)) - (lv - mu) ** 2 / (2 * sd * sd)))
    s = max(float(np.log(v.mean()) - lv.mean()), 1e-9)
    k = (3 - s + np.sqrt((s - 3) ** 2 + 24 * s)) / (12 * s)  # Minka's closed-form ML shape
    theta = v.mean() / k
    ll_g = float(np.mean((k - 1) * lv - v / theta - k * np.log(theta) - gammaln(k)))
    return ll_ln, ll_g


def spectrum_slope(x: np.ndarray) -> float:
    """Slope of log radially averaged power spectrum vs log spatial frequency (1 .. N/2 cycles/image)."""
    h, w = x.shape
    p = np.abs(np.fft.fft2(x - x.mean())) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w, indexing="ij")
    r = np.rint(np.hypot(fx, fy)).astype(int)
    n = min(h, w) // 2
    sums = np.bincount(r.ravel(), weights=p.ravel(), minlength=n + 1)[1 : n + 1]
    counts = np.bincount(r.ravel(), minlength=n + 1)[1 : n + 1]
    radial = sums / np.maximum(counts, 1)
    ok = radial > 0
    if ok.sum() < 3:
        return 0.0
    f = np.arange(1, n + 1)
    return float(np.polyfit(np.log(f[ok]), np.log(radial[ok]), 1)[0])


def image_statistics(img: np.ndarray, glint_level: float = 0.5) -> dict[str, float]:
    """Statistics of one image (uint8 or float in [0, 1]; colour is averaged to grey)."""
    x = _as_float(img)
    mx = float(x.max())
    bright = x > glint_level * mx if mx > 0 else np.zeros(x.shape, bool)
    _, glints = ndimage.label(bright, structure=np.ones((3, 3)))
    mean, std = float(x.mean()), float(x.std())
    skew = float(np.mean((x - mean) ** 3) / std**3) if std > 0 else 0.0
    ll_ln, ll_g = histogram_fits(x)
    return {
        "sparsity_10": float(np.mean(x > 0.1 * mx)) if mx > 0 else 0.0,
        "sparsity_50": float(np.mean(bright)),
        "glints": float(glints),
        "mean": mean,
        "std": std,
        "skew": skew,
        "lognormal_ll": ll_ln,
        "gamma_ll": ll_g,
        "spectrum_slope": spectrum_slope(x),
        "row_mean_var": float(np.var(x.mean(axis=1))),
        "col_mean_var": float(np.var(x.mean(axis=0))),
    }


def aggregate(records: list[tuple[str, dict[str, float]]]) -> dict:
    """Per-image records (file name, stats) -> dataset summary by state; order-independent (sorted by name)."""
    records = sorted(records, key=lambda r: r[0])
    groups: dict[str, list[dict]] = {"all": [], "concealed": [], "unconcealed": []}
    for name, st in records:
        groups["all"].append(st)
        try:
            groups["concealed" if parse_name(name).concealed else "unconcealed"].append(st)
        except NameError_:
            pass
    out: dict = {"images": len(records)}
    for g, rows in groups.items():
        if not rows:
            continue
        summ: dict = {}
        for k in STAT_KEYS:
            v = np.array([r[k] for r in rows])
            summ[k] = {"mean": float(v.mean()), "std": float(v.std())}
        fits = np.array([r["lognormal_ll"] > r["gamma_ll"] for r in rows])
        summ["lognormal_better_share"] = float(fits.mean())
        summ["images"] = len(rows)
        out[g] = summ
    return out


def dataset_statistics(folder: str | Path, per_image: bool = False) -> dict:
    """Statistics of every seed-named PNG in ``folder/thz`` (or ``folder`` itself when it has no thz/)."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    src = root / "thz" if (root / "thz").is_dir() else root
    records, skipped = [], []
    for p in sorted(src.glob("*.png")):
        try:
            parse_name(p.name)
        except NameError_:
            skipped.append(p.name)
            continue
        with Image.open(p) as im:
            records.append((p.name, image_statistics(np.asarray(im))))
    if not records:
        raise ValueError(f"{src}: no seed-named PNG images (<id>_<b|n><p><b|n>_<k>.png)")
    out = aggregate(records)
    out["skipped"] = skipped
    if per_image:
        out["per_image"] = {n: s for n, s in records}
    return out


def format_statistics(stats: dict) -> str:
    """Human-readable table of :func:`aggregate` / :func:`dataset_statistics` output."""
    groups = [g for g in ("concealed", "unconcealed", "all") if g in stats]
    lines = [f"images: {stats.get('images', 0)}", "statistic".ljust(16) + "".join(g.rjust(22) for g in groups)]
    for k in STAT_KEYS:
        cells = [f"{stats[g][k]['mean']:.4g} ± {stats[g][k]['std']:.2g}" for g in groups]
        lines.append(k.ljust(16) + "".join(c.rjust(22) for c in cells))
    lines.append(
        "lognormal>gamma".ljust(16) + "".join(f"{stats[g]['lognormal_better_share']:.2f}".rjust(22) for g in groups)
    )
    return "\n".join(lines)
