"""Contact sheet of a dataset: a few identities x the five postures, each identity as rows THz concealed, THz
unconcealed, clean target (and visible concealed / unconcealed when written) of sample 1, read back from the
written files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from thzface.config import atomic_write_bytes
from thzface.data.naming import NUM_POSTURES, POSTURES, format_name
from thzface.sim.io import png_bytes

STATES = (
    ("thz", True, "THz b"),
    ("thz", False, "THz n"),
    ("clean", False, "clean"),
    ("visible", True, "vis b"),
    ("visible", False, "vis n"),
)


def _tile(path: Path, size: int) -> np.ndarray:
    if not path.is_file():
        return np.zeros((size, size, 3), np.uint8)
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.NEAREST))


def contact_sheet(folder: Path, identities: list[str], image_size: int, rows: int = 4, sample: str = "1") -> np.ndarray:
    """(H, W, 3) uint8 sheet: columns are postures; per identity one row per state in STATES that was written."""
    states = [st for st in STATES if any((folder / st[0]).glob("*.png"))]
    t = image_size * max(1, 128 // image_size)
    gap, left, top = 3, 96, 16
    ids = identities[:rows]
    sheet = Image.new(
        "RGB", (left + NUM_POSTURES * (t + gap), top + len(ids) * (len(states) * t + 2 * gap)), (30, 30, 30)
    )
    draw = ImageDraw.Draw(sheet)
    for p in range(NUM_POSTURES):
        draw.text((left + p * (t + gap) + 4, 2), POSTURES[p], fill=(230, 230, 230))
    for r, ident in enumerate(ids):
        y0 = top + r * (len(states) * t + 2 * gap)
        for j, (sub, concealed, tag) in enumerate(states):
            draw.text((4, y0 + j * t + t // 2 - 6), f"{ident} {tag}", fill=(230, 230, 230))
            for p in range(NUM_POSTURES):
                tile = _tile(folder / sub / format_name(ident, p, concealed, sample), t)
                sheet.paste(Image.fromarray(tile), (left + p * (t + gap), y0 + j * t))
    return np.asarray(sheet)


def write_contact_sheet(folder: str | Path, identities: list[str], image_size: int) -> Path:
    folder = Path(folder)
    path = folder / "contact_sheet.png"
    atomic_write_bytes(path, png_bytes(contact_sheet(folder, identities, image_size)))
    return path
