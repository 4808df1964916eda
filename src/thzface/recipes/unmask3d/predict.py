"""``thzface predict`` for ``unmask3d``: K completions per concealed image, with optional mask and coefficient edits.

Writes ``OUT/<stem>_mask.png`` (the hole used), ``OUT/<stem>_render.png`` (depth, shading, labels as RGB),
``OUT/<stem>_s<k>.png`` for k = 1..K and ``OUT/predictions.json`` (coefficients by group, mask area, files).
Completion k of every image uses noise seed ``(--seed, k)``: the same seed reproduces it, another seed differs.
``--edit`` sets coefficients before rendering (``expression=happiness:0.5``, ``jaw_open=0.8``, ``shape=3:1.5``,
``pose=yaw:20``); ``--mask`` (file, or folder with one ``<stem>.png`` per input) replaces the N3D's mask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from thzface.config import atomic_write_text
from thzface.data.inputs import expand_inputs
from thzface.data.io import load_image, save_png_atomic
from thzface.engine.checkpoint import load_run
from thzface.engine.infer import predict_files
from thzface.engine.recipe import PredictOptions
from thzface.recipes.unmask3d.config import MODEL
from thzface.recipes.unmask3d.evaluate import build_renderer
from thzface.recipes.unmask3d.pipeline import analyse, complete, sample_seeds
from thzface.recipes.unmask3d.render import BUILTIN_ALIASES, parse_edit


def load_masks(spec: str | Path | None, files: list[Path], size: int) -> torch.Tensor | None:
    """(N, 1, S, S) binary masks from ``--mask`` (one file for all, or a folder of ``<stem>.png``); None if unset."""
    if not spec:
        return None
    p = Path(spec)
    if p.is_file():
        m = load_image(p, size, 1)  # (1, S, S)
        return torch.from_numpy(np.stack([m] * len(files)) > 0.5).float()
    if not p.is_dir():
        raise FileNotFoundError(f"--mask {p}: no such file or folder")
    out = []
    for f in files:
        q = p / f"{f.stem}.png"
        if not q.is_file():
            raise FileNotFoundError(f"--mask {p}: no mask {q.name} for input {f.name}")
        out.append(load_image(q, size, 1))
    return torch.from_numpy(np.stack(out) > 0.5).float()  # (N, 1, S, S)


@dataclass(frozen=True)
class Unmask3DOptions(PredictOptions):
    """``thzface predict`` options of an unmask3d run."""

    mask: Path | None = None  # garment mask image or folder (None: the N3D's predicted mask)
    samples: int = 1  # completions per image
    edits: tuple[str, ...] = ()  # coefficient edits such as expression=happiness:0.5
    seed: int = 0  # sampling seed


def predict(run: Path, inputs: list[Path], out: Path, opts: Unmask3DOptions) -> dict:
    k, batch_size = opts.samples, min(opts.batch_size, 16)
    if k < 1:
        raise ValueError(f"--samples {k}: must be >= 1")
    seed = opts.seed
    cfg, model, _ = load_run(run, MODEL)
    renderer = build_renderer(cfg)
    lay = renderer.layout
    aliases = BUILTIN_ALIASES if cfg.model.face_model == "builtin" else {}
    edits = [parse_edit(e, lay, aliases) for e in opts.edits]
    files = expand_inputs(inputs)
    size, channels = cfg.data.image_size, cfg.model.image_channels
    masks = load_masks(opts.mask, files, size)
    out.mkdir(parents=True, exist_ok=True)
    index = {f: n for n, f in enumerate(files)}

    def run_chunk(chunk: list[Path]) -> dict:
        image = torch.from_numpy(np.stack([load_image(f, size, channels) for f in chunk]))  # (n, C, S, S)
        given = None if masks is None else masks[[index[f] for f in chunk]]  # (n, 1, S, S)
        a = analyse(model, renderer, image, edits=edits, mask=given)
        outs = [complete(model, image, a, sample_seeds(seed, j, len(chunk))) for j in range(k)]  # k x (n, C, S, S)
        samples = torch.stack(outs, 1).numpy()  # (n, k, C, S, S)
        return {"mask": a.mask.numpy(), "render": a.render.numpy(), "coeffs": a.coeffs.numpy(), "samples": samples}

    records = []
    for f, r in predict_files(files, batch_size, run_chunk):
        names = {"mask": out / f"{f.stem}_mask.png", "render": out / f"{f.stem}_render.png"}
        save_png_atomic(r["mask"], names["mask"])
        save_png_atomic(r["render"], names["render"])
        completions = []
        for s in range(k):
            path = out / f"{f.stem}_s{s + 1}.png"
            save_png_atomic(r["samples"][s], path)
            completions.append(str(path))
        records.append(
            {
                "image": str(f),
                "mask_source": "given" if masks is not None else "N3D",
                "mask_area": float(r["mask"].mean()),
                "coefficients": {g: [round(float(v), 5) for v in r["coeffs"][sl]] for g, sl in lay.groups().items()},
                "expression_names": list(lay.expr_names),
                "render": str(names["render"]),
                "mask": str(names["mask"]),
                "completions": completions,
            }
        )
    atomic_write_text(out / "predictions.json", json.dumps(records, indent=1))
    return {
        "images": len(records),
        "samples": k,
        "seed": seed,
        "edits": list(opts.edits),
        "out": str(out),
        "predictions": str(out / "predictions.json"),
    }
