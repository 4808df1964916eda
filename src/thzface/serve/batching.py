"""Micro-batching of concurrent requests: the images of requests that arrive while the model is busy are embedded
together in one call, and every request gets back its own rows, or its own error.

There is no waiting window: a lone request runs at once (as without batching); requests that queue up behind a
running call are taken together, whole, up to ``max_images`` images, by the next call. When a call of several
requests fails, each of them is run alone, so an error reaches the request that caused it and no other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
from starlette.concurrency import run_in_threadpool


def split_rows(out: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """``out`` (sum(sizes), ...) → one array per request, in order: rows [0, sizes[0]), then the next ``sizes[1]``,
    …; ValueError when ``out`` has another number of rows (a model that dropped or added rows)."""
    if out.shape[0] != sum(sizes):
        raise ValueError(f"batched call returned {out.shape[0]} rows for {sum(sizes)} images")
    return np.split(out, np.cumsum(sizes)[:-1])


def fail(batch: list[tuple[np.ndarray, asyncio.Future]], error: Exception) -> None:
    """Answer every request of ``batch`` still waiting with ``error``."""
    for _, future in batch:
        if not future.done():
            future.set_exception(error)


class MicroBatcher:
    """``await batcher(x)`` with ``x`` (n, ...) → ``fn(x)``'s rows for ``x`` (n, ...), computed in a thread
    together with the other requests queued at that moment (``fn``: (N, ...) → (N, ...), e.g. ``embed``)."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], max_images: int = 32) -> None:
        if max_images < 1:
            raise ValueError(f"MicroBatcher: max_images must be >= 1, got {max_images}")
        self.fn, self.max_images = fn, max_images
        self.pending: list[tuple[np.ndarray, asyncio.Future]] = []
        self.worker: asyncio.Task | None = None
        self.calls = 0  # calls of fn so far (requests / calls = the mean number of requests per call)

    async def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 1 or x.shape[0] == 0:
            raise ValueError(f"MicroBatcher: expected a non-empty batch of images, got shape {x.shape}")
        loop = asyncio.get_running_loop()
        if self.worker is not None and self.worker.get_loop() is not loop:  # a new event loop (tests): start over
            self.pending, self.worker = [], None
        future: asyncio.Future = loop.create_future()
        self.pending.append((x, future))
        if self.worker is None or self.worker.done():
            self.worker = loop.create_task(self.drain())
        return await future

    def take(self) -> list[tuple[np.ndarray, asyncio.Future]]:
        """Whole requests from the front of the queue: at least one, then more while they fit ``max_images``."""
        k, n = 1, len(self.pending[0][0])
        while k < len(self.pending) and n + len(self.pending[k][0]) <= self.max_images:
            n += len(self.pending[k][0])
            k += 1
        batch, self.pending = self.pending[:k], self.pending[k:]
        return batch

    async def drain(self) -> None:
        """Run queued requests, one call per :meth:`take`, until the queue is empty."""
        while self.pending:
            batch = self.take()
            try:
                await self.run(batch)
            except Exception as e:  # a failure here must not leave the batch's requests waiting forever
                fail(batch, e)
            except BaseException:  # cancelled (the server stops): nobody will run the queue
                fail(batch + self.pending, RuntimeError("the server stopped before the request ran"))
                self.pending = []
                raise

    def call(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        self.calls += 1
        return split_rows(self.fn(np.concatenate(xs)), [len(x) for x in xs])  # (sum n, ...) → [(n_i, ...)]

    async def run(self, batch: list[tuple[np.ndarray, asyncio.Future]]) -> None:
        live = [(x, f) for x, f in batch if not f.done()]  # a cancelled request (client gone) is skipped
        if not live:
            return
        try:
            results = await run_in_threadpool(self.call, [x for x, _ in live])
        except Exception as e:
            if len(live) == 1:
                return fail(live, e)
            for item in live:  # find the request that fails: each alone
                await self.run([item])
            return
        for (_, future), rows in zip(live, results, strict=True):
            if not future.done():
                future.set_result(rows)
