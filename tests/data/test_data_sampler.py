"""PKSampler: P distinct identities × K samples, small identities with replacement, deterministic."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from thzface.data.sampler import PKSampler

LABELS = ["a"] * 6 + ["b"] * 5 + ["c"] * 4 + ["d"] * 2 + ["e"] * 7


def test_batches_are_p_by_k() -> None:
    sampler = PKSampler(LABELS, p=3, k=4, seed=0, num_batches=10)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 10
    for batch in batches:
        counts = Counter(LABELS[i] for i in batch)
        assert len(batch) == 12 and len(counts) == 3 and set(counts.values()) == {4}
        for lab in counts:
            idx = [i for i in batch if LABELS[i] == lab]
            if LABELS.count(lab) >= 4:
                assert len(set(idx)) == 4  # without replacement when the identity has K samples
    seen = Counter(LABELS[i] for b in batches for i in b)
    assert set(seen) == set(LABELS)  # every identity visited over an epoch


def test_deterministic_per_seed_and_epoch() -> None:
    a = PKSampler(LABELS, 2, 2, seed=1)
    first = list(a)
    assert first == list(PKSampler(LABELS, 2, 2, seed=1))
    assert first != list(PKSampler(LABELS, 2, 2, seed=2))
    a.set_epoch(1)
    assert list(a) != first
    a.set_epoch(0)
    assert list(a) == first
    assert len(first) == len(LABELS) // 4


def test_dataloader_and_errors() -> None:
    ds = TensorDataset(torch.arange(len(LABELS)))
    sampler = PKSampler.from_batch_size(LABELS, batch_size=8, k=2)
    assert sampler.p == 4
    (batch,) = next(iter(DataLoader(ds, batch_sampler=sampler)))
    assert batch.shape == (8,)
    with pytest.raises(ValueError, match="p=6 identities per batch but the labels hold only 5"):
        PKSampler(LABELS, 6, 2)
    with pytest.raises(ValueError, match="k=0"):
        PKSampler(LABELS, 2, 0)


def test_without_replacement_an_identity_with_fewer_than_k_is_an_error() -> None:
    with pytest.raises(ValueError, match="k=3 captures per identity but identity 'd' has only 2.*set K <= 2"):
        PKSampler(LABELS, 2, 3, replacement=False)
    for batch in PKSampler(LABELS, 3, 2, seed=0, replacement=False):
        assert len(set(batch)) == len(batch) == 6  # never an index twice in one batch
    with pytest.raises(ValueError, match=r"set P \(batch_size // K\) <= 5"):
        PKSampler(LABELS, 6, 2, replacement=False)


DOMAIN_OF = {"a": "s0", "b": "s0", "c": "s1", "d": "s1", "e": "s1"}


def test_domains_keep_each_batch_in_one_domain() -> None:
    domains = [DOMAIN_OF[lab] for lab in LABELS]
    sampler = PKSampler(LABELS, p=2, k=2, seed=3, num_batches=40, domains=domains)
    batches = list(sampler)
    seen_domains = Counter()
    for batch in batches:
        in_batch = {DOMAIN_OF[LABELS[i]] for i in batch}
        assert len(in_batch) == 1 and len({LABELS[i] for i in batch}) == 2
        seen_domains[in_batch.pop()] += 1
    assert set(seen_domains) == {"s0", "s1"}  # both drawn; s1 (3 people) more often than s0 (2) on average
    assert batches == list(PKSampler(LABELS, p=2, k=2, seed=3, num_batches=40, domains=domains))
    # without domains the draws are those of the plain sampler (one domain = every identity)
    assert list(PKSampler(LABELS, 2, 2, seed=1)) == list(PKSampler(LABELS, 2, 2, seed=1, domains=["x"] * len(LABELS)))


def test_domain_errors_name_the_problem() -> None:
    domains = [DOMAIN_OF[lab] for lab in LABELS]
    with pytest.raises(ValueError, match="domain 's0' has only 2 identities"):
        PKSampler(LABELS, p=3, k=2, domains=domains)
    bad = list(domains)
    bad[0] = "s1"  # one capture of 'a' in another domain
    with pytest.raises(ValueError, match="identity 'a' is in two domains"):
        PKSampler(LABELS, p=2, k=2, domains=bad)
    with pytest.raises(ValueError, match="one per sample"):
        PKSampler(LABELS, p=2, k=2, domains=domains[:-1])
