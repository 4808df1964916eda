"""``thzface predict RUN IMAGE... --mask MASK`` for inpainting runs: image + mask → composited PNG.

``--mask`` is one mask image applied to every input, or a folder holding a mask of the same file name for each
input (a folder pair). Mask images: white (> 0.5) = hole to paint, black = known; resized (nearest) to the run's
image size; images are loaded at the run's size and channel count (``thzface.data.io.load_image``).
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
from thzface.recipes.inpaint.config import MODEL


def load_mask(path: Path, size: int) -> np.ndarray:
    """(1, S, S) float32 mask in {0, 1} from an image file (white = hole)."""
    m = torch.from_numpy(load_image(path, None, 1))[None]  # (1, 1, h, w)
    m = torch.nn.functional.interpolate(m, size=(size, size), mode="nearest")[0]  # (1, S, S)
    return (m > 0.5).float().numpy()


def mask_for(image: Path, mask_arg: Path) -> Path:
    """The mask file of ``image``: ``mask_arg`` itself, or ``mask_arg/<image name>`` for a folder."""
    if mask_arg.is_dir():
        p = mask_arg / image.name
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no mask for {image.name} in the --mask folder")
        return p
    if not mask_arg.is_file():
        raise FileNotFoundError(f"{mask_arg}: --mask file or folder not found")
    return mask_arg


@dataclass(frozen=True)
class InpaintOptions(PredictOptions):
    """``thzface predict`` options of an inpainting run."""

    mask: Path | None = None  # mask image, or a folder of masks named as the inputs (required)


def predict(run: Path, inputs: list[Path], out: Path, opts: InpaintOptions) -> dict:
    """Write ``OUT/<stem>_inpainted.png`` per image and ``OUT/predictions.json``."""
    mask_arg, batch_size = opts.mask, min(opts.batch_size, 32)
    if not mask_arg:
        raise ValueError("predict: an inpainting run needs --mask (a mask image, or a folder of same-name masks)")
    cfg, model, _ = load_run(run, MODEL)
    size, channels = cfg.data.image_size, cfg.model.image_channels
    files = expand_inputs(inputs)
    out.mkdir(parents=True, exist_ok=True)

    @torch.no_grad()
    def run_chunk(chunk: list[Path]) -> dict:
        masks = [mask_for(f, Path(mask_arg)) for f in chunk]
        image = torch.from_numpy(np.stack([load_image(f, size, channels) for f in chunk]))  # (n, C, S, S)
        mask = torch.from_numpy(np.stack([load_mask(m, size) for m in masks]))  # (n, 1, S, S)
        result = model.inpaint(image, mask).output.clamp(0, 1).numpy()  # (n, C, S, S)
        return {"mask_file": masks, "mask": mask.numpy(), "result": result}

    records = []
    for f, r in predict_files(files, batch_size, run_chunk):
        dst = out / f"{f.stem}_inpainted.png"
        save_png_atomic(r["result"], dst)
        records.append({"image": str(f), "mask": str(r["mask_file"]), "hole_fraction": float(r["mask"].mean()),
                        "output": str(dst)})  # fmt: skip
    atomic_write_text(out / "predictions.json", json.dumps(records, indent=1))
    return {"images": len(records), "out": str(out), "predictions": str(out / "predictions.json"), "size": size}
