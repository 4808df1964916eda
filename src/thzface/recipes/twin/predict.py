"""Inference of twin runs: ``thzface predict`` (embedding + part boxes per image) and ``verify`` (two scans).

Part boxes come from the dataset's ``aux/<concealed name>.npz`` when the image sits in a thzface dataset folder
(``DIR/thz/<seed name>.png``) and that file holds ``part_boxes``; otherwise from the model's part-box head.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from thzface.config import atomic_write_text
from thzface.data.inputs import expand_inputs
from thzface.data.io import load_image, save_png_atomic
from thzface.data.naming import NameError_, parse_name
from thzface.engine.infer import decide, predict_files
from thzface.engine.recipe import PredictOptions
from thzface.engine.run import Run
from thzface.models.parts import TwinModel
from thzface.models.twin_config import PART_NAMES
from thzface.recipes.twin.config import MODEL
from thzface.recipes.twin.data import read_part_boxes
from thzface.recipes.twin.report import draw_boxes


def aux_boxes(path: Path, size: int) -> np.ndarray | None:
    """Part boxes (5, 4) at ``size`` from ``path``'s dataset aux file, or None (no dataset, no aux, no key)."""
    try:
        name = parse_name(path.name)
    except NameError_:
        return None
    key = name if name.concealed else name.counterpart()
    aux = path.parent.parent / "aux" / (Path(key.filename).stem + ".npz")
    return read_part_boxes(aux, Image.open(path).size, size, not name.concealed) if aux.is_file() else None


class TwinPredictor:
    """A loaded twin run mapping image files to embeddings and the part boxes used."""

    def __init__(self, run: Path):
        self.run, self.info = Path(run), Run(run)
        self.cfg, self.model, self.extra = self.info.load(MODEL)
        assert isinstance(self.model, TwinModel)
        self.size = self.cfg.data.image_size

    @torch.no_grad()
    def __call__(self, paths: list[Path]) -> dict:
        x = torch.from_numpy(np.stack([load_image(p, self.size, 1) for p in paths]))  # (N, 1, S, S)
        found = [aux_boxes(p, self.size) for p in paths]
        has = torch.tensor([b is not None for b in found])  # (N,)
        boxes = torch.from_numpy(np.stack([np.zeros((len(PART_NAMES), 4), np.float32) if b is None else b
                                           for b in found]))  # (N, 5, 4)  # fmt: skip
        out = self.model(x, boxes, has)
        used = out.boxes.numpy() if out.boxes is not None else None
        source = ["aux" if h else ("predicted" if used is not None else "none") for h in has.tolist()]
        return {"images": x.numpy(), "embedding": out.embedding.numpy(), "boxes": used, "source": source}


def predict(run: Path, inputs: list[Path], out: Path, opts: PredictOptions) -> dict:
    """Write ``OUT/<stem>_parts.png`` (boxes drawn) per image and ``OUT/predictions.json`` (embedding, boxes)."""
    batch_size = opts.batch_size
    pred = TwinPredictor(run)
    files = expand_inputs(inputs)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for f, res in predict_files(files, batch_size, pred):
        rec: dict = {"image": str(f), "embedding": [round(float(v), 6) for v in res["embedding"]],
                     "box_source": res["source"]}  # fmt: skip
        if res["boxes"] is not None:
            b = res["boxes"]
            rec["boxes"] = {p: [round(float(v), 2) for v in b[k]] for k, p in enumerate(PART_NAMES)}
            rec["parts_image"] = str(out / f"{f.stem}_parts.png")
            save_png_atomic(draw_boxes(res["images"], b), out / f"{f.stem}_parts.png")
        records.append(rec)
    atomic_write_text(out / "predictions.json", json.dumps(records, indent=1))
    sources = [r["box_source"] for r in records]
    return {"images": len(records), "out": str(out), "predictions": str(out / "predictions.json"),
            "box_source": {s: sources.count(s) for s in sorted(set(sources))}}  # fmt: skip


def verify(run: Path, a: Path, b: Path, threshold: float | None = None) -> dict:
    """Cosine score of two scans and the decision at ``threshold`` (default: RUN/threshold.json from eval)."""
    pred = TwinPredictor(run)
    e = pred([a, b])["embedding"]
    return decide(pred.info, a, b, e[0], e[1], threshold)
