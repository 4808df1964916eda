"""Micro-batching of concurrent requests: each request gets its own rows in order, requests queued behind a running
call share the next call (whole, within ``max_images``), and an error reaches only the request that caused it."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from thzface.serve.batching import MicroBatcher, split_rows


class Model:
    """A stand-in for ``embed``: row i of the output is 10 × row i of the input plus the call number; the first call
    waits until ``release`` is set (so that the other requests queue up behind it); a row of NaN is refused."""

    def __init__(self) -> None:
        self.release, self.started = threading.Event(), threading.Event()
        self.batches: list[int] = []  # images per call

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if np.isnan(x).any():
            raise ValueError(f"NaN in a batch of {len(x)}")
        self.batches.append(len(x))
        if len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(10), "the first call was never released"
        return 10.0 * x + len(self.batches)  # (N, D)


def requests(sizes: list[int], bad: int | None = None) -> list[np.ndarray]:
    """One (n_i, 2) array per request, rows numbered 0, 1, 2, … over all requests; request ``bad`` holds a NaN."""
    rows = np.arange(2 * sum(sizes), dtype=np.float64).reshape(-1, 2)  # (sum n_i, 2)
    out = np.split(rows, np.cumsum(sizes)[:-1])
    if bad is not None:
        out[bad] = out[bad].copy()
        out[bad][0, 0] = np.nan
    return out


async def submit(batcher: MicroBatcher, model: Model, xs: list[np.ndarray]) -> list:
    """Submit ``xs[0]`` alone, then the rest while the first call runs; each request's result or exception."""
    first = asyncio.ensure_future(batcher(xs[0]))
    await asyncio.to_thread(model.started.wait, 10)
    rest = [asyncio.ensure_future(batcher(x)) for x in xs[1:]]
    await asyncio.sleep(0.01)  # all queued behind the running call
    model.release.set()
    return await asyncio.wait_for(asyncio.gather(first, *rest, return_exceptions=True), 10)


def test_each_request_gets_its_own_rows_and_queued_requests_share_a_call() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_images=6)
    xs = requests([2, 2, 1, 3, 2, 2])
    got = asyncio.run(submit(batcher, model, xs))
    assert model.batches == [2, 6, 4]  # alone; then 2+1+3 = 6 (the next pair would overflow); then 2+2
    calls = [1, 2, 2, 2, 3, 3]  # the call each request went into
    for x, out, call in zip(xs, got, calls, strict=True):
        np.testing.assert_array_equal(out, 10.0 * x + call)
    assert batcher.calls == 3 and not batcher.pending


def test_an_error_reaches_only_the_request_that_caused_it() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_images=16)
    xs = requests([2, 2, 2, 2], bad=2)
    got = asyncio.run(submit(batcher, model, xs))
    assert isinstance(got[2], ValueError) and str(got[2]) == "NaN in a batch of 2"  # retried alone
    for i, call in ((0, 1), (1, 2), (3, 3)):  # the shared call of requests 1-3 failed (uncounted); each alone after
        np.testing.assert_array_equal(got[i], 10.0 * xs[i] + call)
    assert model.batches == [2, 2, 2] and batcher.calls == 5


def test_a_request_larger_than_max_images_runs_alone_and_a_new_event_loop_starts_over() -> None:
    model = Model()
    model.release.set()
    batcher = MicroBatcher(model, max_images=2)
    x = np.ones((5, 2))
    out = asyncio.run(batcher(x))
    np.testing.assert_array_equal(out, 11.0)
    np.testing.assert_array_equal(asyncio.run(batcher(x)), 12.0)  # another loop (as in the test client)
    assert model.batches == [5, 5]


def test_split_rows_and_bad_arguments() -> None:
    parts = split_rows(np.arange(10).reshape(5, 2), [2, 3])
    assert [p.tolist() for p in parts] == [[[0, 1], [2, 3]], [[4, 5], [6, 7], [8, 9]]]
    with pytest.raises(ValueError, match="batched call returned 4 rows for 5 images"):
        split_rows(np.zeros((4, 2)), [2, 3])
    with pytest.raises(ValueError, match="max_images must be >= 1, got 0"):
        MicroBatcher(lambda x: x, max_images=0)
    with pytest.raises(ValueError, match=r"non-empty batch of images, got shape \(0, 2\)"):
        asyncio.run(MicroBatcher(lambda x: x)(np.zeros((0, 2))))
