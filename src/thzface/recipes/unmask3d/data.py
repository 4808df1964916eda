"""Data for ``unmask3d``: concealed image, unconcealed target, garment mask and the simulator's coefficients.

A row of a triplet CSV gives one sample: the concealed input (``thz/<anchor>``, or ``visible/<visible_concealed>``
as RGB for ``model.modality: visible``), its unconcealed target (the positive, ``clean/`` with ``data.target:
clean``, or ``visible/<visible_unconcealed>``) and ``aux/<anchor>.npz``: ``garment_mask`` (the N3D's mask
target), ``shape_coeffs``, ``expr_coeffs``, ``pose`` and ``landmarks``. The placement (s, u0, v0) completing
the coefficient vector is fitted once per sample from the true 3D landmarks (the face model at the true
coefficients) and the aux 2D landmarks (:func:`thzface.recipes.unmask3d.render.fit_placement`). Rows without
aux data (real scans) keep zeros and ``has_coeffs``/``has_mask`` False, so their N3D terms are skipped.
Augmentation is photometric only (the profile's stripes, cutout, band-drop, noise): a geometric warp would
misalign the mask, landmarks and coefficients.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from thzface.config import Config
from thzface.data.augment import Augment, photometric_augment
from thzface.data.csv import TripletRow, read_triplets
from thzface.data.datasets import identity_list, sample_seed
from thzface.data.io import load_image
from thzface.data.split import split_validation
from thzface.recipes.unmask3d.render import Renderer, face_model_of, fit_placement

NUM_LANDMARKS = 68


def usable_rows(rows: list[TripletRow], modality: str, where: str) -> list[TripletRow]:
    """Rows that hold what the modality needs (visible: both visible columns); ValueError when none do."""
    if modality == "visible":
        rows = [r for r in rows if r.visible_concealed and r.visible_unconcealed]
    if not rows:
        raise ValueError(
            f"{where}: no rows with {'visible concealed/unconcealed images' if modality == 'visible' else 'triplets'}"
        )
    return rows


class Unmask3DDataset(Dataset):
    """One sample per row: image, target (C, S, S); mask (1, S, S); coeffs (K,) physical; lm2d, lm3d; labels."""

    def __init__(
        self,
        root: Path,
        rows: list[TripletRow],
        cfg: Config,
        renderer: Renderer,
        identities: list[str],
        augment: Augment | None = None,
    ) -> None:
        m = cfg.model
        self.root, self.rows, self.size = (
            Path(root),
            usable_rows(list(rows), m.modality, str(root)),
            cfg.data.image_size,
        )
        self.modality, self.channels, self.renderer = m.modality, m.image_channels, renderer
        self.use_clean = cfg.data.target == "clean" and (self.root / "clean").is_dir()
        self.index = {name: i for i, name in enumerate(identities)}
        self.augment, self.seed, self.epoch = augment, cfg.train.seed, 0
        self._labels: dict[int, dict] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _paths(self, r: TripletRow) -> tuple[Path, Path]:
        if self.modality == "visible":
            return self.root / "visible" / str(r.visible_concealed), self.root / "visible" / str(r.visible_unconcealed)
        clean = self.root / "clean" / r.positive
        return (
            self.root / "thz" / r.anchor,
            clean if self.use_clean and clean.is_file() else self.root / "thz" / r.positive,
        )

    def labels(self, i: int) -> dict:
        """Mask, coefficients and landmarks of row ``i`` from its aux file (computed once per dataset object)."""
        if i in self._labels:
            return self._labels[i]
        r, s, lay = self.rows[i], self.size, self.renderer.layout
        aux = self.root / "aux" / (Path(r.anchor).stem + ".npz")
        out = {
            "mask": np.zeros((s, s), np.float32),
            "has_mask": False,
            "coeffs": np.zeros(lay.size, np.float32),
            "has_coeffs": False,
            "lm2d": np.zeros((NUM_LANDMARKS, 2), np.float32),
            "lm3d": np.zeros((NUM_LANDMARKS, 3), np.float32),
        }
        if aux.is_file():
            with np.load(aux, allow_pickle=False) as z:
                data = {
                    k: np.asarray(z[k])
                    for k in ("garment_mask", "shape_coeffs", "expr_coeffs", "pose", "landmarks")
                    if k in z.files
                }
            if "garment_mask" in data:
                gm = data["garment_mask"]
                if gm.ndim != 2:
                    raise ValueError(f"{aux}: garment_mask has shape {gm.shape}, expected (H, W)")
                t = torch.from_numpy((gm > 0).astype(np.float32))[None, None]  # (1, 1, h, w)
                out["mask"] = torch.nn.functional.interpolate(t, size=(s, s), mode="nearest")[0, 0].numpy()
                out["has_mask"] = True
            if all(k in data for k in ("shape_coeffs", "expr_coeffs", "pose", "landmarks", "garment_mask")):
                shape, expr, pose = (
                    data[k].astype(np.float64).reshape(-1) for k in ("shape_coeffs", "expr_coeffs", "pose")
                )
                if shape.size != lay.n_shape or expr.size != lay.n_expr or pose.size != 3:
                    raise ValueError(
                        f"{aux}: coefficients ({shape.size} shape, {expr.size} expression) do not fit face model "
                        f"model.face_model ({lay.n_shape}, {lay.n_expr}); set model.face_model to the dataset's"
                    )
                src = data["garment_mask"].shape[-1]
                lm2d = (data["landmarks"].astype(np.float64) + 0.5) * (s / src) - 0.5  # (68, 2) at size S
                lm3d = self.renderer.landmarks3d(shape, expr)  # (68, 3)
                placement, _ = fit_placement(lm3d, pose, lm2d)
                out.update(
                    coeffs=np.concatenate([shape, expr, pose, placement]).astype(np.float32),
                    has_coeffs=True,
                    lm2d=lm2d.astype(np.float32),
                    lm3d=lm3d,
                )
        self._labels[i] = out
        return out

    def __getitem__(self, i: int) -> dict:
        r = self.rows[i]
        src, tgt = self._paths(r)
        image = torch.from_numpy(load_image(src, self.size, self.channels))  # (C, S, S)
        if self.augment is not None:
            g = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, i))
            image = self.augment(image[None], g)[0]  # (C, S, S)
        lab = self.labels(i)
        return {
            "image": image,
            "target": torch.from_numpy(load_image(tgt, self.size, self.channels)),  # (C, S, S)
            "mask": torch.from_numpy(lab["mask"])[None],  # (1, S, S)
            "has_mask": torch.tensor(lab["has_mask"]),
            "coeffs": torch.from_numpy(lab["coeffs"]),  # (K,)
            "has_coeffs": torch.tensor(lab["has_coeffs"]),
            "lm2d": torch.from_numpy(lab["lm2d"]),  # (68, 2)
            "lm3d": torch.from_numpy(lab["lm3d"]),  # (68, 3)
            "identity": torch.tensor(self.index.get(r.anchor_name.identity, -1), dtype=torch.long),
            "posture": torch.tensor(r.anchor_name.posture, dtype=torch.long),
            "name": r.anchor,
        }

    def coefficient_table(self) -> np.ndarray:
        """(N, K) physical coefficients of the rows that have them (labels computed on first use)."""
        labs = [self.labels(i) for i in range(len(self))]
        rows = [lab["coeffs"] for lab in labs if lab["has_coeffs"]]
        return np.stack(rows) if rows else np.zeros((0, self.renderer.layout.size), np.float32)


def coefficient_stats(table: np.ndarray, groups: dict[str, slice]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-coefficient mean and std (K,) of a (N, K) table; ValueError when it is empty.

    Identity-shape and expression coefficients are standardised variables of the face model, so each of those
    groups gets one pooled std (RMS of its per-coefficient stds): a training set of few identities would
    otherwise give some coefficient a near-zero std and blow its standardised error up. Pose angles and
    placement keep one std per coefficient (their units differ).
    """
    if len(table) == 0:
        raise ValueError("coefficient statistics: no training row has aux coefficients (simulated data needed)")
    t = torch.from_numpy(np.asarray(table, np.float64))
    std = t.std(dim=0, unbiased=False) if len(t) > 1 else torch.ones(t.shape[1], dtype=torch.float64)
    for name in ("shape", "expression"):
        sl = groups[name]
        std[sl] = std[sl].pow(2).mean().sqrt()
    return t.mean(dim=0).float(), std.float()


class Unmask3DDataModule(L.LightningDataModule):
    """Train/validation split of ``DIR/<train_csv>`` (closed-set holdout), P×K or shuffled batches."""

    def __init__(self, cfg: Config, root: Path) -> None:
        super().__init__()
        self.cfg, self.root = cfg, Path(root)
        m = cfg.model
        rows = usable_rows(
            read_triplets(self.root / cfg.data.train_csv, self.root), m.modality, str(self.root / cfg.data.train_csv)
        )
        self.identities = identity_list(rows)
        train, val = split_validation(rows, cfg.data.val_fraction, cfg.train.seed)
        written = face_model_of(self.root)
        if written is not None and written != m.face_model:
            raise ValueError(
                f"{self.root / 'meta.json'}: the dataset was simulated with face model {written!r}, "
                f"but model.face_model is {m.face_model!r}"
            )
        self.renderer = Renderer(m.face_model, m.face_model_path, m.render_grid_deg, cfg.data.image_size)
        aug = None if cfg.aug.profile == "none" else photometric_augment(cfg.aug.profile, cfg.aug.p)
        self.train_set = Unmask3DDataset(self.root, train, cfg, self.renderer, self.identities, aug)
        self.val_set = Unmask3DDataset(
            self.root, val or train[: min(len(train), 64)], cfg, self.renderer, self.identities
        )

    def coef_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        return coefficient_stats(self.train_set.coefficient_table(), self.renderer.layout.groups())

    def train_dataloader(self) -> DataLoader:
        from thzface.engine.datamodule import train_loader

        ds = self.train_set
        return train_loader(self.cfg, ds, [r.anchor_name.identity for r in ds.rows], self.trainer)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            self.val_set,
            batch_size=max(self.cfg.train.batch_size, 32),
            shuffle=False,
            num_workers=self.cfg.data.num_workers,
        )
