"""Re-score an ``mtl`` run with ``thzface eval``'s protocol (probe × gallery pairs, the run's identity split) twice:
the embedding of the scan alone and with the flip test (``model.flip_test``), on the same weights. For runs trained
before the option existed; nothing in the run is written.

    python scripts/flip_rescore.py RUN DATA_DIR
"""

import sys
from pathlib import Path

from thzface.data.csv import read_triplets
from thzface.embedder import open_embedder
from thzface.recipes.mtl.recipe import collect, compute_metrics, summary

run, root = Path(sys.argv[1]), Path(sys.argv[2])
info, cfg, model = open_embedder(run)
split = info.split
if split is None:
    sys.exit(f"{run}: no split.json (the run's identity split is needed for the protocols)")
rows = read_triplets(root / cfg.data.test_csv, root, visible=False)
KEYS = ("eer", "roc_auc", "tar@far=0.01", "same_posture_eer", "cross_posture_eer", "baseline_pixel_eer")
for flip in (False, True):
    model.cfg.flip_test = flip
    c = collect(model, cfg, root, rows)
    s = summary(compute_metrics(c, set(split.train), cfg.train.seed, None, set(split.val)))
    for protocol in ("identity-disjoint", "closed-set"):
        vals = " ".join(f"{k} {s[protocol][k]:.3f}" for k in KEYS if s[protocol].get(k) is not None)
        print(f"{'flip test' if flip else 'scan alone':10s} {protocol:17s} {vals}")
