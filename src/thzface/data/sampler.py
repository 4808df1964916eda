"""Identity-balanced P×K batch sampler: each batch holds P distinct identities with K samples each.

Identities are taken from a shuffled queue (refilled when empty, never twice in one batch) and samples from a
shuffled queue per identity, so an epoch covers every identity and sample about evenly. An identity with fewer
than K samples is drawn with replacement, or, with ``replacement=False`` (joint metric-learning batches, where
a repeated index would make an image its own positive), is a ValueError naming the identity and what to set.
The order depends only on ``(seed, epoch)``; call :meth:`set_epoch` each epoch. Use it as
``DataLoader(dataset, batch_sampler=PKSampler(...))``.

``domains`` (one per sample, e.g. the simulated site = scanner of the person) keeps each batch inside one domain:
a batch's domain is drawn with probability proportional to its number of identities, then its P identities from
that domain's own queue, so positives and negatives share a scanner as they would in one lab's data. Every domain
must hold at least P identities (a ValueError names the first that does not).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class PKSampler(Sampler[list[int]]):
    def __init__(
        self,
        labels: Sequence[Hashable],
        p: int,
        k: int,
        seed: int = 0,
        num_batches: int | None = None,
        replacement: bool = True,
        domains: Sequence[Hashable] | None = None,
    ) -> None:
        if p < 1 or k < 1:
            raise ValueError(f"PKSampler: p={p} and k={k} must both be >= 1")
        self.groups: dict[Hashable, list[int]] = {}
        for i, lab in enumerate(labels):
            self.groups.setdefault(lab, []).append(i)
        if p > len(self.groups):
            raise ValueError(
                f"PKSampler: p={p} identities per batch but the labels hold only {len(self.groups)}; "
                f"set P (batch_size // K) <= {len(self.groups)} or add identities"
            )
        if not replacement:
            small = sorted((len(v), str(key)) for key, v in self.groups.items() if len(v) < k)
            if small:
                raise ValueError(
                    f"PKSampler: k={k} captures per identity but identity {small[0][1]!r} has only {small[0][0]} "
                    f"({len(small)} identities have fewer than {k}); set K <= {small[0][0]} or drop those identities"
                )
        if num_batches is not None and num_batches < 1:
            raise ValueError(f"PKSampler: num_batches={num_batches} must be >= 1")
        self.keys = sorted(self.groups, key=str)  # fixed order, independent of label order in the data
        self.domains = self._domain_members(labels, domains, p)  # domain → key indices (one domain: all keys)
        self.p, self.k, self.seed, self.epoch = p, k, seed, 0
        self.num_batches = num_batches if num_batches is not None else max(1, len(labels) // (p * k))

    def _domain_members(
        self, labels: Sequence[Hashable], domains: Sequence[Hashable] | None, p: int
    ) -> list[list[int]]:
        if domains is None:
            return [list(range(len(self.keys)))]
        if len(domains) != len(labels):
            raise ValueError(f"PKSampler: {len(domains)} domains for {len(labels)} labels; give one per sample")
        of: dict[Hashable, Hashable] = {}
        for lab, dom in zip(labels, domains, strict=True):
            if of.setdefault(lab, dom) != dom:
                raise ValueError(f"PKSampler: identity {lab!r} is in two domains ({of[lab]!r} and {dom!r})")
        members: dict[Hashable, list[int]] = {}
        for i, key in enumerate(self.keys):
            members.setdefault(of[key], []).append(i)
        small = sorted((len(v), str(d)) for d, v in members.items() if len(v) < p)
        if small:
            raise ValueError(
                f"PKSampler: p={p} identities per batch within a domain but domain {small[0][1]!r} has only "
                f"{small[0][0]} identities; set P (batch_size // K) <= {small[0][0]} or batches across domains"
            )
        return [members[d] for d in sorted(members, key=str)]

    @classmethod
    def from_batch_size(cls, labels: Sequence[Hashable], batch_size: int, k: int, seed: int = 0) -> PKSampler:
        """P = batch_size // K (``TrainConfig.batch_size`` and ``TrainConfig.pk_k``)."""
        if batch_size < k:
            raise ValueError(f"PKSampler: batch_size={batch_size} is smaller than K={k}")
        return cls(labels, batch_size // k, k, seed)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        queues: list[list[int]] = [[] for _ in self.domains]  # per domain: identities (key indices) still to draw
        weight = np.array([len(m) for m in self.domains], dtype=np.float64)
        pools: dict[int, list[int]] = {}
        for _ in range(self.num_batches):
            d = int(rng.choice(len(self.domains), p=weight / weight.sum())) if len(self.domains) > 1 else 0
            members, id_queue = self.domains[d], queues[d]
            chosen: list[int] = []
            while len(chosen) < self.p:
                if not id_queue:
                    id_queue.extend(members[int(i)] for i in rng.permutation(len(members)) if members[i] not in chosen)
                chosen.append(id_queue.pop())
            batch: list[int] = []
            for c in chosen:
                members = self.groups[self.keys[c]]
                if len(members) < self.k:
                    batch.extend(int(members[j]) for j in rng.integers(0, len(members), self.k))
                    continue
                pool = pools.setdefault(c, [])
                if len(pool) < self.k:  # refill, keeping the leftovers first
                    pool[:0] = [int(members[j]) for j in rng.permutation(len(members)) if members[j] not in pool]
                batch.extend(pool.pop() for _ in range(self.k))
            yield batch
