"""People two dataset folders share, found by geometry: identities whose face-model shape coefficients in
``identities.json`` coincide, whatever their names.

``identities.json`` ({identity: {"shape": [...], "traits": {...}}}) is written by every ``thzface synth``. Two
identities are one person when their shape vectors have the same length (the same face model) and differ by at
most ``tol`` in every coefficient; twins (a shape offset of 10-15 % of the mean identity distance) do not match.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

IDENTITIES_FILE = "identities.json"
TOL = 1e-6  # largest coefficient difference of one person written twice (JSON keeps float64 exactly)


@dataclass(frozen=True)
class SharedPerson:
    """One person found in both folders."""

    a: str  # identity token in folder A
    b: str  # identity token in folder B
    distance: float  # largest absolute shape-coefficient difference


def read_identities(folder: str | Path, field: str, convert: Callable[[Any], Any]) -> dict[str, Any]:
    """{identity: convert(entry[field])} from ``folder/identities.json`` (the one reader of that file: shapes here,
    shapes and sites for training in :mod:`thzface.data.geometry`); ValueError / FileNotFoundError in one line."""
    path = Path(folder) / IDENTITIES_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (written by `thzface synth`; real folders have none)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): convert(v[field]) for k, v in data.items()}
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError, ValueError) as e:
        raise ValueError(f"{path}: not an identities file ({type(e).__name__}: {e})") from None


def read_shapes(folder: str | Path) -> dict[str, np.ndarray]:
    """{identity: shape vector} from ``folder/identities.json``; ValueError / FileNotFoundError in one line."""
    path = Path(folder) / IDENTITIES_FILE
    shapes = read_identities(folder, "shape", lambda v: np.asarray(v, dtype=np.float64))
    bad = [k for k, v in shapes.items() if v.ndim != 1 or not len(v) or not np.isfinite(v).all()]
    if bad:
        raise ValueError(f"{path}: identity {bad[0]!r} has no finite 1-D shape vector")
    return shapes


def shared_people(a: dict[str, np.ndarray], b: dict[str, np.ndarray], tol: float = TOL) -> list[SharedPerson]:
    """Every pair (identity of ``a``, identity of ``b``) whose shapes match within ``tol`` (max norm), sorted."""
    out: list[SharedPerson] = []
    for n in sorted({len(v) for v in a.values()} & {len(v) for v in b.values()}):
        ka, kb = [k for k, v in a.items() if len(v) == n], [k for k, v in b.items() if len(v) == n]
        tree = cKDTree(np.stack([b[k] for k in kb]))  # (Nb, n)
        hits = tree.query_ball_point(np.stack([a[k] for k in ka]), r=tol, p=np.inf)  # per row of A: rows of B
        for i, js in enumerate(hits):
            for j in js:
                out.append(SharedPerson(ka[i], kb[j], float(np.abs(a[ka[i]] - b[kb[j]]).max())))
    return sorted(out, key=lambda s: (s.a, s.b))


def folder_overlap(folder_a: str | Path, folder_b: str | Path, tol: float = TOL) -> list[SharedPerson]:
    """People of ``folder_a`` who are also in ``folder_b`` (by geometry from both identities.json files)."""
    return shared_people(read_shapes(folder_a), read_shapes(folder_b), tol)
