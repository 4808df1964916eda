"""Data of the twin recipe: part boxes from ``aux/*.npz``, twin negatives, photometric-only augmentation.

A sample of :class:`TwinTripletDataset` is a :class:`~thzface.data.datasets.TripletDataset` sample plus the
part boxes of the anchor, of its unconcealed positive (its own pose, ``part_boxes_unconcealed``; the anchor's in
worlds written without them), of the negative and of a
**twin negative** — a concealed scan of the anchor's twin (``meta.json`` ``twins``), same posture when there is
one, drawn per (seed, epoch, index). Augmentation keeps the profile's drop-outs and noise but no geometry, so the
boxes stay aligned with the pixels.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from thzface.config import Config
from thzface.data.augment import Augment, photometric_augment
from thzface.data.csv import TripletRow
from thzface.data.datasets import TripletDataset, sample_seed
from thzface.data.io import ImageError, read_aux_array
from thzface.data.naming import ImageName, parse_name
from thzface.data.twins import read_twins
from thzface.engine.datamodule import TripletDataModule
from thzface.models.twin_config import PART_NAMES


def scale_boxes(boxes: np.ndarray, native: tuple[int, int], size: int) -> np.ndarray:
    """Pixel boxes (K, 4) of a W×H image → boxes of the centre-cropped square resized to ``size`` (as load_image)."""
    w, h = native
    s = min(w, h)
    off = np.array([(w - s) // 2, (h - s) // 2] * 2, dtype=np.float64)
    return ((np.asarray(boxes, np.float64) - off) * (size / s)).astype(np.float32)


def read_part_boxes(aux: Path, native: tuple[int, int], size: int, unconcealed: bool = False) -> np.ndarray | None:
    """``part_boxes`` (5, 4) of an aux file scaled to ``size`` (the unconcealed scan's own with ``unconcealed``,
    :func:`thzface.data.io.aux_key`); None when the file or key is absent."""
    boxes = read_aux_array(aux, "part_boxes", unconcealed)  # (5, 4)
    if boxes is None:
        return None
    if boxes.shape != (len(PART_NAMES), 4) or not np.isfinite(boxes).all():
        raise ImageError(f"{aux}: part_boxes must be finite with shape ({len(PART_NAMES)}, 4), got {boxes.shape}")
    if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
        raise ImageError(f"{aux}: part_boxes need x1 >= x0 and y1 >= y0 (x0, y0, x1, y1 in pixels)")
    return scale_boxes(boxes, native, size)


BOX_KEYS = ("anchor_boxes", "negative_boxes", "twin_boxes", "positive_boxes")  # order of ``has_boxes``


class TwinTripletDataset(TripletDataset):
    """Triplets + part boxes + twin negatives (see the module docstring and :meth:`__getitem__`)."""

    def __init__(
        self,
        root: str | Path,
        rows: Sequence[TripletRow],
        image_size: int,
        identities: Sequence[str],
        twins: dict[str, str],
        augment: Augment | None = None,
        target: str = "positive",
        seed: int = 0,
    ) -> None:
        super().__init__(root, rows, image_size, identities, augment=augment, target=target, seed=seed)
        self.twins = twins
        self.identities = list(identities)
        self.pool: dict[str, list[ImageName]] = defaultdict(list)  # concealed scans of this side, by identity
        for r in self.rows:
            self.pool[r.anchor_name.identity].append(r.anchor_name)
        self._boxes: dict[str, np.ndarray | None] = {}

    def boxes(self, name: str) -> np.ndarray | None:
        """Part boxes (5, 4) at ``image_size`` of a scan (aux file of its concealed form; an unconcealed scan's
        own boxes where written), cached."""
        if name not in self._boxes:
            n = parse_name(name)
            key = n.filename if n.concealed else n.counterpart().filename
            aux = self.root / "aux" / (Path(key).stem + ".npz")
            native = Image.open(self.root / "thz" / name).size if aux.is_file() else (0, 0)
            self._boxes[name] = read_part_boxes(aux, native, self.size, unconcealed=not n.concealed)
        return self._boxes[name]

    def twin_scan(self, index: int) -> ImageName | None:
        """A concealed scan of the anchor's twin on this side (same posture preferred), or None."""
        a = self.rows[index].anchor_name
        cands = self.pool.get(self.twins.get(a.identity, ""), [])
        if not cands:
            return None
        same = [c for c in cands if c.posture == a.posture] or cands
        rng = np.random.default_rng(sample_seed(self.seed, self.epoch, index, 7))
        return sorted(same)[int(rng.integers(len(same)))]

    def __getitem__(self, index: int) -> dict:
        """Adds ``anchor_boxes``, ``negative_boxes``, ``twin_boxes``, ``positive_boxes`` (5, 4) pixel boxes (zeros
        where unknown), ``has_boxes`` (4,) bool (anchor, negative, twin, positive), ``twin`` (1, S, S) augmented
        concealed scan of the twin (the negative's copy when there is none), ``has_twin`` bool, ``twin_identity``
        (index, -1 if none)."""
        sample = super().__getitem__(index)
        r = self.rows[index]
        twin = self.twin_scan(index)
        zeros = np.zeros((len(PART_NAMES), 4), np.float32)
        found = [self.boxes(r.anchor), self.boxes(r.negative), self.boxes(twin.filename) if twin else None,
                 self.boxes(r.positive)]  # fmt: skip
        for key, b in zip(BOX_KEYS, found, strict=True):
            sample[key] = torch.from_numpy(zeros if b is None else b)  # (5, 4)
        sample["has_boxes"] = torch.tensor([b is not None for b in found])  # (4,)
        if twin is None:
            sample["twin"] = sample["negative"].clone()
        else:
            sample["twin"] = self._augment(self._thz(self.root / "thz" / twin.filename), index, 2)  # (1, S, S)
        sample["has_twin"] = torch.tensor(twin is not None)
        tw = self.twins.get(r.anchor_name.identity)
        sample["twin_identity"] = torch.tensor(self.identities.index(tw) if tw in self.identities else -1)
        return sample


def twin_dataset(cfg: Config, root: Path, rows: Sequence[TripletRow], identities: Sequence[str],
                 train: bool) -> TwinTripletDataset:  # fmt: skip
    """The dataset the twin task reads (training: photometric augmentation of the anchor and negatives)."""
    return TwinTripletDataset(
        root, rows, cfg.data.image_size, identities, read_twins(root),
        augment=photometric_augment(cfg.aug.profile, cfg.aug.p) if train else None,
        target=cfg.data.target, seed=cfg.train.seed,
    )  # fmt: skip


class TwinDataModule(TripletDataModule):
    """:class:`TripletDataModule` (split, P×K sampler, loaders) serving :class:`TwinTripletDataset` samples."""

    def __init__(self, cfg: Config, root: Path):
        super().__init__(cfg, root)
        if cfg.data.use_visible:
            raise ValueError("data.use_visible: the twin recipe reads THz scans only; set it to false")

    def _dataset(self, rows: list[TripletRow], train: bool) -> TwinTripletDataset:  # type: ignore[override]
        return twin_dataset(self.cfg, self.root, rows, self.identities, train)
