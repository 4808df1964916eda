"""The run folder as one object: its weights (with the config in their metadata), the deployed threshold, the
identity split and the data it trained on, its checkpoints and outputs, each read once.

A run folder holds ``config.yaml`` (the resolved config), ``model.safetensors`` (deployable weights + config),
``threshold.json`` (the deployed verification threshold, fit on validation identities by training),
``split.json`` (the data folder and the training / validation identities), ``checkpoints/last.ckpt`` (resume),
``logs/``, ``tb/`` and ``curves.png``. :class:`Run` also opens a bare weights file or ``pretrained:NAME`` (no
split; a threshold only where the file's metadata carries its run's: shipped weights, ``scripts/ship_weights.py``).
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

from torch import nn

from thzface.config import atomic_write_text
from thzface.data.identity_split import IdentitySplit
from thzface.engine.checkpoint import PRETRAINED, WEIGHTS, ModelSpec, build_from, read_metadata, weights_path

CONFIG = "config.yaml"
THRESHOLD = "threshold.json"  # the deployed verification threshold and where it came from
SPLIT = "split.json"  # the data folder a run trained on and its training / validation identities
LAST = Path("checkpoints") / "last.ckpt"  # the resume point, written at every epoch end
OUTPUTS = ("checkpoints", "logs", "tb", WEIGHTS, "curves.png", THRESHOLD, SPLIT)  # what --no-resume clears


def save_threshold(run_dir: Path, threshold: float, source: str) -> None:
    """Store the run's deployed verification threshold (written by training, from validation identities only)."""
    atomic_write_text(Path(run_dir) / THRESHOLD, json.dumps({"threshold": float(threshold), "source": source}))


def save_split(run_dir: Path, data: Path, split: IdentitySplit | None = None) -> None:
    """Record the data folder a run trains on and, for verification recipes, its training / validation identities
    (``eval`` reads both)."""
    doc: dict[str, Any] = {"data": str(Path(data).resolve())}
    if split is not None:
        doc.update(train=list(split.train), val=list(split.val))
    atomic_write_text(Path(run_dir) / SPLIT, json.dumps(doc, indent=1))


class Run:
    """A run folder, weights file or ``pretrained:NAME``; RunError when it has no readable thzface weights."""

    def __init__(self, where: str | Path) -> None:
        self.where = str(where)
        self.weights = weights_path(where)  # RunError when absent
        folder = None if self.where.startswith(PRETRAINED) or Path(where).is_file() else Path(where)
        self.folder: Path | None = folder  # None: a bare weights file (no threshold, no split)
        self.meta = read_metadata(self.weights)  # {"recipe", "config" (dict), "extra" (dict)}

    def __repr__(self) -> str:
        return f"Run({self.where!r})"

    @property
    def path(self) -> Path:
        return Path(self.where)

    @property
    def recipe(self) -> str:
        """The recipe that trained it (from the weights' metadata)."""
        return str(self.meta["recipe"])

    @property
    def extra(self) -> dict:
        """What training recorded beside the weights (step, monitor, value, recipe-specific entries)."""
        return self.meta["extra"]

    def load(
        self,
        models: ModelSpec | tuple[ModelSpec, ...],
        map_location: str = "cpu",
        expect: type[nn.Module] | None = None,
    ):
        """``(cfg, model in eval mode, extra)``; RunError for weights of a recipe not in ``models`` or (``expect``)
        a model of another class (see :func:`thzface.engine.checkpoint.build_from`)."""
        return build_from(self.weights, self.meta, models, map_location, expect)

    def _json(self, name: str) -> dict | None:
        f = self.folder / name if self.folder is not None else None
        if f is None or not f.is_file():
            return None
        try:
            doc = json.loads(f.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{f}: not a thzface {name} ({e})") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{f}: not a thzface {name} (not an object)")
        return doc

    @property
    def _threshold(self) -> dict | None:
        if self.folder is None:  # shipped weights and weights files carry the threshold of their run in metadata
            extra = self.extra.get("threshold")
            return extra if isinstance(extra, dict) and "threshold" in extra else None
        return self._json(THRESHOLD)  # read at each use: a service sees a threshold training writes later

    @property
    def threshold(self) -> float | None:
        """The deployed verification threshold (fit on validation identities in training); None without one."""
        return None if self._threshold is None else float(self._threshold["threshold"])

    @property
    def threshold_source(self) -> str | None:
        """Where the deployed threshold came from (None without one)."""
        return None if self._threshold is None else str(self._threshold.get("source", ""))

    @cached_property
    def _split(self) -> dict | None:
        doc = self._json(SPLIT)
        if doc is not None and "data" not in doc:
            raise ValueError(f"{self.where}/{SPLIT}: not a thzface {SPLIT} (no 'data' entry)")
        return doc

    @property
    def split(self) -> IdentitySplit | None:
        """The training / validation identities; None for runs without an identity split."""
        doc = self._split
        if doc is None or "train" not in doc:
            return None
        return IdentitySplit(tuple(doc["train"]), tuple(doc.get("val", ())))

    @property
    def data(self) -> Path | None:
        """The data folder it trained on (None for runs trained before it was recorded, or bare weights)."""
        return Path(self._split["data"]) if self._split is not None else None
