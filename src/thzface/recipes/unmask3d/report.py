"""HTML report of an ``unmask3d`` evaluation: headline tables and the sample grid (also saved as PNG)."""

from __future__ import annotations

import numpy as np

from thzface.report import figures as F
from thzface.report.evaluation import Report, headline_row
from thzface.report.html import fmt, img_tag, reconstruction_table, table

GRID_ROWS = 8  # test rows shown in the sample grid


def sample_grid(c: dict, rows: int = GRID_ROWS) -> bytes:
    """Input | true mask | predicted mask | render | true render | K samples | end to end | edited | target | the
    clean target where the folder has one (or the target's title says it is the clean one)."""
    n = min(rows, len(c["names"]))
    cols = {
        "input": c["image"][:n],
        "true mask": c["mask"][:n],
        "N3D mask": (c["mask_prob"][:n] > 0.5).astype(np.float32),
        "render (shading)": c["render"][:n, 1:2],
        "true render": c["render_true"][:n, 1:2],
    }
    for k in range(c["samples"].shape[1]):
        cols[f"sample {k + 1} (true mask)"] = c["samples"][:n, k]
    cols["end to end"] = c["out"][:n]
    cols["edited"] = c["out_edit"][:n]
    cols["target"] = c["target"][:n]
    clean = c.get("clean")
    if clean is not None:  # the noise-free unconcealed face at the concealed pose (simulated folders)
        if np.array_equal(clean[:n], c["target"][:n]):
            cols["target = clean target"] = cols.pop("target")
        else:
            cols["clean target"] = clean[:n]
    return tiled_grid(cols, [str(x) for x in c["names"][:n]])


def tiled_grid(columns: dict[str, np.ndarray], row_labels: list[str], pad: int = 2) -> bytes:
    """Columns of (N, 1|3, H, W) images tiled into one picture (one imshow: fast for many cells), titled."""
    import matplotlib.pyplot as plt

    n, h, w = len(row_labels), *next(iter(columns.values())).shape[-2:]
    canvas = np.ones((n * (h + pad), len(columns) * (w + pad), 3))  # (rows, cols, RGB) white gaps
    for j, imgs in enumerate(columns.values()):
        for i in range(n):
            img = np.clip(np.asarray(imgs[i], dtype=np.float64), 0, 1)
            rgb = np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img  # (3, H, W)
            canvas[i * (h + pad) : i * (h + pad) + h, j * (w + pad) : j * (w + pad) + w] = rgb.transpose(1, 2, 0)
    scale = max(1.0, 48.0 / h)
    fig, ax = plt.subplots(figsize=(0.02 * scale * canvas.shape[1] + 1.5, 0.02 * scale * canvas.shape[0] + 0.6))
    ax.imshow(canvas, interpolation="nearest")
    ax.set_xticks([j * (w + pad) + w / 2 for j in range(len(columns))], list(columns), rotation=30, fontsize=7)
    ax.set_yticks([i * (h + pad) + h / 2 for i in range(n)], row_labels, fontsize=6)
    ax.xaxis.tick_top()
    return F._png(fig)


def clean_note(c: dict) -> str:
    """One line under the grid: whether it shows the clean target (noise-free, unconcealed, at the concealed pose)."""
    if c.get("clean") is None:
        return "<p class=note>No clean target column: this folder has no clean/ targets (real captures).</p>"
    return "<p class=note>clean target: the noise-free unconcealed face at the concealed scan's pose.</p>"


def unmask3d_report(metrics: dict, c: dict) -> Report:
    """The report of an unmask3d run: summary, completions, N3D, diversity and control, identity, samples."""
    grid = sample_grid(c)
    coef = metrics["coefficients"]
    coef_rows = {k: v for k, v in coef.items() if isinstance(v, dict) and k in ("model", "predict_mean")}
    ident = metrics["identity"]
    fid = metrics["fidelity_per_sample"]
    sections = [
        "<h2>Summary</h2>" + table({"value": metrics["summary"]}, "metric"),
        "<h2>Completions</h2>"
        + reconstruction_table(
            metrics["reconstruction"], "variant", f"completions of {metrics['rows']} concealed scans"
        ),
        "<h2>N3D</h2>"
        + f"<p>mask IoU {fmt(metrics['mask']['iou'])} over {metrics['mask']['rows_with_mask']} rows</p>"
        + (table(coef_rows, "coefficients") if coef_rows else f"<p class=note>{fmt(coef.get('error'))}</p>")
        + f"<p class=note>mean absolute error per group; units {fmt(coef.get('units', ''))}</p>",
        "<h2>Diversity and control</h2>"
        + f"<p>{metrics['diversity']['samples']} samples: mean pairwise L1 in the mask "
        + f"{fmt(metrics['diversity']['mean_pairwise_l1_in_mask'])}; per-sample {fid['metric']} "
        + f"{', '.join(fmt(v) for v in fid['values'])}; edit {fmt(metrics['edit']['edit'])} changes the mask "
        + f"region by {fmt(metrics['edit']['mean_change_in_mask'])} (mean |difference|, same noise)</p>",
        "<h2>Identity</h2>" + table({"value": ident}, "identity"),
        "<h2>Samples</h2>" + img_tag(grid, "sample grid") + clean_note(c),
    ]
    return Report("thzface unmask3d evaluation report", sections, headline(metrics), figures={"samples.png": grid})


def headline(metrics: dict) -> dict[str, dict]:
    """First-screen rows: completion SSIM (whole image, and against the clean target where there is one) beside
    the concealed input as is, and the N3D's coefficient error beside predicting the training mean."""
    s, who = metrics["summary"], f"{metrics['rows']} test scans"
    out = {"completion SSIM": headline_row(s.get("ssim"), s.get("baseline_copy_ssim"), "the input as is", who)}
    if "clean_ssim" in s:
        out["SSIM vs clean target"] = headline_row(s.get("clean_ssim"), s.get("baseline_copy_clean_ssim"),
                                                              "the input as is", who)  # fmt: skip
    out["coefficient error (lower: better)"] = headline_row(s.get("coef_l1_std"), s.get("coef_l1_std_mean_baseline"),
                                                       "training mean", who, False)  # fmt: skip
    return out
