"""Evaluation with the scanner adapted, honestly: ``thzface eval SRC --data DIR --adapt site``.

The model's BatchNorm statistics are re-estimated on unlabeled scans of the scanner being scored
(:func:`thzface.embedder.adapt.adapt_embedder`), cross-fitted by people so that no person's own scans adapt the model
that embeds them: inside every site (one in a one-scanner folder), the people are halved at random (``seed``); each
half is collected by the model adapted on the other half's concealed and unconcealed scans. No identity label is
read. What a lab does once per scanner (``thzface adapt``), with its own scans of other people.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from thzface.config import Config
from thzface.data.csv import TripletRow
from thzface.data.geometry import person_sites
from thzface.embedder.adapt import adapt_embedder, capture_scans
from thzface.models.multitask import MultiTaskModel


def halves(rows: list[TripletRow], sites: dict[str, str] | None, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per site, (rows to collect, rows to adapt on) twice: the site's people halved at random (``seed``), each half
    scored by the other's scans. ValueError naming the site when it holds fewer than 2 people."""
    ids = np.array([r.anchor_name.identity for r in rows])
    site = np.array([(sites or {}).get(i, "") for i in ids])
    rng = np.random.default_rng(seed)
    out = []
    for s in sorted(set(site.tolist())):
        people = rng.permutation(np.unique(ids[site == s]))
        if len(people) < 2:
            raise ValueError(f"site {s or 0!r}: {len(people)} person; cross-fitted adaptation needs >= 2 people")
        a = np.isin(ids, people[: len(people) // 2]) & (site == s)
        b = np.isin(ids, people[len(people) // 2 :]) & (site == s)
        out += [(np.flatnonzero(a), np.flatnonzero(b)), (np.flatnonzero(b), np.flatnonzero(a))]
    return out


def merge(parts: list[dict], order: np.ndarray) -> dict:
    """Collected dicts of disjoint row subsets, concatenated and put back in the rows' order (``order``: the row
    index of every concatenated entry); lists and arrays per key, None where every part has None."""
    inv = np.argsort(order)
    out: dict = {}
    for k in parts[0]:
        vals = [p[k] for p in parts]
        if all(v is None for v in vals):
            out[k] = None
        elif isinstance(vals[0], list):
            cat = [x for v in vals for x in v]
            out[k] = [cat[i] for i in inv]
        else:
            out[k] = np.concatenate(vals)[inv]
    return out


def collect_site_adapted(
    collect: Callable[[MultiTaskModel, Config, Path, list[TripletRow]], dict],
    model: MultiTaskModel,
    cfg: Config,
    root: Path,
    rows: list[TripletRow],
    seed: int = 0,
) -> dict:
    """``collect`` over ``rows`` with the cross-fitted, per-site adapted models (the module docstring)."""
    parts, order = [], []
    for score_idx, adapt_idx in halves(rows, person_sites(root), seed):
        net = adapt_embedder(model, capture_scans(root, [rows[i] for i in adapt_idx]), cfg.data.image_size, seed)
        parts.append(collect(net, cfg, root, [rows[i] for i in score_idx]))
        order.append(score_idx)
    return merge(parts, np.concatenate(order))
