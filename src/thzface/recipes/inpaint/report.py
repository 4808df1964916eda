"""HTML report of an inpainting evaluation: per-bucket tables, sample grids, attention-gate maps, speed.

Grids are plain image mosaics drawn with PIL (one PNG per grid, fast even with many rows), upscaled with
nearest-neighbour so single pixels stay visible; column titles on top, values in [0, 1] shown as gray levels.
"""

from __future__ import annotations

import html
import io

import numpy as np
import torch
from PIL import Image, ImageDraw

from thzface.data.io import to_uint8
from thzface.models.inpaint import hide_holes
from thzface.report.evaluation import Report, headline_row
from thzface.report.html import img_tag, reconstruction_table, table

CELL = 96  # displayed side of one image in a grid, pixels
PAD, HEAD = 4, 16  # gap between cells, height of the title row


def mosaic(columns: dict[str, np.ndarray]) -> bytes:
    """PNG of columns of images (N, 1|3, H, W) in [0, 1], one row per sample, titled columns."""
    names = list(columns)
    n = len(next(iter(columns.values())))
    width, height = len(names) * (CELL + PAD) + PAD, HEAD + n * (CELL + PAD) + PAD
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for j, name in enumerate(names):
        x = PAD + j * (CELL + PAD)
        draw.text((x, 2), name[:18], fill="black")
        for i in range(n):
            img = np.asarray(columns[name][i], dtype=np.float32)  # (C, H, W)
            tile = Image.fromarray(to_uint8(np.clip(img, 0, 1))).convert("RGB")
            canvas.paste(tile.resize((CELL, CELL), Image.Resampling.NEAREST), (x, HEAD + PAD + i * (CELL + PAD)))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return buf.getvalue()


def sample_grid(s: dict) -> bytes:
    """Rows of input (hole black) | mask | output | target."""
    mask = s["mask"]  # (n, 1, S, S)
    channels = s["target"].shape[1]
    return mosaic(
        {
            "input": hide_holes(s["target"], mask, "zero").numpy(),
            "mask": mask.expand(-1, channels, -1, -1).numpy(),
            "output": s["output"].numpy(),
            "target": s["target"].numpy(),
        }
    )


def gate_grid(s: dict, gates: list[torch.Tensor]) -> bytes:
    """Rows of input (hole black) and each attention gate's map (coarsest first), white = skip passed."""
    cols = {"input": hide_holes(s["target"], s["mask"], "zero").numpy()}
    for i, g in enumerate(gates):
        cols[f"gate {i + 1} ({g.shape[-1] // 2 ** (len(gates) - 1 - i)}px)"] = g.numpy()
    return mosaic(cols)


def unconceal_columns(s: dict) -> dict[str, np.ndarray]:
    """The unconcealing grid's columns (n, 1, S, S): concealed scan | garment mask | output | unconcealed capture
    (another pose) | the clean target at the concealed pose where the folder has one."""
    cols = {"concealed": s["input"], "garment mask": s["mask"], "output": s["output"], "unconcealed (other)": s["scan"]}
    if s.get("clean") is not None:
        cols["clean target"] = s["clean"]
    return cols


def unconceal_section(metrics: dict, shown: dict | None = None, figures: dict | None = None) -> str:
    rec = metrics.get("unconceal", {})
    if "routes" not in rec:
        return f"<p class=note>{html.escape(str(rec.get('note', 'not scored')))}</p>"
    scored = f"{rec['rows']} concealed test scans inpainted inside their garment silhouette"
    out = reconstruction_table(rec["routes"], "route", scored)
    ident = rec.get("identity_to_clean")
    if ident:
        cells = ", ".join(f"{html.escape(r)} {v:.3f}" for r, v in ident.items())
        out += f"<p class=note>identity cosine to the clean face (shipped/stated embedder): {cells}</p>"
    if shown is None:
        return out
    png = mosaic(unconceal_columns(shown))
    if figures is not None:
        figures["unconceal.png"] = png
    has_clean = shown.get("clean") is not None
    what = "| clean target (noise-free, at the concealed pose)" if has_clean else ""
    out += img_tag(png, "unconcealing samples") + (
        f"<p class=note>concealed | garment mask | output | unconcealed capture (another pose) {what}</p>"
    )
    if not has_clean:
        out += "<p class=note>No clean target column: this folder has no clean/ targets (real captures).</p>"
    return out


def inpaint_report(
    metrics: dict, samples: dict, gates: list[torch.Tensor], modality: str, images: int, unconcealed: dict | None = None
) -> Report:
    """The report of an inpainting run: buckets, unconcealing (with its grid: ``unconcealed``, images of
    :func:`thzface.recipes.inpaint.evaluate.unconceal`), samples, attention gates, speed."""
    figures: dict[str, bytes] = {}
    sec = [
        f"<p class=note>modality {html.escape(modality)} · {images} test images. Fixed, seeded masks per bucket "
        "(hole area as a share of the head); the same masks for "
        "every method on these data. Hole-region metrics are the headline; whole-image metrics are of the "
        "composited output (known pixels are the input's). Identity similarity: cosine of embeddings of output "
        f"and ground truth from <b>{html.escape(str(metrics['identity_embedder']))}</b>.</p>",
        "<h2>Summary per bucket</h2>"
        + table({k: v for k, v in metrics["summary"].items() if k in metrics["sets"]}, "mask set")
        + "<p class=note>baseline_copy_*: the masked input (hole black) copied, on the same masks.</p>",
        "<h2>Unconcealing: concealed scans, garment silhouette as the hole</h2>"
        + unconceal_section(metrics, unconcealed, figures),
    ]
    for name, row in metrics["sets"].items():
        sec.append(f"<h2>Set {html.escape(name)} ({row['n']} images, mean hole ratio {row['hole_ratio']:.3f})</h2>")
        sec.append(table(row["per_kind"], "mask kind"))
        grid = figures[f"samples_{name}.png"] = sample_grid(samples[name])
        rows = ", ".join(html.escape(str(n)) for n in samples[name]["names"])
        sec.append(
            img_tag(grid, f"samples {name}")
            + f"<p class=note>input (hole black) | mask | output | target; rows: {rows}</p>"
        )
    if gates:
        mid = list(samples)[min(1, len(samples) - 1)]
        png = figures["attention_gates.png"] = gate_grid(samples[mid], gates)
        sec.append(f"<h2>Attention-gate maps (set {html.escape(mid)})</h2>" + img_tag(png, "attention gates"))
    else:
        sec.append("<h2>Attention-gate maps</h2><p class=note>this model has no gates (model.gates false)</p>")
    sec.append("<h2>Inference speed</h2>" + table({"this machine": metrics["speed"]}, "device"))
    return Report("thzface inpainting report", sec, headline(metrics, images), figures=figures)


def headline(metrics: dict, images: int) -> dict[str, dict]:
    """First-screen rows: whole-image SSIM and PSNR of each mask bucket beside copying the masked input."""
    out = {}
    for name in metrics["sets"]:
        s = metrics["summary"].get(name, {})
        who = f"{images} test images"
        out[f"SSIM, holes {name}%"] = headline_row(s.get("ssim"), s.get("baseline_copy_ssim"), "copy the input", who)
        out[f"PSNR, holes {name}%"] = headline_row(s.get("psnr"), s.get("baseline_copy_psnr"), "copy the input", who)
    return out
