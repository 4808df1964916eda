"""Fidelity probes of a simulated world: does it reward learning the person or the capture?

Per sample (computed in the worker while the arrays are in memory): the copy baseline (concealed scan used as
the answer) against the unconcealed scan and against the clean target, SSIM and PSNR over the whole image and
the head region; the displayed energy drop of the concealment; glint counts. Per dataset (from the written
files): pixel nearest-neighbour identity accuracy with the query's own capture excluded, and between- vs
within-identity distances on clean geometry (3-D landmarks) and on THz pixels at the same posture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from thzface.data.naming import NUM_POSTURES, format_name

MAX_IDS = 200  # dataset probes use at most this many identities (the first ones), so big worlds stay cheap
GEOMETRY_IDS, GEOMETRY_DRAWS = 50, 4  # clean-geometry probe: identities and expression draws per identity


def ssim_map(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """SSIM map of two images in [0, 1] (Gaussian window sigma 1.5, K1 0.01, K2 0.03, data range 1)."""
    c1, c2 = 0.01**2, 0.03**2
    f = lambda x: ndimage.gaussian_filter(x, sigma, mode="reflect", truncate=3.5)  # noqa: E731
    mu_a, mu_b = f(a), f(b)
    va, vb, cov = f(a * a) - mu_a**2, f(b * b) - mu_b**2, f(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB for images in [0, 1] (over ``mask`` if given); 100 dB for identical images."""
    d = (a - b) ** 2
    mse = float(d[mask].mean()) if mask is not None else float(d.mean())
    return 100.0 if mse <= 1e-10 else float(10 * np.log10(1.0 / mse))


def energy_db(x: np.ndarray) -> float:
    """Displayed energy of an image in [0, 1]: 10 log10 mean(x^2) (floored at -100 dB)."""
    return float(10 * np.log10(max(float(np.mean(x * x)), 1e-10)))


def sample_probes(conc: np.ndarray, unconc: np.ndarray, clean: np.ndarray, head: np.ndarray) -> dict[str, float]:
    """Copy-baseline scores and the energy drop of one sample (uint8 or [0, 1] images, ``head`` bool mask)."""
    c, u, t = (
        np.asarray(x, np.float64) / (255.0 if np.asarray(x).dtype == np.uint8 else 1.0) for x in (conc, unconc, clean)
    )
    out: dict[str, float] = {}
    for name, ref in (("scan", u), ("clean", t)):
        m = ssim_map(c, ref)
        out[f"copy_ssim_{name}"] = float(m.mean())
        out[f"copy_ssim_{name}_head"] = float(m[head].mean()) if head.any() else float(m.mean())
        out[f"copy_psnr_{name}"] = psnr(c, ref)
        out[f"copy_psnr_{name}_head"] = psnr(c, ref, head) if head.any() else psnr(c, ref)
    out["energy_drop_db"] = energy_db(u) - energy_db(c)
    return out


def aggregate_probes(rows: list[tuple[str, str, dict[str, float]]]) -> dict:
    """(file name, garment combination, sample_probes) rows -> means overall and the energy drop per garment
    combination; order-independent (sorted by name)."""
    rows = sorted(rows, key=lambda r: r[0])
    if not rows:
        return {}
    keys = [k for k in rows[0][2] if k != "energy_drop_db"]
    out: dict = {"copy_baseline": {k: float(np.mean([r[2][k] for r in rows])) for k in keys}}
    combos = sorted({r[1] for r in rows})
    out["energy_drop_db"] = {c: float(np.mean([r[2]["energy_drop_db"] for r in rows if r[1] == c])) for c in combos}
    out["energy_drop_db"]["all"] = float(np.mean([r[2]["energy_drop_db"] for r in rows]))
    return out


def pair_distances(vectors: np.ndarray, owners: list[str], twins: dict[str, str]) -> dict[str, float]:
    """Mean RMS distance (Euclidean / sqrt(dim)) over pairs of rows: same owner ("within"), twin owners,
    other owners; the leave-one-out nearest-neighbour rate of finding the same owner (``nn_same``); and the
    share of owners whose largest within distance is below the distance to their nearest non-twin other
    (``within_below_nearest``)."""
    v = np.asarray(vectors, dtype=np.float64).reshape(len(owners), -1)
    sq = np.sum(v * v, axis=1)
    d = np.sqrt(np.clip(sq[:, None] + sq[None] - 2 * np.einsum("ik,jk->ij", v, v), 0, None) / v.shape[1])
    own = np.asarray(owners)
    iu = np.triu_indices(len(owners), k=1)
    a, b = own[iu[0]], own[iu[1]]
    same = a == b
    twin = np.array([twins.get(x) == y for x, y in zip(a, b, strict=True)], bool)
    out: dict[str, float] = {}
    for name, m in (("within", same), ("twin", twin), ("between", ~same & ~twin)):
        out[name] = float(d[iu][m].mean()) if m.any() else float("nan")
        out[f"{name}_pairs"] = int(m.sum())
    below = []
    for o in sorted(set(owners)):
        mine = own == o
        other = ~mine & (own != twins.get(o, ""))
        if mine.sum() > 1 and other.any():
            below.append(float(d[np.ix_(mine, mine)].max() < d[np.ix_(mine, other)].min()))
    out["within_below_nearest"] = float(np.mean(below)) if below else float("nan")
    np.fill_diagonal(d, np.inf)
    out["nn_same"] = float(np.mean(own[np.argmin(d, axis=1)] == own))
    out["nn_chance"] = float(np.mean([(own == o).sum() - 1 for o in own]) / max(len(own) - 1, 1))
    return out


def _load(folder: Path, sub: str, name: str) -> np.ndarray:
    with Image.open(folder / sub / name) as im:
        return np.asarray(im, dtype=np.float64).ravel() / 255.0


def nn_identity_accuracy(folder: Path, tokens: list[str], samples: int) -> dict[str, float]:
    """Pixel nearest-neighbour identity accuracy per posture, averaged: concealed (and unconcealed) queries
    against every unconcealed scan except the query's own capture (same identity, posture and sample)."""
    acc: dict[str, list[float]] = {"concealed_query": [], "unconcealed_query": []}
    for p in range(NUM_POSTURES):
        keys = [(t, k) for t in tokens for k in range(1, samples + 1)]
        gal = np.stack([_load(folder, "thz", format_name(t, p, False, k)) for t, k in keys])
        who = np.array([t for t, _ in keys])
        for qname, concealed in (("concealed_query", True), ("unconcealed_query", False)):
            q = gal if not concealed else np.stack([_load(folder, "thz", format_name(t, p, True, k)) for t, k in keys])
            d = np.sum(q * q, 1)[:, None] + np.sum(gal * gal, 1)[None] - 2 * np.einsum("ik,jk->ij", q, gal)
            np.fill_diagonal(d, np.inf)  # row i and column i are the same capture
            acc[qname].append(float(np.mean(who[np.argmin(d, axis=1)] == who)))
    chance = 1.0 / max(len(tokens), 1)
    return {**{k: float(np.mean(v)) for k, v in acc.items()}, "chance": chance}


def pixel_distances(folder: Path, tokens: list[str], twins: dict, samples: int, sub: str, concealed: bool) -> dict:
    """Between / within identity distances on images of ``sub`` at the same posture, averaged over postures."""
    rows = []
    for p in range(NUM_POSTURES):
        names = [(t, format_name(t, p, concealed, k)) for t in tokens for k in range(1, samples + 1)]
        rows.append(pair_distances(np.stack([_load(folder, sub, n) for _, n in names]), [t for t, _ in names], twins))
    return {k: _nanmean([r[k] for r in rows]) for k in rows[0]}


def _nanmean(v: list[float]) -> float:
    a = np.asarray(v, dtype=np.float64)
    return float(a[~np.isnan(a)].mean()) if (~np.isnan(a)).any() else float("nan")


def geometry_distances(model, ids: list, sigma: float, seed: int, build=None) -> dict[str, float]:
    """Between / within identity distances of centred 3-D landmarks (mm) under expression draws (no pose); heads
    by ``build`` (the world's backend's, default ``model.build``)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 9]))
    ids = ids[:GEOMETRY_IDS]
    vecs, owners = [], []
    for ident in ids:
        for _ in range(GEOMETRY_DRAWS):
            lm = (build or model.build)(ident.shape, model.sample_expression(rng, sigma), ident.traits).landmarks
            vecs.append((lm - lm.mean(0)).ravel())
            owners.append(ident.token)
    return pair_distances(np.stack(vecs), owners, {i.token: i.twin for i in ids if i.twin})


def dataset_probes(folder: Path, meta: dict, model, ids: list, sigma: float, build=None) -> dict:
    """The per-dataset probes of a finished folder (first MAX_IDS identities); heads by ``build``."""
    tokens = meta["identities"][:MAX_IDS]
    twins, n = meta["twins"], meta["samples"]
    return {
        "identities_probed": len(tokens),
        "nn_identity": nn_identity_accuracy(folder, tokens, n) if n > 1 else {},
        "geometry_landmarks_mm": geometry_distances(model, ids, sigma, meta["seed"], build),
        "thz_unconcealed": pixel_distances(folder, tokens, twins, n, "thz", False),
        "clean_target": pixel_distances(folder, tokens, twins, n, "clean", False),
    }
