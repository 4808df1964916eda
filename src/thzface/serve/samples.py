"""Sample THz scans the web app offers to pick: a few concealed test scans of varied identity and posture."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

from thzface.data.csv import read_triplets
from thzface.data.inputs import IMAGE_EXTS
from thzface.data.naming import NameError_, parse_name
from thzface.engine.run import Run

log = logging.getLogger(__name__)

MAX_SAMPLES = 12


def run_data_dir(run: Path) -> Path | None:
    """The dataset the run trained on (``RUN/split.json``), if recorded and still there: its test.csv holds the
    scans of people the model never trained on."""
    try:
        data = Run(run).data
    except ValueError:
        return None
    return data if data is not None and data.is_dir() else None


def _test_names(root: Path) -> set[str] | None:
    """Anchor names of ``root/test.csv`` (None when there is no readable test CSV)."""
    csv = root / "test.csv"
    if not csv.is_file():
        return None
    try:
        return {r.anchor for r in read_triplets(csv, root)}
    except ValueError as e:
        log.warning("%s: not used for samples (%s)", csv, e)
        return None


def pick_samples(folder: Path, limit: int = MAX_SAMPLES, only: set[str] | None = None) -> list[Path]:
    """Up to ``limit`` images of ``folder``: concealed seed-named scans interleaved over identities, each identity
    starting at another posture; images whose names do not follow the seed scheme come after, sorted."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    by_id: dict[str, list[Path]] = defaultdict(list)
    other: list[Path] = []
    for p in files:
        try:
            name = parse_name(p.name)
        except NameError_:
            other.append(p)
            continue
        if name.concealed and (only is None or p.name in only):
            by_id[name.identity].append(p)
    queues = []
    for j, ident in enumerate(sorted(by_id)):
        scans = sorted(by_id[ident], key=lambda p: (parse_name(p.name).sample, parse_name(p.name).posture))
        k = j % len(scans)
        queues.append(scans[k:] + scans[:k])
    picked: list[Path] = []
    for i in range(max((len(q) for q in queues), default=0)):
        picked += [q[i] for q in queues if i < len(q)]
    return (picked + other)[:limit]


def find_samples(run: Path, samples: Path | None, limit: int = MAX_SAMPLES) -> list[Path]:
    """Sample scans from ``samples`` (a dataset folder with thz/, or a folder of images), else from the dataset the
    run trained on (its test scans); [] when neither exists. A given ``samples`` folder without images is an error."""
    root = Path(samples) if samples is not None else run_data_dir(Path(run))
    if root is None:
        return []
    if not root.is_dir():
        raise ValueError(f"{root}: samples folder not found")
    folder = root / "thz" if (root / "thz").is_dir() else root
    picked = pick_samples(folder, limit, _test_names(root))
    if not picked and samples is not None:
        raise ValueError(f"{folder}: no images to offer as samples ({', '.join(IMAGE_EXTS)})")
    return picked
