"""Joint P×K metric-learning batches over a :class:`~thzface.data.captures.CaptureBank` (that module's docstring
says what a capture and a joint batch are), optionally within one site per batch and with a curriculum over the
pose range (:mod:`thzface.data.curriculum`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping

import numpy as np
import torch

from thzface.data.augment import Augment
from thzface.data.captures import CaptureBank
from thzface.data.curriculum import curriculum_level, curriculum_members, pose_difficulty
from thzface.data.datasets import sample_seed
from thzface.data.sampler import PKSampler


class PKJointBatches:
    """Training iterable of joint P×K batches over a :class:`CaptureBank` (see the module docstring).

    Each iteration is one epoch: at its first batch it reads the epoch — ``epoch_source()`` when given (the
    optimiser step // batches an epoch, so a resumed run sees the same batches), else the internal counter — and
    the batch to start from, ``start_source()`` (the step % batches an epoch: a run resumed within an epoch goes
    on where it stopped rather than repeating the epoch's first batches), and advances the counter;
    :meth:`set_epoch` or :meth:`epoch_batches` pick one explicitly. Under DDP pass the process ``rank``.
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
        start_source: Callable[[], int] | None = None,
        group: str = "identity",
        domain_of: Mapping[str, Hashable] | None = None,
        curriculum: tuple[int, float] = (0, 1.0),
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
        self.start_source = start_source  # the epoch's first batch to yield (a run resumed within an epoch)
        n = num_batches if num_batches is not None else max(1, len(self.members) // (p * k))
        self.names, self.p, self.k, self.n = names, p, k, n
        self.domains: list[Hashable] | None = None
        if domain_of is not None:  # the domain (site) of each drawn capture's person
            missing = sorted({bank.classes[i] for i in bank.identity.tolist()} - set(domain_of))
            if missing:
                raise ValueError(
                    f"PKJointBatches: no domain (site) for identity {missing[0]!r} ({len(missing)} in all)"
                )
            self.domains = [domain_of[bank.classes[int(bank.identity[i])]] for i in self.members]
        self.curriculum, self.difficulty = curriculum, None  # train.pose_curriculum: (epochs, start share)
        if curriculum[0] != 0:
            curriculum_level(0, *curriculum)  # checks the epochs and the start share
            if bank.pose is None or bank.has_geometry is None or not bool(bank.has_geometry.all()):
                raise ValueError("train.pose_curriculum needs every training capture's pose (a simulated poses.npz)")
            at = torch.tensor(self.members, dtype=torch.long)
            self.difficulty = pose_difficulty(bank.pose[at].numpy(), bank.posture[at].numpy())
        self.sampler = self._sampler(list(range(len(self.members))))

    def _sampler(self, positions: list[int]) -> PKSampler:
        """P×K sampler over the captures at ``positions`` of ``members`` (fixed batch count)."""
        names = [self.names[i] for i in positions]
        domains = None if self.domains is None else [self.domains[i] for i in positions]
        seed = self.seed + 1000 * self.rank
        return PKSampler(names, self.p, self.k, seed=seed, num_batches=self.n, replacement=False, domains=domains)

    def epoch_members(self, epoch: int) -> tuple[PKSampler, list[int]]:
        """The sampler of ``epoch`` and the capture index of each of its positions (the curriculum's subset)."""
        difficulty = self.difficulty
        level = 1.0 if difficulty is None else curriculum_level(epoch, *self.curriculum)
        if difficulty is None or level >= 1.0:
            return self.sampler, self.members
        pos = curriculum_members(difficulty, np.asarray(self.names), self.k, level).tolist()
        return self._sampler(pos), [self.members[i] for i in pos]

    def __len__(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def epoch_batches(self, epoch: int, start: int = 0) -> Iterator[dict[str, torch.Tensor]]:
        """The batches of ``epoch`` (the same every time for the same seed, rank and epoch), from its batch
        ``start`` on (a run resumed within an epoch; the skipped batches are neither gathered nor augmented)."""
        sampler, members = self.epoch_members(epoch)
        sampler.set_epoch(epoch)
        for b, idx in enumerate(list(sampler)):
            if b < start:
                continue
            g = torch.Generator().manual_seed(sample_seed(self.seed, self.rank, epoch, b))
            index = torch.tensor([members[i] for i in idx], dtype=torch.long)  # (P·K,)
            yield self.bank.batch(index, self.augment, g)  # B = P·K

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        # a generator: the epoch is read (and advanced) at the first batch, so an iter() that only checks
        # iterability (Lightning does one at fit start) uses no epoch
        epoch = self.epoch_source() if self.epoch_source is not None else self.epoch
        start = self.start_source() if self.start_source is not None else 0
        self.epoch = epoch + 1
        yield from self.epoch_batches(epoch, start)
