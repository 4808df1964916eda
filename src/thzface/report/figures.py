"""Matplotlib figures for reports, returned as PNG bytes (ROC/DET, confusion matrix, image grids)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def roc_det(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """ROC (TAR vs FAR, log FAR) and DET (FRR vs FAR) for each named (fpr, tpr) curve."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    for name, (fpr, tpr) in curves.items():
        a.plot(np.clip(fpr, 1e-4, 1), tpr, label=name)
        b.plot(np.clip(fpr, 1e-4, 1), np.clip(1 - tpr, 1e-4, 1), label=name)
    a.set(xscale="log", xlabel="false accept rate", ylabel="true accept rate", title="ROC", xlim=(1e-4, 1))
    b.set(xscale="log", yscale="log", xlabel="false accept rate", ylabel="false reject rate", title="DET")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _png(fig)


def confusion(cm: np.ndarray, labels: list[str], title: str = "posture confusion") -> bytes:
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(4, 3.6))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if cm[i, j] > cm.max() / 2 else "black",
            )
    return _png(fig)


def image_grid(columns: dict[str, np.ndarray], row_labels: list[str] | None = None) -> bytes:
    """Columns of images (N, C, H, W) in [0, 1], one row per sample (e.g. concealed | reconstructed | target)."""
    names = list(columns)
    n = len(next(iter(columns.values())))
    fig, axes = plt.subplots(n, len(names), figsize=(1.6 * len(names), 1.6 * n), squeeze=False)
    for j, name in enumerate(names):
        for i in range(n):
            img = np.asarray(columns[name][i])
            img = img[0] if img.shape[0] == 1 else np.transpose(img, (1, 2, 0))
            ax = axes[i, j]
            ax.imshow(np.clip(img, 0, 1), cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=8)
            if j == 0 and row_labels:
                ax.set_ylabel(row_labels[i], fontsize=6)
    return _png(fig)
