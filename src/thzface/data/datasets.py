"""Torch datasets over a dataset folder: THz triplets (with optional visible images), single images, pairs.

Images load through :func:`thzface.data.io.load_image` (bicubic resize to ``image_size``) and are cached in
memory per dataset object (a THz set of ~1,400 64×64 images is ~23 MB). Augmentation of a triplet's anchor and
negative is seeded by ``(seed, epoch, index, member)`` so one sample can be reproduced alone; targets (the
positive and the clean image) are never corrupted; with a ``paired`` augmentation they follow the anchor's warp.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from thzface.data.augment import Augment
from thzface.data.csv import TripletRow
from thzface.data.io import ImageError, load_image, read_aux_array


def identity_list(*row_lists: Sequence[TripletRow]) -> list[str]:
    """Sorted union of the identities (anchor, positive and negative) in the given row lists."""
    ids = {n.identity for rows in row_lists for r in rows for n in (r.anchor_name, r.positive_name, r.negative_name)}
    return sorted(ids)


def sample_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (e.g. seed, epoch, index, member) with numpy's SeedSequence."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(2, np.uint64)[0] >> 1)


def _index_of(identities: Sequence[str]) -> dict[str, int]:
    if len(set(identities)) != len(identities):
        raise ValueError("identities: the list holds duplicates")
    return {name: i for i, name in enumerate(identities)}


def _require(index: dict[str, int], identity: str, where: str) -> int:
    if identity not in index:
        raise ValueError(f"{where}: identity {identity!r} is not in the identities list ({len(index)} known)")
    return index[identity]


class _ImageCache:
    """Load-once cache of (C, S, S) float32 images keyed by path."""

    def __init__(self, size: int, channels: int = 1) -> None:
        self.size, self.channels = size, channels
        self._store: dict[Path, torch.Tensor] = {}

    def __call__(self, path: Path) -> torch.Tensor:
        if path not in self._store:
            self._store[path] = torch.from_numpy(load_image(path, self.size, self.channels))  # (C, S, S)
        return self._store[path]


def load_aux_mask(path: Path, size: int, key: str = "garment_mask") -> torch.Tensor | None:
    """Mask ``key`` of an aux .npz as (1, size, size) float 0/1 (nearest resize), or None when the file or key is
    absent (``garment_mask``: the concealed area; ``face_mask``: the head region)."""
    m = read_aux_array(path, key)  # (h, w)
    if m is None:
        return None
    if m.ndim != 2:
        raise ImageError(f"{path}: {key} has shape {m.shape}, expected (H, W)")
    t = torch.from_numpy(m.astype(np.float32))[None, None]  # (1, 1, h, w)
    t = torch.nn.functional.interpolate(t, size=(size, size), mode="nearest")  # (1, 1, S, S)
    return (t[0] > 0.5).float()  # (1, S, S)


class TripletDataset(Dataset):
    """THz triplets from CSV rows; a sample is a dict of tensors (see :meth:`__getitem__`)."""

    def __init__(
        self,
        root: str | Path,
        rows: Sequence[TripletRow],
        image_size: int,
        identities: Sequence[str],
        augment: Augment | None = None,
        use_visible: bool = False,
        target: str = "positive",
        seed: int = 0,
    ) -> None:
        if target not in ("positive", "clean"):
            raise ValueError(f"target={target!r}: expected 'positive' or 'clean'")
        if not rows:
            raise ValueError(f"{root}: no triplet rows given")
        self.root, self.rows, self.size = Path(root), list(rows), image_size
        self.augment, self.use_visible, self.seed, self.epoch = augment, use_visible, seed, 0
        index = _index_of(identities)
        self.labels = [
            (
                _require(index, r.anchor_name.identity, r.anchor),
                _require(index, r.negative_name.identity, r.negative),
            )
            for r in self.rows
        ]  # (anchor identity, negative identity) per row
        self.use_clean = target == "clean" and (self.root / "clean").is_dir()
        self._thz = _ImageCache(image_size)
        self._vis = _ImageCache(image_size)
        self._masks: dict[Path, torch.Tensor | None] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation stream (call once per epoch; a sample stays reproducible per epoch)."""
        self.epoch = epoch

    @property
    def identity_labels(self) -> list[int]:
        """Anchor identity index of every row (for :class:`thzface.data.sampler.PKSampler`)."""
        return [a for a, _ in self.labels]

    def _augment(self, img: torch.Tensor, index: int, member: int) -> torch.Tensor:
        if self.augment is None:
            return img.clone()
        g = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, index, member))
        return self.augment(img[None], g)[0]  # (1, S, S)

    def __getitem__(self, index: int) -> dict:
        """``anchor``/``negative`` (1, S, S) augmented; ``positive``/``target`` (1, S, S) never corrupted (warped
        with the anchor when the augmentation is ``paired``)
        (``target`` = ``clean/`` image with target="clean" when present, else the positive); ``identity``,
        ``neg_identity`` (indices into ``identities``), ``posture``, ``neg_posture`` (0-based); ``garment_mask``
        (1, S, S) from ``aux/<anchor>.npz``, aligned with the target (zeros and ``has_mask`` False without one);
        ``names`` (anchor file name); with ``use_visible``: ``vis_concealed``, ``vis_unconcealed``,
        ``vis_negative`` (1, S, S) grayscale and ``vis_present`` (3,) bool — an empty cell gives zeros and False.
        """
        r = self.rows[index]
        thz = self.root / "thz"
        positive = self._thz(thz / r.positive)  # (1, S, S) never augmented
        clean = self.root / "clean" / r.positive
        target = self._thz(clean) if self.use_clean and clean.is_file() else positive  # (1, S, S)
        aux = self.root / "aux" / (Path(r.anchor).stem + ".npz")
        if aux not in self._masks:
            self._masks[aux] = load_aux_mask(aux, self.size)
        mask = self._masks[aux]
        zeros = torch.zeros(1, self.size, self.size)  # (1, S, S)
        ident, neg_ident = self.labels[index]
        anchor = self._thz(thz / r.anchor)  # (1, S, S)
        if self.augment is not None and self.augment.paired:  # the targets follow the anchor's geometry
            g = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, index, 0))
            m = zeros if mask is None else mask
            a, (positive, target, m) = self.augment.with_targets(
                anchor[None], [positive[None], target[None], m[None]], g
            )
            anchor, positive, target = a[0], positive[0], target[0]  # (1, S, S) each
            mask = None if mask is None else (m[0] > 0.5).float()
        else:
            anchor = self._augment(anchor, index, 0)
        sample = {
            "anchor": anchor,  # (1, S, S)
            "positive": positive.clone(),
            "target": target.clone(),
            "negative": self._augment(self._thz(thz / r.negative), index, 1),  # (1, S, S)
            "identity": torch.tensor(ident, dtype=torch.long),
            "neg_identity": torch.tensor(neg_ident, dtype=torch.long),
            "posture": torch.tensor(r.anchor_name.posture, dtype=torch.long),
            "neg_posture": torch.tensor(r.negative_name.posture, dtype=torch.long),
            "garment_mask": zeros.clone() if mask is None else mask.clone(),  # (1, S, S)
            "has_mask": torch.tensor(mask is not None),
            "names": r.anchor,
        }
        if self.use_visible:
            keys = ("vis_concealed", "vis_unconcealed", "vis_negative")
            present = [name is not None for name in r.visible]
            for key, name in zip(keys, r.visible, strict=True):
                sample[key] = zeros.clone() if name is None else self._vis(self.root / "visible" / name).clone()
            sample["vis_present"] = torch.tensor(present, dtype=torch.bool)  # (3,)
        return sample


def make_pairs(
    identities_per_item: Sequence, rng: np.random.Generator, max_impostors: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """All genuine pairs (same identity) and impostor pairs (all, or ``max_impostors`` drawn at random).

    Returns ``pairs`` (N, 2) int64 item indices with i < j, sorted, and ``genuine`` (N,) bool.
    """
    labels = np.asarray([str(v) for v in identities_per_item])
    n = len(labels)
    if n < 2:
        raise ValueError(f"make_pairs: need at least 2 items, got {n}")
    if max_impostors is not None and max_impostors < 0:
        raise ValueError(f"max_impostors={max_impostors}: must be >= 0")
    _, codes = np.unique(labels, return_inverse=True)
    order = np.argsort(codes, kind="stable")
    gi, gj = [], []
    for c in np.unique(codes):  # genuine pairs, group by group (no N² table)
        idx = np.sort(order[codes[order] == c])
        a, b = np.triu_indices(len(idx), k=1)
        gi.append(idx[a])
        gj.append(idx[b])
    genuine = np.stack([np.concatenate(gi), np.concatenate(gj)], 1).astype(np.int64)  # (G, 2)
    total_pairs = n * (n - 1) // 2
    n_imp = total_pairs - len(genuine)
    want = n_imp if max_impostors is None else min(max_impostors, n_imp)
    if want == n_imp:
        i, j = np.triu_indices(n, k=1)
        keep = codes[i] != codes[j]
        impostors = np.stack([i[keep], j[keep]], 1).astype(np.int64)  # (I, 2)
    else:
        chosen: set[int] = set()
        while len(chosen) < want:  # draw linear pair indices, keep impostors, until enough
            lin = rng.choice(total_pairs, size=min(total_pairs, 2 * (want - len(chosen)) + 16), replace=False)
            i, j = _unrank(lin, n)
            for k in lin[codes[i] != codes[j]]:
                if len(chosen) == want:
                    break
                chosen.add(int(k))
        i, j = _unrank(np.array(sorted(chosen), dtype=np.int64), n)
        impostors = np.stack([i, j], 1).astype(np.int64)  # (I, 2)
    pairs = np.concatenate([genuine, impostors])  # (N, 2)
    is_genuine = np.concatenate([np.ones(len(genuine), bool), np.zeros(len(impostors), bool)])
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order], is_genuine[order]


def _unrank(lin: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear index into the row-major upper triangle (i < j) of an n×n table → (i, j)."""
    lin = np.asarray(lin, dtype=np.int64)
    # rows start at s(i) = i*n - i*(i+1)/2; invert with the quadratic formula, then correct rounding
    i = np.floor((2 * n - 1 - np.sqrt((2 * n - 1) ** 2 - 8 * lin)) / 2).astype(np.int64)
    start = i * n - i * (i + 1) // 2
    over = lin >= start + (n - 1 - i)
    i = i + over
    start = i * n - i * (i + 1) // 2
    under = lin < start
    i = i - under
    start = i * n - i * (i + 1) // 2
    return i, lin - start + i + 1
