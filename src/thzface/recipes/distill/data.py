"""Data of the ``distill`` recipe: triplet rows whose visible images are the ones the teacher may see.

``data.teacher_visible`` says which visible image goes with each triplet member (anchor, positive, negative):

* ``enrolment`` (default) — the visible image of the member's **unconcealed** capture, ``<id>_n<p>n_<k>``: the
  same person, posture and sample photographed without the garment, as a lab does when it enrols a person. A
  concealed THz scan is never paired with a photograph of the concealed face;
* ``capture`` — the visible image taken with the THz file itself (the CSV's visible columns as they are): for a
  concealed anchor or negative, a photograph of the concealed face.

A member whose chosen image is not in ``visible/`` gets none (its teacher terms are skipped, never fed zeros).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from thzface.config import Config
from thzface.data.csv import TripletRow
from thzface.data.naming import parse_name
from thzface.engine.datamodule import TripletDataModule
from thzface.models.distill_spec import TEACHER_VISIBLE


def unconcealed_visible(name: str, present: set[str]) -> str | None:
    """The visible file of the unconcealed capture of THz file ``name`` (itself when unconcealed), if present."""
    n = parse_name(name)
    vis = n.filename if not n.concealed else n.counterpart().filename
    return vis if vis in present else None


def teacher_visible(cfg: Config) -> str:
    """``data.teacher_visible`` of a distill config (its data section is ``models.distill_spec.DataConfig``)."""
    return str(cfg.data.teacher_visible)  # type: ignore[attr-defined]


def teacher_rows(rows: Sequence[TripletRow], root: Path, how: str) -> list[TripletRow]:
    """``rows`` with the visible columns the teacher reads under ``data.teacher_visible`` = ``how``."""
    if how not in TEACHER_VISIBLE:
        raise ValueError(f"data.teacher_visible: {how!r} is not one of {list(TEACHER_VISIBLE)}")
    if how == "capture":
        return list(rows)
    folder = Path(root) / "visible"
    present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    return [
        dataclasses.replace(
            r,
            visible_concealed=unconcealed_visible(r.anchor, present),
            visible_unconcealed=unconcealed_visible(r.positive, present),
            visible_negative=unconcealed_visible(r.negative, present),
        )
        for r in rows
    ]


class DistillDataModule(TripletDataModule):
    """The triplet data module with the teacher's visible images chosen by ``data.teacher_visible``."""

    def __init__(self, cfg: Config, root: Path):
        super().__init__(cfg, root)
        how = teacher_visible(cfg)
        self.train_rows = teacher_rows(self.train_rows, self.root, how)
        self.val_rows = teacher_rows(self.val_rows, self.root, how)
