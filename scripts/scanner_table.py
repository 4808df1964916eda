"""Per-scanner table: each site's identity-disjoint EER (from one or more ``thzface eval`` metrics.json of a
multi-site world) beside the scanner settings the simulator drew for it (meta.json ``sites``), and the rank
correlation of EER with each setting over the sites.

    thzface eval pretrained:mtl-default --data W --out A                 # as shipped
    thzface eval pretrained:mtl-default --data W --out B --adapt site    # adapted per scanner
    python scripts/scanner_table.py W shipped=A/metrics.json adapted=B/metrics.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

SETTINGS = {  # column → (section, key) of a meta.json site record
    "SNR dB": ("sensor", "snr_db"),
    "beam waist mm": ("system", "w0_mm"),
    "aperture mm": ("system", "aperture_mm"),
    "stand-off mm": ("system", "standoff_mm"),
    "looks": ("system", "looks"),
    "dyn. range dB": ("sensor", "dynamic_range_db"),
    "motion px": ("sensor", "motion_px"),
}


def main(world: Path, runs: dict[str, Path]) -> str:
    sites = {str(s["site"]): s for s in json.loads((world / "meta.json").read_text())["sites"]}
    per = {}
    for name, path in runs.items():
        v = json.loads(path.read_text())["protocols"]["identity-disjoint"]["verification"]
        if not v.get("by_site"):
            raise SystemExit(f"{path}: no per-site verification (a one-scanner world, or metrics from before by_site)")
        per[name] = v["by_site"]
    keys = sorted(set.intersection(*(set(p) for p in per.values())), key=int)
    head = ["site", "people", "fov mm", *SETTINGS, *(f"EER {n}" for n in per), *(f"FAR@deployed {n}" for n in per)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k in keys:
        s = sites[k]
        cells = [k, str(next(iter(per.values()))[k]["identities"]), f"{s['fov_mm']:.0f}"]
        cells += [f"{s.get(sec, {}).get(key, float('nan')):.3g}" for sec, key in SETTINGS.values()]
        cells += [f"{p[k]['eer']:.3f}" for p in per.values()]
        cells += [f"{p[k].get('deployed_far', float('nan')):.2f}" for p in per.values()]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for name, p in per.items():
        eer = np.array([p[k]["eer"] for k in keys])
        rho = []
        for col, (sec, key) in SETTINGS.items():
            x = np.array([sites[k].get(sec, {}).get(key, np.nan) for k in keys], dtype=float)
            if np.isfinite(x).all() and np.ptp(x) > 0:
                rho.append(f"{col} {spearmanr(x, eer).statistic:+.2f}")
        lines.append(f"{name}: EER mean {eer.mean():.3f}, sd {eer.std():.3f} over {len(keys)} sites; "
                     f"Spearman rho with EER: {', '.join(rho)}")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    print(main(Path(sys.argv[1]), {a.split("=", 1)[0]: Path(a.split("=", 1)[1]) for a in sys.argv[2:]}))
