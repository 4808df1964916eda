"""Single unconcealed images for inpainting, with what the mask generators need from ``aux/``; data module.

The images are the unconcealed scans named as positives in a triplet CSV: ``thz/`` (``clean/`` with
``data.target: clean``) for ``model.modality: thz``, ``visible/`` for ``visible``. From ``aux/<concealed
name>.npz`` (or ``aux/<name>.npz``) come the head region (``face_mask``), the facial-part boxes (``part_boxes``;
an unconcealed scan's own ``part_boxes_unconcealed`` where the world wrote them, :func:`thzface.data.io.aux_key`)
and the garment silhouette of the concealed counterpart (``garment_mask``), resized to the image size (nearest;
boxes scaled). The head region is the concealed capture's (no world writes the unconcealed scan's). Masks are not
made here: the task draws them per step (curriculum by training progress).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from thzface.config import Config
from thzface.data.csv import TripletRow, read_triplets
from thzface.data.io import ImageError, aux_key, load_image, open_image
from thzface.data.masks import MaskContext
from thzface.data.naming import parse_name
from thzface.data.split import split_validation

MAX_BOXES = 8  # part boxes per image kept in a batch (padded with NaN)
PRIOR_IMAGES = 2000  # training images (at most, a seeded draw) the eigenface fill is fitted to


def image_source(cfg: Config, root: Path) -> tuple[Path, int]:
    """Folder of the images to inpaint and their channel count, from ``model.modality`` and ``data.target``."""
    m = cfg.model
    if m.modality == "visible":
        folder = root / "visible"
        if not folder.is_dir():
            raise ValueError(f"{folder}: model.modality is 'visible' but the dataset has no visible/ folder")
        return folder, m.image_channels
    clean = root / "clean"
    return (clean if cfg.data.target == "clean" and clean.is_dir() else root / "thz"), 1


def positives(rows: list[TripletRow]) -> list[str]:
    """Sorted unique unconcealed images (positives) of the rows."""
    return sorted({r.positive for r in rows})


def _aux_path(root: Path, name: str) -> Path | None:
    concealed = parse_name(name).counterpart().filename
    for candidate in (concealed, name):
        p = root / "aux" / (Path(candidate).stem + ".npz")
        if p.is_file():
            return p
    return None


def _resize_mask(m: np.ndarray, size: int, where: str) -> np.ndarray:
    if m.ndim != 2:
        raise ImageError(f"{where}: expected an (H, W) mask, got shape {m.shape}")
    t = torch.from_numpy((m > 0).astype(np.float32))[None, None]  # (1, 1, h, w)
    return torch.nn.functional.interpolate(t, size=(size, size), mode="nearest")[0, 0].numpy() > 0.5  # (S, S)


def load_context(root: Path, name: str, size: int, native: int) -> dict[str, np.ndarray | None]:
    """``region``, ``garment`` ((S, S) bool) and ``boxes`` ((K, 4) px at size S) of image ``name`` (None where
    the aux file or key is absent). ``native``: the image's own side, the scale of boxes when no map says."""
    out: dict[str, np.ndarray | None] = {"region": None, "garment": None, "boxes": None}
    path = _aux_path(root, name)
    if path is None:
        return out
    own = not parse_name(name).concealed and path.stem != Path(name).stem  # an unconcealed scan, its capture's aux
    try:
        with np.load(path) as z:
            keys = {k: aux_key(k, z.files, own) for k in ("face_mask", "garment_mask", "part_boxes")}
            arrays = {k: np.asarray(z[f]) for k, f in keys.items() if f is not None}
            side_src = next((np.asarray(z[k]) for k in ("face_mask", "garment_mask", "depth") if k in z.files), None)
    except (OSError, ValueError) as e:
        raise ImageError(f"{path}: unreadable aux file ({e})") from e
    side = side_src.shape[-1] if side_src is not None else native
    if "face_mask" in arrays:
        region = _resize_mask(arrays["face_mask"], size, f"{path}: face_mask")
        out["region"] = region if region.sum() >= 4 else None
    if "garment_mask" in arrays:
        garment = _resize_mask(arrays["garment_mask"], size, f"{path}: garment_mask")
        out["garment"] = garment if garment.any() else None
    if "part_boxes" in arrays:
        boxes = arrays["part_boxes"].astype(np.float32)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ImageError(f"{path}: part_boxes has shape {boxes.shape}, expected (K, 4)")
        boxes = boxes[np.isfinite(boxes).all(1)][:MAX_BOXES] * (size / side)
        out["boxes"] = boxes if len(boxes) else None
    return out


class InpaintDataset(Dataset):
    """Images (C, S, S) in [0, 1] with their aux context; loaded once and kept in memory."""

    def __init__(self, root: Path, folder: Path, names: list[str], size: int, channels: int) -> None:
        if not names:
            raise ValueError(f"{folder}: no images to inpaint")
        self.root, self.folder, self.names, self.size, self.channels = Path(root), folder, names, size, channels
        self._cache: dict[int, dict] = {}

    def __len__(self) -> int:
        return len(self.names)

    def _load(self, index: int) -> dict:
        path = self.folder / self.names[index]
        img = torch.from_numpy(load_image(path, self.size, self.channels))  # (C, S, S)
        ctx = load_context(self.root, self.names[index], self.size, open_image(path).size[0])
        boxes = np.full((MAX_BOXES, 4), np.nan, np.float32)
        if ctx["boxes"] is not None:
            boxes[: len(ctx["boxes"])] = ctx["boxes"]
        blank = np.zeros((self.size, self.size), bool)
        return {
            "image": img,
            "region": torch.from_numpy(blank if ctx["region"] is None else ctx["region"])[None],  # (1, S, S)
            "has_region": torch.tensor(ctx["region"] is not None),
            "garment": torch.from_numpy(blank if ctx["garment"] is None else ctx["garment"])[None],  # (1, S, S)
            "boxes": torch.from_numpy(boxes),  # (MAX_BOXES, 4), NaN rows unused
            "index": torch.tensor(index),
            "name": self.names[index],
        }

    def __getitem__(self, index: int) -> dict:
        if index not in self._cache:
            self._cache[index] = self._load(index)
        return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in self._cache[index].items()}


def contexts(batch: dict) -> list[MaskContext]:
    """One :class:`MaskContext` per batch item from the collated aux tensors."""
    out = []
    for i in range(batch["image"].shape[0]):
        boxes = batch["boxes"][i].cpu().numpy()  # (MAX_BOXES, 4)
        boxes = boxes[np.isfinite(boxes).all(1)]
        garment = batch["garment"][i, 0].cpu().numpy()  # (S, S)
        out.append(
            MaskContext(
                region=batch["region"][i, 0].cpu().numpy() if bool(batch["has_region"][i]) else None,
                boxes=boxes if len(boxes) else None,
                garment=garment if garment.any() else None,
            )
        )
    return out


def split_dataset(cfg: Config, root: Path, csv: str) -> InpaintDataset:
    """The dataset of the positives of ``root/csv`` (e.g. the test CSV) at the config's size and modality."""
    rows = read_triplets(root / csv, root)
    if not rows:
        raise ValueError(f"{root / csv}: no triplet rows")
    folder, channels = image_source(cfg, root)
    return InpaintDataset(root, folder, positives(rows), cfg.data.image_size, channels)


class InpaintDataModule(L.LightningDataModule):
    """Positives of ``data.train_csv`` split into train/validation (per identity and posture, by sample)."""

    def __init__(self, cfg: Config, root: Path) -> None:
        super().__init__()
        self.cfg, self.root = cfg, Path(root)
        if cfg.train.sampler != "random":
            raise ValueError(f"train.sampler: inpaint draws single images at random; got {cfg.train.sampler!r}")
        rows = read_triplets(self.root / cfg.data.train_csv, self.root)
        if not rows:
            raise ValueError(f"{self.root / cfg.data.train_csv}: no triplet rows")
        train, val = split_validation(rows, cfg.data.val_fraction, cfg.train.seed)
        folder, channels = image_source(cfg, self.root)
        size = cfg.data.image_size
        self.train_set = InpaintDataset(self.root, folder, positives(train), size, channels)
        self.val_set = InpaintDataset(self.root, folder, positives(val or train[:64]), size, channels)

    def prior_images(self) -> torch.Tensor:
        """Training images (N, C, S, S) for the eigenface fill: all of them, or a seeded draw of PRIOR_IMAGES."""
        n = len(self.train_set)
        pick = np.random.default_rng(self.cfg.train.seed).permutation(n)[:PRIOR_IMAGES] if n > PRIOR_IMAGES else None
        return torch.stack([self.train_set[int(i)]["image"] for i in (range(n) if pick is None else pick)])

    def train_dataloader(self) -> DataLoader:
        t, d = self.cfg.train, self.cfg.data
        rank = self.trainer.global_rank if self.trainer is not None else 0
        g = torch.Generator().manual_seed(t.seed + 1000 * rank)
        return DataLoader(
            self.train_set,
            batch_size=t.batch_size,
            shuffle=True,
            drop_last=len(self.train_set) > t.batch_size,
            generator=g,
            num_workers=d.num_workers,
            persistent_workers=d.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=max(self.cfg.train.batch_size, 32), shuffle=False)
