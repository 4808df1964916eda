"""A folder of some people of another: their images (linked, not copied), CSV rows, identities and poses — e.g. a
pretraining run's validation people, to score two sets of weights on exactly the people both never trained on
(the identity issue's rule for new shipped weights: `thzface eval WEIGHTS --data OUT` on each).

    python scripts/people_subset.py SRC RUN/split.json val OUT      # the run's validation identities
    python scripts/people_subset.py SRC people.txt - OUT            # one identity per line
"""

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from thzface.data.naming import parse_name

src, people_file, side, out = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
if out.exists():
    sys.exit(f"{out}: exists; choose a new folder")
if side == "-":
    people = {line.strip() for line in people_file.read_text().splitlines() if line.strip()}
else:
    people = set(json.loads(people_file.read_text())[side])
out.mkdir(parents=True)
for csv_name in ("train_val.csv", "test.csv"):
    with (src / csv_name).open(newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if parse_name(r["anchor"]).identity in people]
    kept_ids = {parse_name(r["anchor"]).identity for r in keep}
    for r in keep:  # a negative of a left-out person becomes one of the kept people (same posture when possible)
        if parse_name(r["negative"]).identity not in kept_ids:
            mine = parse_name(r["anchor"]).identity
            other = next((x for x in keep if parse_name(x["anchor"]).identity != mine), None)
            if other is not None:
                r["negative"] = other["anchor"]
    with (out / csv_name).open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["anchor", "positive", "negative"])
        w.writeheader()
        w.writerows(keep)
for sub in ("thz", "clean", "visible", "aux"):
    if (src / sub).is_dir():
        (out / sub).mkdir()
        for p in (src / sub).iterdir():
            if p.name.rsplit("_", 2)[0] in people:
                (out / sub / p.name).symlink_to(p.resolve())
for name in ("meta.json",):
    if (src / name).is_file():
        shutil.copy(src / name, out / name)
if (src / "identities.json").is_file():
    ids = json.loads((src / "identities.json").read_text())
    (out / "identities.json").write_text(json.dumps({k: v for k, v in ids.items() if k in people}))
if (src / "poses.npz").is_file():
    with np.load(src / "poses.npz") as z:
        keep_rows = [i for i, f in enumerate(z["files"]) if str(f).rsplit("_", 2)[0] in people]
        np.savez(out / "poses.npz", files=z["files"][keep_rows], pose=z["pose"][keep_rows])
print(f"{out}: {len(people)} people")
