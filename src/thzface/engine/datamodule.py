"""Triplet data module shared by the THz recipes: train/val split, P×K sampler, augmentation, loaders."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from torch.utils.data import DataLoader

from thzface.config import Config
from thzface.data.augment import build_augment
from thzface.data.csv import TripletRow, read_triplets
from thzface.data.datasets import TripletDataset, identity_list
from thzface.data.sampler import PKSampler
from thzface.data.split import split_validation


def train_loader(cfg: Config, ds, labels: list, trainer=None) -> DataLoader:
    """Training loader for ``cfg.train.sampler``: identity-balanced P×K batches (``labels`` = identity per item)
    or shuffled batches; rank-offset seeds under DDP, one epoch = len(ds) / (batch × world) batches."""
    import torch

    t, d = cfg.train, cfg.data
    rank = trainer.global_rank if trainer is not None else 0
    world = trainer.world_size if trainer is not None else 1
    if t.sampler == "pk":
        k = max(1, min(t.pk_k, t.batch_size))
        p = max(1, min(t.batch_size // k, len(set(labels))))  # never more identities than the data holds
        n_batches = max(1, len(ds) // (t.batch_size * world))
        sampler = PKSampler(labels, p=p, k=k, seed=t.seed + 1000 * rank, num_batches=n_batches)
        return DataLoader(ds, batch_sampler=sampler, num_workers=d.num_workers, persistent_workers=False)
    if t.sampler != "random":
        raise ValueError(f"train.sampler: unknown sampler {t.sampler!r} (pk | random)")
    g = torch.Generator().manual_seed(t.seed + 1000 * rank)
    return DataLoader(
        ds,
        batch_size=t.batch_size,
        shuffle=True,
        drop_last=len(ds) > t.batch_size,
        generator=g,
        num_workers=d.num_workers,
        persistent_workers=False,
    )


class TripletDataModule(L.LightningDataModule):
    """Reads ``DIR/<train_csv>``, splits validation rows, serves P×K (or shuffled) triplet batches: each a
    :class:`thzface.data.batch.TripletBatch` (a ``VisibleTripletBatch`` with ``data.use_visible``)."""

    def __init__(self, cfg: Config, root: Path):
        super().__init__()
        self.cfg, self.root = cfg, Path(root)
        rows = read_triplets(self.root / cfg.data.train_csv, self.root)
        if not rows:
            raise ValueError(f"{self.root / cfg.data.train_csv}: no triplet rows")
        self.identities = identity_list(rows)
        self.train_rows, self.val_rows = split_validation(rows, cfg.data.val_fraction, cfg.train.seed)

    def _dataset(self, rows: list[TripletRow], train: bool) -> TripletDataset:
        d = self.cfg.data
        a = self.cfg.aug
        augment = build_augment(a.profile, a.p, a.paired) if train else None
        return TripletDataset(
            self.root,
            rows,
            image_size=d.image_size,
            identities=self.identities,
            augment=augment,
            use_visible=d.use_visible,
            target=d.target,
            seed=self.cfg.train.seed,
        )

    def train_dataloader(self) -> DataLoader:
        ds = self._dataset(self.train_rows, train=True)
        return train_loader(self.cfg, ds, [r.anchor_name.identity for r in self.train_rows], self.trainer)

    def val_dataloader(self) -> DataLoader:
        rows = self.val_rows or self.train_rows[: max(1, min(len(self.train_rows), 64))]
        ds = self._dataset(rows, train=False)
        return DataLoader(
            ds,
            batch_size=max(self.cfg.train.batch_size, 64),
            shuffle=False,
            num_workers=self.cfg.data.num_workers,
        )
