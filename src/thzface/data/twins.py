"""Twins: the ``twins`` entry of a folder's meta.json (a mapping or a list of pairs), normalised to a symmetric map.
Splits keep a pair on one side; the twin metrics score a twin as the hardest impostor."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path


def normalize_twins(twins: Mapping[str, str] | Iterable[Sequence[str]] | None) -> dict[str, str]:
    """``{a: b}`` or ``[[a, b], ...]`` → symmetric ``{a: b, b: a}``; ValueError on self-twins or conflicts."""
    pairs = list(twins.items()) if isinstance(twins, Mapping) else [tuple(p) for p in (twins or [])]
    out: dict[str, str] = {}
    for pair in pairs:
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ValueError(f"twins: {list(pair)!r} is not a pair of two different identities")
        a, b = str(pair[0]), str(pair[1])
        for x, y in ((a, b), (b, a)):
            if out.get(x, y) != y:
                raise ValueError(f"twins: identity {x!r} is paired with both {out[x]!r} and {y!r}")
            out[x] = y
    return out


def read_twins(root: str | Path) -> dict[str, str]:
    """The ``twins`` entry of ``root/meta.json`` (mapping or list of pairs), normalised; {} when absent."""
    path = Path(root) / "meta.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e
    try:
        return normalize_twins(meta.get("twins") if isinstance(meta, dict) else None)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e
