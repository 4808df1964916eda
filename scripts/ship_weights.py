"""Ship a run's weights as ``pretrained:NAME``: its model.safetensors copied into the package with the run's
deployed threshold (fit on its validation people) and where it came from in the metadata, so `thzface verify
pretrained:NAME A B` decides with it. Run it only after the new weights beat the shipped ones on people neither
trained on (the identity issue's rule; docs/model-card.md says how they were made).

    python scripts/ship_weights.py RUN NAME "one line of provenance"
"""

import json
import sys
from pathlib import Path

from safetensors.torch import load_file, safe_open, save_file

from thzface.engine.checkpoint import PRETRAINED_DIR
from thzface.engine.run import Run

run_dir, name, note = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
run = Run(run_dir)
verifies = run.recipe in ("mtl", "distill")  # embedders deploy a threshold; inpaint, unmask3d have none
if verifies and run.threshold is None:
    sys.exit(f"{run_dir}: no threshold.json (a run trained with validation people has one)")
with safe_open(str(run.weights), framework="pt") as f:
    meta = dict(f.metadata())
extra = json.loads(meta.get("extra", "{}"))
if verifies:
    extra["threshold"] = {"threshold": run.threshold, "source": f"{run.threshold_source} ({run_dir.name})"}
extra["provenance"] = {"note": note, "data": str(run.data), "val_people": len(run.split.val) if run.split else 0}
meta["extra"] = json.dumps(extra)
out = PRETRAINED_DIR / f"{name}.safetensors"
save_file(load_file(str(run.weights)), str(out), metadata=meta)
print(f"{out}: " + (f"threshold {run.threshold:.4f} ({extra['threshold']['source']})" if verifies else run.recipe))
