"""One pretraining folder from several simulated worlds: their images linked (not copied), CSV rows, identities,
poses and sites together, each world's sites kept apart (site ``S`` of the world of seed ``N`` becomes ``N:S`` in
identities.json and a site of its own in meta.json), so P×K batches within a site and the within-site validation
scoring see the merged folder as one world of all the worlds' scanners.

    python scripts/merge_worlds.py OUT WORLD [WORLD ...]

The worlds must not share a person (``thzface data overlap A B`` says; checked here by name) and must be of one
image size and mode. Used for the tenth session's pretraining on 800 + 2,000 people (docs/benchmarks.md).
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np

out, worlds = Path(sys.argv[1]), [Path(w) for w in sys.argv[2:]]
if not worlds:
    sys.exit("usage: python scripts/merge_worlds.py OUT WORLD [WORLD ...]")
if out.exists():
    sys.exit(f"{out}: exists; choose a new folder")
metas = [json.loads((w / "meta.json").read_text()) for w in worlds]
for w, m in zip(worlds[1:], metas[1:], strict=True):
    for key in ("image_size", "mode", "postures"):
        if m.get(key) != metas[0].get(key):
            sys.exit(f"{w / 'meta.json'}: {key} {m.get(key)!r} differs from {worlds[0]}'s {metas[0].get(key)!r}")
identities: dict = {}
for w, m in zip(worlds, metas, strict=True):
    for person, entry in json.loads((w / "identities.json").read_text()).items():
        if person in identities:
            sys.exit(f"{w / 'identities.json'}: {person} is in an earlier world too")
        traits = dict(entry["traits"], site=f"{m['seed']}:{entry['traits']['site']}")
        identities[person] = dict(entry, traits=traits)
out.mkdir(parents=True)
for sub in ("thz", "clean", "visible", "aux"):
    for w in worlds:
        if (w / sub).is_dir():
            (out / sub).mkdir(exist_ok=True)
            for p in (w / sub).iterdir():
                (out / sub / p.name).symlink_to(p.resolve())
for csv_name in ("all.csv", "train_val.csv", "test.csv"):
    if not any((w / csv_name).is_file() for w in worlds):
        continue
    rows: list[dict] = []
    fields = ["anchor", "positive", "negative"]
    for w in worlds:
        if (w / csv_name).is_file():
            with (w / csv_name).open(newline="") as f:
                r = csv.DictReader(f)
                fields = list(r.fieldnames or fields)
                rows += list(r)
    with (out / csv_name).open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
(out / "identities.json").write_text(json.dumps(identities))
files, poses = [], []
for w in worlds:
    with np.load(w / "poses.npz") as z:
        files.append(z["files"])
        poses.append(z["pose"])
np.savez(out / "poses.npz", files=np.concatenate(files), pose=np.concatenate(poses))
sites = [dict(s, site=f"{m['seed']}:{s['site']}") for m in metas for s in m.get("sites", [])]
meta = dict(metas[0], sites=sites, identities=list(identities), merged_from=[str(w.resolve()) for w in worlds])
meta["num_images"] = sum(int(m.get("num_images", 0)) for m in metas)
(out / "meta.json").write_text(json.dumps(meta, indent=1))
print(f"{out}: {len(identities)} people, {len(sites)} sites from {len(worlds)} worlds")
