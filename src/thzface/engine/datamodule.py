"""Data modules of the THz verification recipes: identity-disjoint validation, then joint P×K or triplet batches.

Both modules split ``DIR/<train_csv>`` by **identity** (:func:`thzface.data.identity_split.identity_validation`):
``data.val_identities`` people (a fraction < 1 or a count) are held out whole for model selection, early stopping
and the deployed threshold, and appear in no training batch in any role; too few identities is a one-line error
naming the numbers. Twin pairs (the dataset's meta.json) stay on one side. The split is exposed as ``split`` and
written to ``RUN/split.json`` by the trainer.

* :class:`JointDataModule` (``train.sampler: joint``): captures decoded once into a
  :class:`~thzface.data.captures.CaptureBank`; training batches are :class:`~thzface.data.joint.PKJointBatches`
  (P identities × K distinct captures, all roles in one forward pass, positives = other captures, independently
  augmented); validation walks the validation identities' bank once.
* :class:`TripletDataModule` (``train.sampler: pk | random``): the reference's triplet rows (``paper`` preset, the
  distillation and twin recipes), P×K over anchors or shuffled.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from thzface.config import Config
from thzface.data.augment import build_augment
from thzface.data.captures import CaptureBank, clean_folder
from thzface.data.csv import TripletRow, read_triplets
from thzface.data.datasets import TripletDataset, identity_list
from thzface.data.geometry import folder_geometry, folder_inplane, folder_sites, person_sites
from thzface.data.identity_split import IdentitySplit, identity_validation, split_rows_by_identity, split_sites
from thzface.data.joint import PKJointBatches
from thzface.data.sampler import PKSampler
from thzface.data.twins import read_twins

log = logging.getLogger(__name__)


def pk_shape(cfg: Config) -> tuple[int, int]:
    """(P, K) of ``train.batch_size`` = P·K and ``train.pk_k`` = K; ValueError when they do not fit."""
    t = cfg.train
    if t.pk_k < 1 or t.batch_size < t.pk_k or t.batch_size % t.pk_k:
        raise ValueError(
            f"train.batch_size={t.batch_size} must be a positive multiple of train.pk_k={t.pk_k} (P x K batches)"
        )
    return t.batch_size // t.pk_k, t.pk_k


def val_identity_count(value: float) -> int | float:
    """``data.val_identities`` as :func:`identity_validation` reads it: a fraction in (0, 1) or an int count."""
    return value if 0 < value < 1 else int(value)


Rows = list[TripletRow]


def split_train_rows(cfg: Config, root: Path, min_train: int) -> tuple[IdentitySplit, Rows, Rows]:
    """Read ``root/<train_csv>`` and split it by identity; ``min_train``: identities a training batch needs."""
    path = root / cfg.data.train_csv
    rows = read_triplets(path, root, visible=cfg.data.use_visible)
    if not rows:
        raise ValueError(f"{path}: no triplet rows")
    try:
        if cfg.data.val_sites > 0:  # whole scanners held out: validation on sites never trained on
            people = {r.anchor_name.identity for r in rows}
            where = {p: s for p, s in folder_sites(root).items() if p in people}
            split = split_sites(where, cfg.data.val_sites, cfg.train.seed, read_twins(root), min_train)
            train, val = split_rows_by_identity(rows, split, cfg.train.seed)
        else:
            split, train, val = identity_validation(
                rows, val_identity_count(cfg.data.val_identities), cfg.train.seed, read_twins(root), min_train
            )
        n = cfg.data.train_identities
        if 0 < n < len(split.train):  # a seeded subset of the training people; validation people unchanged
            if n < min_train:
                raise ValueError(f"data.train_identities={n} is below the {min_train} a training batch needs")
            keep = np.random.default_rng(cfg.train.seed).choice(len(split.train), n, replace=False)
            split = IdentitySplit(tuple(sorted(split.train[i] for i in keep)), split.val)
            chosen = set(split.train) | set(split.val)
            train, val = split_rows_by_identity(
                [r for r in rows if r.anchor_name.identity in chosen], split, cfg.train.seed
            )
        return split, train, val
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def train_loader(cfg: Config, ds, labels: list, trainer=None) -> DataLoader:
    """Training loader for ``cfg.train.sampler``: identity-balanced P×K batches (``labels`` = identity per item)
    or shuffled batches; rank-offset seeds under DDP, one epoch = len(ds) / (batch × world) batches."""
    import torch

    t, d = cfg.train, cfg.data
    rank = trainer.global_rank if trainer is not None else 0
    world = trainer.world_size if trainer is not None else 1
    if t.sampler == "pk":
        p, k = pk_shape(cfg)
        n_batches = max(1, len(ds) // (t.batch_size * world))
        sampler = PKSampler(labels, p=p, k=k, seed=t.seed + 1000 * rank, num_batches=n_batches)
        return DataLoader(ds, batch_sampler=sampler, num_workers=d.num_workers, persistent_workers=False)
    if t.sampler != "random":
        raise ValueError(f"train.sampler: unknown sampler {t.sampler!r} (joint | pk | random)")
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
    """Reads ``DIR/<train_csv>``, splits off validation identities, serves P×K (or shuffled) triplet batches: each
    a :class:`thzface.data.batch.TripletBatch` (a ``VisibleTripletBatch`` with ``data.use_visible``)."""

    def __init__(self, cfg: Config, root: Path):
        super().__init__()
        self.cfg, self.root = cfg, Path(root)
        mirror = getattr(cfg.aug, "mirror", 0.0)  # mtl's aug section has it; triplet rows keep their labels
        if mirror:
            raise ValueError(f"aug.mirror={mirror}: mirrored captures need train.sampler=joint")
        t = cfg.train
        for key, value in (
            ("pk_domain", t.pk_domain),
            ("fit_probe", t.fit_probe),
            ("pose_curriculum", t.pose_curriculum),
        ):
            if value not in ("none", False):
                raise ValueError(f"train.{key}={value}: needs joint batches (train.sampler=joint)")
        min_train = pk_shape(cfg)[0] if cfg.train.sampler == "pk" else 2
        self.split, self.train_rows, self.val_rows = split_train_rows(cfg, self.root, min_train)
        self.identities = identity_list(self.train_rows, self.val_rows)

    def _dataset(self, rows: list[TripletRow], train: bool) -> TripletDataset:
        d = self.cfg.data
        a = self.cfg.aug
        augment = build_augment(a.profile, a.p, a.paired, geometric=a.geometric) if train else None
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
        ds = self._dataset(self.val_rows, train=False)
        return DataLoader(
            ds,
            batch_size=max(self.cfg.train.batch_size, 64),
            shuffle=False,
            num_workers=self.cfg.data.num_workers,
        )


class JointDataModule(L.LightningDataModule):
    """Validation identities apart, then joint P×K batches over the training identities' captures (module doc).

    Batches are dicts of :meth:`CaptureBank.batch` (``thz``, ``target``, ``clean``, ``identity``, ...);
    ``identity`` indexes ``classes`` (the training identities: a margin head's classes). The clean target is read
    where the folder has one (``clean/``, simulated data); the epoch of a batch is counted from optimizer steps,
    so a resumed run draws the batches of an uninterrupted one.
    """

    def __init__(self, cfg: Config, root: Path):
        super().__init__()
        self.cfg, self.root = cfg, Path(root)
        self.p, self.k = pk_shape(cfg)
        self.split, self.train_rows, self.val_rows = split_train_rows(cfg, self.root, self.p)
        size, clean = cfg.data.image_size, clean_folder(self.root)
        geometry = folder_geometry(self.root)  # simulated folders: shape and pose targets of training-only heads
        self.aligns = getattr(cfg.model, "align", "none") != "none"  # the aligner's targets: in-plane poses
        inplane = folder_inplane(self.root) if self.aligns else None
        self.bank = CaptureBank.from_rows(self.root, self.train_rows, size, self.split.train, clean=clean,
                                          geometry=geometry, inplane=inplane)  # fmt: skip
        self.sites = person_sites(self.root)  # multi-site worlds: validation scores impostors within a scanner
        self.val_bank = CaptureBank.from_rows(self.root, self.val_rows, size, self.split.val, clean=clean,
                                              sites=self.sites)  # fmt: skip

    @property
    def classes(self) -> tuple[str, ...]:
        return self.bank.classes

    def train_dataloader(self) -> PKJointBatches:
        a, t = self.cfg.aug, self.cfg.train
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        n = max(1, len(self.bank) // (t.batch_size * world))  # about one pass over the captures per epoch

        def epoch() -> int:  # from optimizer steps: Lightning's epoch counter may run one ahead after a resume
            return trainer.global_step // n if trainer is not None else 0

        def start() -> int:  # a run resumed within an epoch goes on from where it stopped (0 at every epoch start)
            return trainer.global_step % n if trainer is not None else 0

        batches = PKJointBatches(
            self.bank,
            self.p,
            self.k,
            augment=build_augment(
                a.profile, a.p, a.paired, getattr(a, "mirror", 0.0), geometric=a.geometric and not self.aligns
            ),
            seed=t.seed,
            num_batches=n,
            rank=rank,
            epoch_source=epoch,
            start_source=start,
            group=t.pk_group,
            domain_of=self.domain_of(),
            curriculum=(t.pose_curriculum, t.pose_curriculum_start),
        )
        if batches.skipped:
            log.warning(
                "train.pk_group=%s: %d of %d training captures are in groups of fewer than K=%d and are never drawn",
                t.pk_group, batches.skipped, len(self.bank), self.k,
            )  # fmt: skip
        return batches

    def domain_of(self) -> dict[str, str] | None:
        """``train.pk_domain``: none (batches across everyone) or site (the person's simulated site)."""
        domain = self.cfg.train.pk_domain
        if domain == "none":
            return None
        if domain == "site":
            return folder_sites(self.root)
        raise ValueError(f"train.pk_domain={domain!r} is not none or site")

    def val_dataloader(self) -> BankPass | list[BankPass]:
        size = max(self.cfg.train.batch_size, 64)
        if not self.cfg.train.fit_probe:
            return BankPass(self.val_bank, size)
        return [BankPass(self.val_bank, size), BankPass(self.fit_bank(), size)]

    def fit_bank(self) -> CaptureBank:
        """``train.fit_probe``: the captures of as many training people as there are validation people (a seeded
        choice), scored as validation is — the training-people EER beside the validation EER."""
        people = sorted(self.split.train)
        n = min(len(people), len(self.split.val))
        rng = np.random.default_rng(self.cfg.train.seed)
        chosen = {people[int(i)] for i in rng.choice(len(people), size=n, replace=False)}
        rows = [r for r in self.train_rows if r.anchor_name.identity in chosen]
        return CaptureBank.from_rows(self.root, rows, self.cfg.data.image_size, sorted(chosen),
                                     clean=clean_folder(self.root), sites=self.sites)  # fmt: skip


class BankPass:
    """One unaugmented pass over a bank in batches of ``batch_size`` (a sized iterable: one loader to Lightning)."""

    def __init__(self, bank: CaptureBank, batch_size: int) -> None:
        self.bank, self.batch_size = bank, batch_size

    def __len__(self) -> int:
        return -(-len(self.bank) // self.batch_size)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return self.bank.batches(self.batch_size)


def thz_datamodule(cfg: Config, root: Path) -> L.LightningDataModule:
    """The data module for ``train.sampler``: ``joint`` → :class:`JointDataModule`, else :class:`TripletDataModule`."""
    return JointDataModule(cfg, root) if cfg.train.sampler == "joint" else TripletDataModule(cfg, root)
