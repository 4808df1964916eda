"""The uniform average of two or more weights files of one architecture (a "model soup", Wortsman et al. 2022):
every floating-point tensor averaged, integer buffers (BatchNorm's ``num_batches_tracked``) and the metadata taken
from the first file, the sources named in the metadata's ``extra.provenance``. Runs that share the start of their
training (the same seed and data order, branching later) average into one model that can beat both; runs from
different initialisations do not. Score the average on the validation people before using it
(docs/benchmarks.md, twentieth session).

    python scripts/average_weights.py OUT.safetensors A B [...]    # each a run folder, weights file or pretrained:NAME
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file

from thzface.engine.checkpoint import RunError, weights_path

if len(sys.argv) < 4:
    sys.exit("usage: python scripts/average_weights.py OUT.safetensors A B [...]")
out = Path(sys.argv[1])
try:
    sources = [weights_path(s) for s in sys.argv[2:]]
except RunError as e:
    sys.exit(str(e))
if out.exists():
    sys.exit(f"{out}: exists; choose a new file")
states = [load_file(str(s)) for s in sources]
for s, st in zip(sources[1:], states[1:], strict=True):
    if st.keys() != states[0].keys() or any(st[k].shape != states[0][k].shape for k in st):
        sys.exit(f"{s}: not the architecture of {sources[0]} (tensor names or shapes differ)")
avg = {
    k: torch.stack([st[k] for st in states]).mean(0) if v.is_floating_point() else v.clone()
    for k, v in states[0].items()
}
with safe_open(str(sources[0]), framework="pt") as f:
    meta = dict(f.metadata())
extra = json.loads(meta.get("extra", "{}"))
extra.pop("threshold", None)  # a threshold belongs to one model: fit the average's own on validation people
extra["provenance"] = {"note": "uniform average of " + ", ".join(str(s) for s in sources)}
meta["extra"] = json.dumps(extra)
save_file(avg, str(out), metadata=meta)
print(f"{out}: average of {len(sources)} weights files")
