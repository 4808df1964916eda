"""The batched backend: a block of samples drawn per sample, rendered together (a compiled renderer on the CPU,
torch on the GPU), finished per sample (``sim.backend: batched``).

Every draw (visit traits, expression, pose, garments, instrument, noise) comes from the sample's own streams
exactly as in the reference backend, so both backends hold the same people, poses and garments; only the
rendering arithmetic (float32, batched), the speckle filter (float32 FFT, sim/batch_filters.py) and the head
build (per-person caches, sim/batch_face.py) differ.
Batches are fixed blocks of sample indices (:func:`blocks`) and a sample's bytes do not depend on the other
samples of its batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from thzface.data.naming import NUM_POSTURES
from thzface.sim.config import SimConfig
from thzface.sim.face_model import FaceModel, Identity
from thzface.sim.head import HeadSurface
from thzface.sim.sample import SampleOutput, finish_sample, prepare_sample

if TYPE_CHECKING:
    import torch

BATCH = 16  # about this many samples per batch, rounded to whole identities


def block_size(cfg: SimConfig) -> int:
    """Samples per batch: whole identities (NUM_POSTURES * samples each, identity-major order), about BATCH, so
    each person's geometry is built in one batch and one process."""
    per_id = NUM_POSTURES * cfg.samples
    return per_id * max(1, round(BATCH / per_id))


def blocks(todo: range, size: int) -> list[range]:
    """The sample indices ``todo`` cut at multiples of ``size``: batch boundaries fixed by sample index, so a shard
    or a worker renders a sample in the same batch position arithmetic whatever range it was given."""
    out, start = [], todo.start
    while start < todo.stop:
        stop = min((start // size + 1) * size, todo.stop)
        out.append(range(start, stop))
        start = stop
    return out


def head_build(cfg: SimConfig, model: FaceModel) -> Callable[[np.ndarray, np.ndarray, dict], HeadSurface] | None:
    """The heads of ``cfg``'s backend: the batched backend's per-person caches (sim/batch_face.py), None for the
    reference (``model.build``). The world's geometry probe builds with it too, so one process lofts a person
    once."""
    if cfg.backend != "batched":
        return None
    from thzface.sim.batch_face import head_builder  # torch: only the batched backend imports it

    return head_builder(model)


def warm_up(cfg: SimConfig) -> None:
    """Ready the batched backend's CPU renderer in this process (sim/batch_raster.py; nothing on a GPU or for
    the reference backend), so that forked workers inherit its compiled kernels."""
    if cfg.backend != "batched":
        return
    from thzface.sim.batch_render import sim_device

    if sim_device().type == "cpu":
        from thzface.sim.batch_raster import warm_up as warm_kernels

        warm_kernels()


def simulate_batch(
    cfg: SimConfig,
    model: FaceModel,
    jobs: list[tuple[Identity, int, int]],
    seed: int,
    device: torch.device | None = None,
) -> list[SampleOutput]:
    """Samples ``jobs`` = (identity, 0-based posture, sample index), rendered in one batch."""
    from thzface.sim.batch_filters import FFT_FILTERS  # torch: only the batched backend imports these
    from thzface.sim.batch_render import render_batch, sim_device

    build = head_build(cfg, model)
    preps = [prepare_sample(cfg, model, ident, posture, seed, index, build) for ident, posture, index in jobs]
    if not preps:
        return []
    reqs = [p.requests() for p in preps]
    views = render_batch([q for r in reqs for q in r], preps[0].surf.grid, device or sim_device())
    out, k = [], 0
    for p, r in zip(preps, reqs, strict=True):
        out.append(finish_sample(cfg, model, p, views[k : k + len(r)], FFT_FILTERS))
        k += len(r)
    return out
