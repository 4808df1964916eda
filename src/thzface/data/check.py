"""``thzface data check``: find every problem in a dataset folder and report each as one ``path: message`` line.

Errors stop training or evaluation from running correctly; warnings are tolerated (the loader has a rule for
them) but worth a look. Levels:

* error — no ``thz/`` or no valid scans in it; a file name that does not parse; an unreadable, truncated,
  empty, oversized (> 4096 px or > 20 MB) or unsupported-mode image; an identity with fewer than
  ``min_concealed`` concealed scans; an invalid ``meta.json``; a CSV that is not UTF-8, lacks a column, has a
  malformed row, names a missing file or a path outside the folder.
* warning — stray non-PNG files or subfolders; mixed image sizes; non-square or colour THz images; a scan
  without its concealed/unconcealed counterpart; ``visible/``/``clean/``/``aux/`` files without a THz scan;
  CSV rows whose positive is not the anchor's counterpart; unknown CSV columns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thzface.data.csv import CsvError, scan_triplets
from thzface.data.io import ImageError, open_image
from thzface.data.naming import ImageName, NameError_, parse_name
from thzface.data.twins import read_twins


@dataclass(frozen=True)
class Problem:
    path: str  # file or folder the problem is about (``file:line`` for CSV rows)
    message: str  # one line
    level: str = "error"  # error | warning

    def __str__(self) -> str:
        return f"{self.path}: {'warning: ' if self.level == 'warning' else ''}{self.message}"


def _strip(message: str, prefix: str | Path) -> str:
    """Drop a leading ``prefix: `` (library messages name the file; Problem.path already does)."""
    head = f"{prefix}: "
    return message[len(head) :] if message.startswith(head) else message


def _scan_dir(folder: Path, problems: list[Problem], ext: str = ".png") -> dict[str, ImageName]:
    """Parse the names of ``folder``'s ``ext`` files; stray entries are warnings, bad names errors."""
    parsed: dict[str, ImageName] = {}
    for p in sorted(folder.iterdir()):
        if p.is_dir():
            problems.append(Problem(str(p), "subfolder ignored", "warning"))
        elif p.suffix.lower() != ext:
            problems.append(Problem(str(p), f"not a {ext} file; ignored", "warning"))
        elif p.suffix != ext:
            problems.append(Problem(str(p), f"suffix {p.suffix}: rename to lower-case {ext} (names are exact)"))
        else:
            try:
                parsed[p.name] = parse_name(p.stem + ".png")
            except NameError_ as e:
                problems.append(Problem(str(p), _strip(str(e), p.stem + ".png")))
    return parsed


def _check_image(path: Path, problems: list[Problem], grayscale: bool) -> tuple[int, int] | None:
    """Decode one image; returns its size (w, h) or None when it cannot be used."""
    try:
        im = open_image(path)
    except ImageError as e:
        problems.append(Problem(str(path), _strip(str(e), path)))
        return None
    w, h = im.size
    if w != h:
        problems.append(Problem(str(path), f"image is {w}x{h}, not square (centre-cropped at load)", "warning"))
    if grayscale and im.mode in ("RGB", "RGBA", "P", "PA"):
        rgb = np.asarray(im.convert("RGB"), dtype=np.int16)  # (H, W, 3)
        if np.abs(rgb - rgb[..., :1]).max() > 0:
            problems.append(Problem(str(path), f"colour image ({im.mode}); converted to grayscale by luma", "warning"))
    return w, h


def _check_thz(thz: Path, min_concealed: int, problems: list[Problem]) -> dict[str, ImageName]:
    parsed = _scan_dir(thz, problems)
    sizes: Counter[tuple[int, int]] = Counter()
    good: dict[str, ImageName] = {}
    for name, n in parsed.items():
        size = _check_image(thz / name, problems, grayscale=True)
        if size is not None:
            sizes[size] += 1
            good[name] = n
    if not good:
        problems.append(Problem(str(thz), "no valid .png scans"))
        return good
    if len(sizes) > 1:
        listed = ", ".join(f"{w}x{h} (n={c})" for (w, h), c in sizes.most_common())
        problems.append(Problem(str(thz), f"mixed image sizes: {listed}; all are resized at load", "warning"))
    names = set(good.values())
    for name, n in good.items():
        if n.counterpart() not in names:
            state = (
                "concealed scan without its unconcealed" if n.concealed else "unconcealed scan without its concealed"
            )
            problems.append(Problem(str(thz / name), f"{state} counterpart {n.counterpart().filename}", "warning"))
    concealed = Counter(n.identity for n in names if n.concealed)
    for identity in sorted({n.identity for n in names}):
        if concealed[identity] < min_concealed:
            problems.append(
                Problem(
                    str(thz),
                    f"identity {identity!r} has {concealed[identity]} concealed scans; "
                    f"at least {min_concealed} needed (genuine pairs, closed-set holdout)",
                )
            )
    return good


def _check_extra(folder: Path, thz_names: set[str], problems: list[Problem], ext: str, images: bool) -> None:
    """``visible/``, ``clean/`` (images) or ``aux/`` (.npz): readable, named like a THz scan that exists."""
    for name in _scan_dir(folder, problems, ext):
        png = Path(name).stem + ".png"
        if png not in thz_names:
            problems.append(Problem(str(folder / name), f"no THz scan thz/{png} with this name", "warning"))
        if images:
            _check_image(folder / name, problems, grayscale=False)


def _check_csv(path: Path, root: Path, problems: list[Problem]) -> None:
    try:
        _, found = scan_triplets(path, root)
    except CsvError as e:
        problems.append(Problem(str(path), _strip(str(e), path)))
        return
    problems.extend(Problem(f"{path}:{p.line}", p.message, p.level) for p in found)


def check_dataset(root: str | Path, csv: str | Path | None = None, min_concealed: int = 2) -> list[Problem]:
    """Every problem in dataset folder ``root``; ``csv`` = one CSV to check (relative to root or absolute),
    None = every ``*.csv`` directly in root. An empty list means the folder is clean."""
    root = Path(root)
    if not root.is_dir():
        return [Problem(str(root), "dataset folder not found")]
    thz = root / "thz"
    if not thz.is_dir():
        return [Problem(str(thz), "folder not found (the THz scans belong in DIR/thz/)")]
    problems: list[Problem] = []
    names = set(_check_thz(thz, min_concealed, problems))
    for sub, ext, images in (("visible", ".png", True), ("clean", ".png", True), ("aux", ".npz", False)):
        if (root / sub).is_dir():
            _check_extra(root / sub, names, problems, ext, images)
    try:
        read_twins(root)
    except ValueError as e:
        problems.append(Problem(str(root / "meta.json"), _strip(str(e), root / "meta.json")))
    if csv is not None:
        path = Path(csv) if Path(csv).is_absolute() else root / csv
        _check_csv(path, root, problems)
    else:
        for path in sorted(root.glob("*.csv")):
            _check_csv(path, root, problems)
    return problems
