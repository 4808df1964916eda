"""Joint P×K metric-learning batches: captures decoded once into uint8 tensors, augmented batch-wise.

A *capture* is one concealed THz scan (one file, ``<id>_b<p>b_<k>.png``) with its unconcealed counterpart as
the reconstruction target and, when a reader supplies it, a clean (noise-free, unconcealed) target. A
:class:`CaptureBank` holds every capture of a set of rows as (N, 1, S, S) uint8 tensors (64×64: 4 KB a
capture per image kind). :class:`PKJointBatches` yields batches of P identities × K **distinct** captures, all
roles in one batch (one forward pass, one BatchNorm statistic): an item's positives are the other K-1 captures
of its identity — never the item's own image — and each input is augmented independently (one
:class:`thzface.data.augment.Augment` call on the whole batch, per-image random draws). Targets are not
corrupted; with a ``paired`` augmentation they follow their input's warp. Batches depend only on
``(seed, rank, epoch)``.

Entry points: ``CaptureBank.from_names(root, names, size, classes, clean_folder(root), aux_region(root))``
(or ``from_rows``),
``PKJointBatches(bank, p, k, augment, seed)`` for training and ``bank.batches(n)`` for evaluation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from thzface.data.augment import Augment, mirror
from thzface.data.csv import TripletRow
from thzface.data.datasets import load_aux_mask, sample_seed
from thzface.data.geometry import GeometryReader, geometry_tensors
from thzface.data.io import center_square, load_image, resize_bicubic
from thzface.data.naming import MIRRORED_POSTURE, parse_name
from thzface.data.sampler import PKSampler

CleanReader = Callable[[str], np.ndarray | None]  # concealed file name → (S, S) or (1, S, S) in [0, 1], or None
MIRRORED = torch.tensor(MIRRORED_POSTURE)  # posture label → the label of its mirror image
RegionReader = Callable[[str, int], torch.Tensor | None]  # (concealed name, size) → (1, S, S) 0/1 mask, or None


def capture_labels(names: Sequence[str], classes: Sequence[str] | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Identity class index of each file name, and the class list (index → identity name).

    Classes default to the sorted distinct identities of ``names`` (contiguous 0..C-1, as a margin head
    needs); given ``classes`` fix the order and every name's identity must be among them (ValueError).
    """
    idents = [parse_name(n).identity for n in names]
    cls = tuple(sorted(set(idents))) if classes is None else tuple(classes)
    if len(set(cls)) != len(cls):
        raise ValueError("capture_labels: classes hold duplicates")
    index = {c: i for i, c in enumerate(cls)}
    missing = sorted(set(idents) - set(index))
    if missing:
        raise ValueError(f"capture_labels: identities {missing[:5]} are not among the {len(cls)} classes")
    return np.asarray([index[i] for i in idents], dtype=np.int64), cls


def clean_folder(root: str | Path, subdir: str = "clean") -> CleanReader:
    """Reader for clean targets stored as ``root/<subdir>/<unconcealed counterpart name>`` (None when absent)."""
    folder = Path(root) / subdir

    def read(name: str) -> np.ndarray | None:
        path = folder / parse_name(name).counterpart().filename
        return load_image(path, None) if path.is_file() else None

    return read


def aux_region(root: str | Path, key: str = "face_mask") -> RegionReader:
    """Reader of a region mask from ``root/aux/<concealed stem>.npz`` (the simulator's ``face_mask``: the head
    region of the concealed scan and of the clean target), or None where absent."""
    aux = Path(root) / "aux"

    def read(name: str, size: int) -> torch.Tensor | None:
        return load_aux_mask(aux / (Path(name).stem + ".npz"), size, key)  # (1, S, S)

    return read


def _to_u8(img: np.ndarray, size: int, where: str) -> torch.Tensor:
    """Float image (S, S) or (1, S, S) in [0, 1] → (1, size, size) uint8 (centre-square, bicubic resize)."""
    a = np.asarray(img, dtype=np.float32)
    a = a[None] if a.ndim == 2 else a
    if a.ndim != 3 or a.shape[0] != 1:
        raise ValueError(f"{where}: expected an (S, S) or (1, S, S) image, got shape {a.shape}")
    a = resize_bicubic(center_square(a), size)  # (1, size, size)
    return torch.from_numpy(np.round(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8))  # (1, size, size)


@dataclass(frozen=True)
class CaptureBank:
    """Every capture of a split, decoded once: uint8 images plus labels, indexable by capture index."""

    names: tuple[str, ...]  # concealed scan file name of each capture
    thz: torch.Tensor  # (N, 1, S, S) uint8 concealed scans (model inputs)
    target: torch.Tensor  # (N, 1, S, S) uint8 unconcealed scans (reconstruction target)
    clean: torch.Tensor | None  # (N, 1, S, S) uint8 clean targets (zeros where absent), None without a reader
    has_clean: torch.Tensor  # (N,) bool: a clean target was read for the capture
    region: torch.Tensor | None  # (N, 1, S, S) bool region mask (e.g. head; False where absent), None without one
    identity: torch.Tensor  # (N,) int64 class index into ``classes``
    posture: torch.Tensor  # (N,) int64 0-based posture label
    classes: tuple[str, ...]  # identity name of each class index
    shape: torch.Tensor | None = None  # (N, S) float32 person's shape coefficients (simulated folders, training only)
    pose: torch.Tensor | None = None  # (N, 5) float32 yaw, pitch, roll (deg), dx, dy (mm) of the concealed scan
    has_geometry: torch.Tensor | None = None  # (N,) bool: shape and pose were read for the capture

    @classmethod
    def from_names(
        cls,
        root: str | Path,
        names: Iterable[str],
        image_size: int,
        classes: Sequence[str] | None = None,
        clean: CleanReader | None = None,
        region: RegionReader | None = None,
        geometry: GeometryReader | None = None,
    ) -> CaptureBank:
        """Load the concealed scans ``names`` (deduplicated, sorted) from ``root/thz`` with their counterparts
        (and, given a ``geometry`` reader, the person's shape and the scan's pose)."""
        uniq = sorted(set(names))
        if not uniq:
            raise ValueError(f"{root}: CaptureBank needs at least one capture")
        parsed = [parse_name(n) for n in uniq]
        open_scans = [n for n, p in zip(uniq, parsed, strict=True) if not p.concealed]
        if open_scans:
            raise ValueError(f"CaptureBank: {open_scans[0]} is not a concealed (b<p>b) scan")
        thz = Path(root) / "thz"
        labels, classes = capture_labels(uniq, classes)

        def u8(path: Path) -> torch.Tensor:
            return _to_u8(load_image(path, image_size), image_size, str(path))  # (1, S, S)

        zero = torch.zeros(1, image_size, image_size, dtype=torch.uint8)  # (1, S, S)
        cleans = [None if clean is None else clean(n) for n in uniq]
        regions = [None if region is None else region(n, image_size) for n in uniq]
        return cls(
            names=tuple(uniq),
            thz=torch.stack([u8(thz / n) for n in uniq]),  # (N, 1, S, S)
            target=torch.stack([u8(thz / p.counterpart().filename) for p in parsed]),  # (N, 1, S, S)
            clean=None
            if clean is None
            else torch.stack(
                [zero if c is None else _to_u8(c, image_size, n) for c, n in zip(cleans, uniq, strict=True)]
            ),
            has_clean=torch.tensor([c is not None for c in cleans], dtype=torch.bool),  # (N,)
            region=None
            if region is None
            else torch.stack([zero.bool() if r is None else r > 0.5 for r in regions]),  # (N, 1, S, S)
            identity=torch.from_numpy(labels),  # (N,)
            posture=torch.tensor([p.posture for p in parsed], dtype=torch.long),  # (N,)
            classes=classes,
            **({} if geometry is None else geometry_tensors([geometry(n) for n in uniq])),
        )

    @classmethod
    def from_rows(
        cls,
        root: str | Path,
        rows: Sequence[TripletRow],
        image_size: int,
        classes: Sequence[str] | None = None,
        clean: CleanReader | None = None,
        region: RegionReader | None = None,
        geometry: GeometryReader | None = None,
    ) -> CaptureBank:
        """The bank of the rows' anchors (their positives must be the anchors' counterparts: the seed format)."""
        return cls.from_names(root, [r.anchor for r in rows], image_size, classes, clean, region, geometry)

    def __len__(self) -> int:
        return len(self.names)

    def batch(
        self, index: torch.Tensor, augment: Augment | None = None, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Gather captures ``index`` (B,) as float batches in [0, 1]; inputs augmented when ``augment`` is given.

        Keys: ``thz``, ``target`` (and ``clean``) (B, 1, S, S) float32; ``region`` (B, 1, S, S) bool when the
        bank has one (not warped: evaluation only); ``has_clean``, ``identity``, ``posture``, ``index`` (B,).
        A capture the augmentation mirrors (``Augment.mirror``) has its input and targets mirrored and the
        mirrored posture label (left <-> right).
        """
        x = self.thz[index].float() / 255.0  # (B, 1, S, S)
        targets = [self.target[index].float() / 255.0]  # [(B, 1, S, S)]
        if self.clean is not None:
            targets.append(self.clean[index].float() / 255.0)  # (B, 1, S, S)
        posture, flip = self.posture[index], None  # (B,), mirrored rows (B,) when the augmentation mirrors
        if augment is not None:
            if generator is None:
                raise ValueError("CaptureBank.batch: augmentation needs a torch.Generator")
            if augment.paired:
                x, targets = augment.with_targets(x, targets, generator)
            else:
                x = augment(x, generator)  # (B, 1, S, S) per-image draws
            flip = augment.mirror_rows(len(index), generator)  # (B,) or None
            if flip is not None:  # a mirrored capture: the same person, the mirrored posture
                x, targets = mirror(x, flip), [mirror(t, flip) for t in targets]
                posture = torch.where(flip, MIRRORED[posture], posture)  # (B,)
        out = {
            "thz": x,
            "target": targets[0],
            "has_clean": self.has_clean[index],  # (B,)
            "identity": self.identity[index],  # (B,)
            "posture": posture,  # (B,)
            "index": index,  # (B,) capture index into the bank
        }
        if self.clean is not None:
            out["clean"] = targets[1]
        if self.region is not None:
            out["region"] = self.region[index]  # (B, 1, S, S)
        if self.shape is not None and self.pose is not None and self.has_geometry is not None:
            out.update(shape=self.shape[index], pose=self.pose[index], has_geometry=self.has_geometry[index])
            if flip is not None:  # a mirrored face is not the person's shape: left out
                out["has_geometry"] = out["has_geometry"] & ~flip  # (B,)
        return out

    def batches(self, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
        """Every capture once, in bank order, unaugmented (evaluation and validation embeddings)."""
        if batch_size < 1:
            raise ValueError(f"CaptureBank.batches: batch_size={batch_size} must be >= 1")
        for start in range(0, len(self), batch_size):
            yield self.batch(torch.arange(start, min(start + batch_size, len(self))))


class PKJointBatches:
    """Training iterable of joint P×K batches over a :class:`CaptureBank` (see the module docstring).

    Each iteration is one epoch: at its first batch it reads the epoch — ``epoch_source()`` when given (pass
    ``lambda: trainer.current_epoch`` so a resumed run sees the same batches), else the internal counter — and
    advances the counter; :meth:`set_epoch` or :meth:`epoch_batches` pick one explicitly. Under DDP pass the
    process ``rank``.
    Raises ValueError (naming what to set) when the bank has fewer than P identities or an identity has fewer
    than K captures — P is never lowered silently.

    ``group="identity_posture"``: the K captures of a group share the person *and* the posture (positives differ
    in capture only: an easier task, for pretraining on many people); groups with fewer than K captures are left
    out (``skipped`` counts their captures); the identity label of the loss stays the person.
    """

    def __init__(
        self,
        bank: CaptureBank,
        p: int,
        k: int,
        augment: Augment | None = None,
        seed: int = 0,
        num_batches: int | None = None,
        rank: int = 0,
        epoch_source: Callable[[], int] | None = None,
        group: str = "identity",
        domain_of: Mapping[str, Hashable] | None = None,
    ) -> None:
        if k < 2:
            raise ValueError(f"PKJointBatches: k={k}; joint batches need K >= 2 captures per identity for positives")
        names = [bank.classes[i] for i in bank.identity.tolist()]  # names, so errors name the identity
        if group == "identity_posture":
            names = [f"{n}|posture {q}" for n, q in zip(names, bank.posture.tolist(), strict=True)]
            sizes = Counter(names)
            self.members = [i for i, n in enumerate(names) if sizes[n] >= k]  # sampler position → capture index
            names = [names[i] for i in self.members]
        elif group == "identity":
            self.members = list(range(len(names)))
        else:
            raise ValueError(f"PKJointBatches: group={group!r} is not identity or identity_posture")
        self.skipped = len(bank) - len(self.members)
        self.bank, self.augment, self.seed, self.rank, self.epoch = bank, augment, seed, rank, 0
        self.epoch_source = epoch_source
        n = num_batches if num_batches is not None else max(1, len(self.members) // (p * k))
        domains = None
        if domain_of is not None:  # the domain (site) of each drawn capture's person
            missing = sorted({bank.classes[i] for i in bank.identity.tolist()} - set(domain_of))
            if missing:
                raise ValueError(
                    f"PKJointBatches: no domain (site) for identity {missing[0]!r} ({len(missing)} in all)"
                )
            domains = [domain_of[bank.classes[int(bank.identity[i])]] for i in self.members]
        self.sampler = PKSampler(
            names, p, k, seed=seed + 1000 * rank, num_batches=n, replacement=False, domains=domains
        )

    def __len__(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def epoch_batches(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        """The batches of ``epoch`` (the same every time for the same seed, rank and epoch)."""
        self.sampler.set_epoch(epoch)
        for b, idx in enumerate(list(self.sampler)):
            g = torch.Generator().manual_seed(sample_seed(self.seed, self.rank, epoch, b))
            index = torch.tensor([self.members[i] for i in idx], dtype=torch.long)  # (P·K,)
            yield self.bank.batch(index, self.augment, g)  # B = P·K

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        # a generator: the epoch is read (and advanced) at the first batch, so an iter() that only checks
        # iterability (Lightning does one at fit start) uses no epoch
        epoch = self.epoch_source() if self.epoch_source is not None else self.epoch
        self.epoch = epoch + 1
        yield from self.epoch_batches(epoch)
