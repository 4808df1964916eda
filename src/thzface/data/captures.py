"""Captures decoded once into uint8 tensors, augmented batch-wise: the bank behind joint P×K batches
(:mod:`thzface.data.joint`).

A *capture* is one concealed THz scan (one file, ``<id>_b<p>b_<k>.png``) with its unconcealed counterpart as
the reconstruction target and, when a reader supplies it, a clean (noise-free, unconcealed) target. A
:class:`CaptureBank` holds every capture of a set of rows as (N, 1, S, S) uint8 tensors (64×64: 4 KB a
capture per image kind). :class:`~thzface.data.joint.PKJointBatches` yields batches of P identities × K
**distinct** captures, all roles in one batch (one forward pass, one BatchNorm statistic): an item's
positives are the other K-1 captures of its identity — never the item's own image — and each input is
augmented independently (one :class:`thzface.data.augment.Augment` call on the whole batch, per-image random
draws). Targets are not
corrupted; with a ``paired`` augmentation they follow their input's warp. Batches depend only on
``(seed, rank, epoch)``.

Entry points: ``CaptureBank.from_names(root, names, size, classes, clean_folder(root), aux_region(root))``
(or ``from_rows``),
``thzface.data.joint.PKJointBatches(bank, p, k, augment, seed)`` for training and ``bank.batches(n)`` for
evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from thzface.data.augment import Augment, mirror
from thzface.data.csv import TripletRow
from thzface.data.datasets import load_aux_mask
from thzface.data.geometry import GeometryReader, InPlaneReader, geometry_tensors
from thzface.data.io import center_square, load_image, resize_bicubic
from thzface.data.naming import MIRRORED_POSTURE, parse_name

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


def site_index(sites: Sequence[str]) -> torch.Tensor:
    """(N,) int64 index of each name in the sorted distinct ``sites`` (a person missing from the map: ``""``)."""
    codes = {s: i for i, s in enumerate(sorted(set(sites)))}
    return torch.tensor([codes[s] for s in sites], dtype=torch.long)


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
    site: torch.Tensor | None = None  # (N,) int64 site (scanner) index of the person (multi-site simulated folders)
    inplane: torch.Tensor | None = None  # (N, 3) float32 in-plane pose (roll, tx, ty) of the concealed scan
    inplane_open: torch.Tensor | None = None  # (N, 3) the same of its unconcealed counterpart
    has_inplane: torch.Tensor | None = None  # (N,) bool: both were read (the aligner's targets, training only)

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
        sites: Mapping[str, str] | None = None,
        inplane: InPlaneReader | None = None,
    ) -> CaptureBank:
        """Load the concealed scans ``names`` (deduplicated, sorted) from ``root/thz`` with their counterparts
        (and, given a ``geometry`` reader, the person's shape and the scan's pose; given ``sites``, {person: site},
        each capture's site index; given ``inplane``, both scans' in-plane poses)."""
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
            site=None if sites is None else site_index([sites.get(p.identity, "") for p in parsed]),  # (N,)
            **({} if inplane is None else _inplane_tensors(inplane, uniq, [p.counterpart().filename for p in parsed])),
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
        sites: Mapping[str, str] | None = None,
        inplane: InPlaneReader | None = None,
    ) -> CaptureBank:
        """The bank of the rows' anchors (their positives must be the anchors' counterparts: the seed format)."""
        names = [r.anchor for r in rows]
        return cls.from_names(root, names, image_size, classes, clean, region, geometry, sites, inplane)

    def __len__(self) -> int:
        return len(self.names)

    def batch(
        self, index: torch.Tensor, augment: Augment | None = None, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Gather captures ``index`` (B,) as float batches in [0, 1]; inputs augmented when ``augment`` is given.

        Keys: ``thz``, ``target`` (and ``clean``) (B, 1, S, S) float32; ``region`` (B, 1, S, S) bool when the
        bank has one (not warped: evaluation only); ``has_clean``, ``identity``, ``posture``, ``index`` (B,);
        ``site`` (B,) when the bank has sites.
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
        if self.site is not None:
            out["site"] = self.site[index]  # (B,)
        if self.shape is not None and self.pose is not None and self.has_geometry is not None:
            out.update(shape=self.shape[index], pose=self.pose[index], has_geometry=self.has_geometry[index])
            if flip is not None:  # a mirrored face is not the person's shape: left out
                out["has_geometry"] = out["has_geometry"] & ~flip  # (B,)
        if self.inplane is not None and self.inplane_open is not None and self.has_inplane is not None:
            sign = torch.ones(len(index), 3) if flip is None else 1 - 2 * flip[:, None] * torch.tensor([1.0, 1, 0])
            out.update(
                inplane=self.inplane[index] * sign,
                inplane_open=self.inplane_open[index] * sign,
                has_inplane=self.has_inplane[index],
            )  # (B, 3), (B, 3), (B,); a mirror negates roll and tx
        return out

    def batches(self, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
        """Every capture once, in bank order, unaugmented (evaluation and validation embeddings)."""
        if batch_size < 1:
            raise ValueError(f"CaptureBank.batches: batch_size={batch_size} must be >= 1")
        for start in range(0, len(self), batch_size):
            yield self.batch(torch.arange(start, min(start + batch_size, len(self))))


def _inplane_tensors(read: InPlaneReader, names: Sequence[str], opens: Sequence[str]) -> dict[str, torch.Tensor]:
    """``inplane`` and ``inplane_open`` (N, 3) of the concealed scans and their counterparts, ``has_inplane`` (N,)."""
    got = [(read(a), read(b)) for a, b in zip(names, opens, strict=True)]
    zero = np.zeros(3, np.float32)
    has = torch.tensor([a is not None and b is not None for a, b in got], dtype=torch.bool)  # (N,)
    pick = [(a, b) if a is not None and b is not None else (zero, zero) for a, b in got]
    return {"inplane": torch.from_numpy(np.stack([a for a, _ in pick])),  # (N, 3)
            "inplane_open": torch.from_numpy(np.stack([b for _, b in pick])), "has_inplane": has}  # fmt: skip
