"""``thzface adapt``: an embedder's BatchNorm statistics re-estimated on a scanner's unlabeled scans (AdaBN,
:func:`thzface.models.adapt.adapt_batchnorm`), written as a weights file every command reads.

A lab with a scanner the weights never saw runs it once on scans of its own (any people, no labels; concealed and
unconcealed alike, e.g. a morning's portal passes), then verifies with the adapted file. Only BatchNorm buffers
change; the deployed threshold travels from the source, with the adaptation recorded beside it in the metadata
(``extra["adapted"]``). Evaluation's honest counterpart is ``thzface eval --adapt site`` (cross-fitted by people).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from thzface.data.csv import TripletRow
from thzface.data.inputs import expand_inputs
from thzface.data.io import load_image
from thzface.engine.checkpoint import save_weights
from thzface.models.adapt import adapt_batchnorm
from thzface.models.multitask import MultiTaskModel

BATCH = 64  # scans per BatchNorm update (training's batches were 80 of one site)


def capture_scans(root: Path, rows: Iterable[TripletRow]) -> list[Path]:
    """The THz scans of the rows' captures (each anchor and its unconcealed positive), sorted, each once: what a
    scanner is adapted on."""
    return sorted({Path(root) / "thz" / n for r in rows for n in (r.anchor, r.positive)})


def scan_batches(paths: list[Path], size: int, batch_size: int = BATCH, seed: int = 0) -> Iterator[torch.Tensor]:
    """The scans at ``paths`` in a seeded random order, as (B, 1, S, S) batches of ``min(batch_size, len(paths))``
    (a smaller last batch is dropped, so every BatchNorm update weighs the same)."""
    order = np.random.default_rng(seed).permutation(len(paths))
    n = min(batch_size, len(paths))
    for k in range(0, len(order) - n + 1, n):
        yield torch.from_numpy(np.stack([load_image(paths[i], size, 1) for i in order[k : k + n]]))  # (n, 1, S, S)


def adapt_embedder(model: MultiTaskModel, paths: list[Path], size: int, seed: int = 0) -> MultiTaskModel:
    """``model`` with the BatchNorm statistics of the scans at ``paths``, through deployment's path
    (``MultiTaskModel.infer``: flip test, posture, decoder); ValueError for fewer than 2 scans."""
    if len(paths) < 2:
        raise ValueError(f"{len(paths)} scan(s) to adapt on; scanner adaptation needs >= 2")

    def forward(net: torch.nn.Module, x: torch.Tensor) -> object:
        return net.infer(x)  # type: ignore[operator]

    out = adapt_batchnorm(model, scan_batches(paths, size, seed=seed), forward)
    return out  # type: ignore[return-value]


def adapt_weights(source: str | Path, scans: list[Path], out: Path, seed: int = 0) -> dict:
    """Adapt the embedder ``source`` (run, weights file, ``pretrained:NAME``) to the scanner of ``scans`` (image files
    or folders of them) and write ``out`` (a new .safetensors file; an existing one is refused, never overwritten).
    Returns a summary."""
    from thzface.embedder.predictor import open_embedder

    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out}: exists; thzface adapt never overwrites (choose another --out)")
    if out.suffix != ".safetensors":
        raise ValueError(f"{out}: the adapted weights are a .safetensors file")
    paths = expand_inputs([Path(p) for p in scans])
    run, cfg, model = open_embedder(source)
    net = adapt_embedder(model, paths, cfg.data.image_size, seed)
    extra = dict(run.extra)
    if run.threshold is not None:  # the source's deployed threshold (fit on its validation people), carried over
        extra["threshold"] = {"threshold": run.threshold, "source": f"{run.threshold_source} (of {source})"}
    extra["adapted"] = {"source": str(source), "scans": len(paths), "seed": seed, "batch": min(BATCH, len(paths))}
    save_weights(net.state_dict(), cfg, out, extra)
    return {"out": str(out), "source": str(source), "scans": len(paths), "threshold": run.threshold}
