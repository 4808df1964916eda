"""The one ``bench.json["headline"]`` of each system bench: the system's number beside its baseline on the same data.

:func:`headline` makes the dict from per-seed pairs (one place); the ``*_headline`` functions pick, per bench,
which number and which arms (issue #26's targets); :func:`headline_line` is the line each bench's table gains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def headline(
    metric: str,
    higher_is_better: bool,
    system: Sequence[float | None],
    baseline: Sequence[float | None],
    baseline_name: str,
    system_name: str,
) -> dict:
    """``{"metric", "higher_is_better", "system", "baseline", "baseline_name", "spread"}`` (+ ``system_name``,
    ``seeds``): ``system`` / ``baseline`` the mean over training seeds of each one's number, ``spread`` the std
    (ddof 0) over seeds of system − baseline; only seeds where both are finite count (none: all three None)."""
    if len(system) != len(baseline):
        raise ValueError(f"headline: {len(system)} system values but {len(baseline)} baseline values (one per seed)")
    pairs = [
        (float(s), float(b))
        for s, b in zip(system, baseline, strict=True)
        if s is not None and b is not None and _finite(s) and _finite(b)
    ]
    sys_v = np.array([s for s, _ in pairs])  # (seeds,)
    base_v = np.array([b for _, b in pairs])  # (seeds,)
    return {
        "metric": metric,
        "higher_is_better": higher_is_better,
        "system": float(sys_v.mean()) if pairs else None,
        "baseline": float(base_v.mean()) if pairs else None,
        "baseline_name": baseline_name,
        "spread": float(np.std(sys_v - base_v)) if pairs else None,
        "system_name": system_name,
        "seeds": len(pairs),
    }


def headline_line(h: dict) -> str:
    """One line for a bench's printed table: the system, its baseline, the margin and whether it beat it."""
    if h["system"] is None:
        return f"headline: {h['metric']}: n/a (no seed has both {h['system_name']} and {h['baseline_name']})"
    diff = h["system"] - h["baseline"]
    beat = diff > 0 if h["higher_is_better"] else diff < 0
    better = "higher" if h["higher_is_better"] else "lower"
    return (
        f"headline: {h['metric']} ({better} is better): {h['system_name']} {h['system']:.4g} vs "
        f"{h['baseline_name']} {h['baseline']:.4g}, difference {diff:+.4g} ± {h['spread']:.2g} over "
        f"{h['seeds']} seed(s): {'beats' if beat else 'does not beat'} the baseline"
    )


def mtl_headline(arms: dict[str, list[dict]]) -> dict:
    """Identity-disjoint EER of the system arm (``default-pretrained`` when present, else ``default``, else the
    first arm) vs raw-pixel verification on the same test rows of the same run."""
    name = next((a for a in ("default-pretrained", "default") if a in arms), next(iter(arms)))
    runs = arms[name]
    return headline(
        "identity-disjoint EER",
        False,
        [r.get("idd_eer") for r in runs],
        [r.get("idd_pixel_eer") for r in runs],
        "raw pixels",
        name,
    )


def distill_headline(arms: dict[str, list[dict]]) -> dict:
    """Identity-disjoint EER of the jointly distilled student vs the THz-only ``mtl`` arm, seed by seed."""
    return headline(
        "student identity-disjoint EER",
        False,
        [r.get("idd_eer") for r in arms["distill-joint"]],
        [r.get("idd_eer") for r in arms["mtl"]],
        "THz-only (mtl)",
        "distill-joint",
    )


def _mean_over_sets(row: dict, sets: Sequence[str], metric: str) -> float | None:
    vals = [row.get(f"{metric}_{s}") for s in sets]
    return float(np.mean([float(v) for v in vals if v is not None])) if vals and all(map(_finite, vals)) else None


def inpaint_headline(
    system_runs: list[dict], fills: dict[str, dict], sets: Sequence[str], system: str = "default"
) -> dict:
    """Hole-region SSIM, the mean over the mask sets (buckets + garment), of the system arm per seed vs the best
    classical fill (the fill with the highest such mean; fills are deterministic, one value for every seed)."""
    per_fill = {n: _mean_over_sets(r, sets, "hole_ssim") for n, r in fills.items()}
    scored = {n: v for n, v in per_fill.items() if v is not None}
    best = max(scored, key=lambda n: scored[n]) if scored else next(iter(fills))
    return headline(
        "hole-region SSIM (mean over mask sets)",
        True,
        [_mean_over_sets(r, sets, "hole_ssim") for r in system_runs],
        [per_fill[best]] * len(system_runs),
        best,
        system,
    )


TWIN_SYSTEMS = ("fused/pred", "fused/given", "fused")  # global + parts, deployable (predicted boxes) first


def twin_headline(per_seed: list[dict[str, dict]]) -> dict:
    """Identity-disjoint twin-impostor EER of global + parts (predicted part boxes where scored, else the given
    ones) vs the frozen global embedding alone, seed by seed."""
    name = next((n for n in TWIN_SYSTEMS if n in per_seed[0]), TWIN_SYSTEMS[-1])
    return headline(
        "twin-impostor identity-disjoint EER",
        False,
        [r.get(name, {}).get("idd_twin_eer") for r in per_seed],
        [r.get("global", {}).get("idd_twin_eer") for r in per_seed],
        "global alone",
        name,
    )


def unmask3d_headline(thz_runs: list[dict[str, dict]]) -> dict:
    """THz under-the-garment SSIM (true garment masks) of unmask3d with its 3D prior vs the training-mean fill:
    against the clean target at the concealed pose (``clean_mask_ssim``) where every seed has one (simulated
    folders), else against the unconcealed scan (``mask_ssim``)."""
    arms = ("unmask3d @true", "mean fill @true")
    clean = all(_finite(r.get(a, {}).get("clean_mask_ssim")) for r in thz_runs for a in arms)
    key, against = ("clean_mask_ssim", "clean target") if clean else ("mask_ssim", "unconcealed scan")
    return headline(
        f"under-the-garment SSIM vs the {against} (THz, true garment mask)",
        True,
        [r.get(arms[0], {}).get(key) for r in thz_runs],
        [r.get(arms[1], {}).get(key) for r in thz_runs],
        "mean fill",
        "unmask3d (3D prior)",
    )
