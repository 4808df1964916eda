"""Score normalisation probe: does z-normalising each score by impostor statistics lower the EER of an embedder?

    python scripts/snorm_probe.py SOURCE WORLD      # SOURCE: pretrained:NAME, a weights file or a run

Every concealed scan of WORLD (train_val.csv and test.csv) against every unconcealed scan, the probe's own
counterpart left out and impostor pairs within a scanner only (as ``thzface eval``). Half of each scanner's people
(a seeded draw) are the cohort and are never scored; for the other half, s-norm = the mean of the score z-normalised
by the probe's scores against the cohort's unconcealed scans and by the gallery scan's against the cohort's concealed
ones (all cohort scores, or the top K). Prints EER and TAR@FAR=1e-2, raw against s-norm (docs/benchmarks.md,
fifteenth session).
"""

import sys
from pathlib import Path

import numpy as np
import torch

from thzface.data.captures import CaptureBank
from thzface.data.csv import read_triplets
from thzface.data.geometry import person_sites
from thzface.embedder.predictor import open_embedder
from thzface.metrics import verification as V

torch.set_num_threads(1)
source, root = sys.argv[1], Path(sys.argv[2])
rows = [r for f in ("train_val.csv", "test.csv") if (root / f).is_file() for r in read_triplets(root / f, root, False)]
_, cfg, model = open_embedder(source)  # in eval mode
bank = CaptureBank.from_rows(root, rows, cfg.data.image_size, sites=person_sites(root))


def embed(x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([model.embed(x[i : i + 256].float() / 255) for i in range(0, len(x), 256)]).numpy()


ids = bank.identity.numpy()
site = bank.site.numpy() if bank.site is not None else np.zeros(len(ids), int)
S = embed(bank.thz) @ embed(bank.target).T  # (N, N) probe x gallery
keep = ~np.eye(len(ids), dtype=bool) & V.scored_pairs(ids, ids, site, site)
same = ids[:, None] == ids[None, :]
rng = np.random.default_rng(0)
cohort_people: set[int] = set()
for s in np.unique(site):
    people = np.unique(ids[site == s])
    rng.shuffle(people)
    cohort_people |= set(people[: len(people) // 2].tolist())
cohort = np.isin(ids, list(cohort_people))
scored = keep & ~cohort[:, None] & ~cohort[None, :]
y = same[scored]
print(f"raw: EER {V.eer(S[scored], y)[0]:.4f}, TAR@FAR=1e-2 {V.tar_at_far(S[scored], y, 0.01).tar:.3f} "
      f"({scored.sum()} pairs, {y.sum()} genuine)")  # fmt: skip
for top in (None, 50, 200):
    mu_a, sd_a, mu_b, sd_b = (np.zeros(len(ids)), np.ones(len(ids)), np.zeros(len(ids)), np.ones(len(ids)))
    for s in np.unique(site):
        c = cohort & (site == s)
        for i in np.nonzero(~cohort & (site == s))[0]:
            r, g = S[i, c], S[c, i]  # probe i against the cohort's gallery; gallery i against the cohort's probes
            if top:
                r, g = np.sort(r)[-top:], np.sort(g)[-top:]
            mu_a[i], sd_a[i], mu_b[i], sd_b[i] = r.mean(), r.std() + 1e-6, g.mean(), g.std() + 1e-6
    Z = 0.5 * ((S - mu_a[:, None]) / sd_a[:, None] + (S - mu_b[None, :]) / sd_b[None, :])
    print(f"s-norm (cohort {'all' if top is None else f'top {top}'}): EER {V.eer(Z[scored], y)[0]:.4f}, "
          f"TAR@FAR=1e-2 {V.tar_at_far(Z[scored], y, 0.01).tar:.3f}")  # fmt: skip
