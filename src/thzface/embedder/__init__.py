"""The embedder: any run or shipped weights whose deployable model embeds one THz scan (an ``mtl`` run, a
``distill`` joint/student run, ``pretrained:NAME``), loaded one way for every user.

It sits below the recipes and above ``export`` (its ONNX backend) and ``engine`` (the run folder): serve, bench,
the CLI, scripts and recipes (inpaint's and unmask3d's identity loss and metric, twin's global branch) all load an
embedder here. The flip test stays in the model (``MultiTaskModel.embed``) and in its ONNX graph.

* :data:`SPECS` — the model specs of the recipes whose runs embed (``Recipe.embedder`` says the same, tested);
* :func:`open_embedder` — ``(Run, cfg, MultiTaskModel)`` of any embedder source, one read of its metadata;
* :class:`Predictor` — images → posture, embedding, reconstruction / the verification embedding (torch or ONNX);
* :func:`predict` (:class:`EmbedderOptions`) / :func:`verify` / :func:`verify_sets` (several scans a side, fused) —
  ``thzface predict | verify`` of embedder runs;
* :func:`adapt_weights` / :func:`adapt_embedder` — ``thzface adapt``: BatchNorm statistics of a new scanner's
  unlabeled scans (AdaBN), written as a weights file;
* :class:`FrozenEmbedder` / :func:`load_embedder` / :func:`identity_similarity` — a frozen, trained embedder as a
  loss or metric of another recipe.
"""

from thzface.embedder.adapt import adapt_embedder, adapt_weights
from thzface.embedder.frozen import FrozenEmbedder, identity_similarity, load_embedder
from thzface.embedder.predictor import (
    SPECS,
    EmbedderOptions,
    Predictor,
    open_embedder,
    predict,
    verify,
    verify_sets,
)

__all__ = [
    "adapt_embedder",
    "adapt_weights",
    "SPECS",
    "EmbedderOptions",
    "FrozenEmbedder",
    "Predictor",
    "identity_similarity",
    "load_embedder",
    "open_embedder",
    "predict",
    "verify",
    "verify_sets",
]
