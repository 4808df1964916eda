"""Triplet CSVs: read and validate ``anchor,positive,negative[,visible_*]`` rows; write them atomically.

Validation rules (errors raise :class:`CsvError`; warnings go through :mod:`warnings` as :class:`CsvWarning`):

* the file is UTF-8 (a UTF-8 BOM is accepted); it has a header and at least one row;
* columns ``anchor``, ``positive``, ``negative`` are present; ``visible_concealed``, ``visible_unconcealed``,
  ``visible_negative`` are optional and their cells may be empty; unknown columns are a warning;
* every non-empty cell is a bare seed file name (:mod:`thzface.data.naming`); absolute paths and ``..`` are
  refused as pointing outside the dataset folder;
* the anchor is concealed; the positive is unconcealed and of the anchor's identity (error otherwise); a
  positive of another posture or sample than the anchor's counterpart is a **warning** (the reconstruction
  target is then not pixel-aligned, yet the row still serves verification); the negative is of another
  identity (error) and concealed (warning otherwise);
* the files exist in ``root/thz/`` (visible cells in ``root/visible/``).
"""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from thzface.config import atomic_write_text
from thzface.data.naming import ImageName, NameError_, parse_name

REQUIRED = ("anchor", "positive", "negative")
VISIBLE = ("visible_concealed", "visible_unconcealed", "visible_negative")
COLUMNS = REQUIRED + VISIBLE


class CsvError(ValueError):
    """A triplet CSV is malformed or points at files that are not there."""


class CsvWarning(UserWarning):
    """A triplet CSV row is usable but suspicious (e.g. a positive that is not the anchor's counterpart)."""


@dataclass(frozen=True)
class CsvProblem:
    line: int  # 1-based line in the file (0: the file as a whole)
    message: str  # one line, without the file prefix
    level: str = "error"  # error | warning


@dataclass(frozen=True)
class TripletRow:
    anchor: str  # concealed THz scan, file name in thz/
    positive: str  # unconcealed counterpart (same identity, posture, sample), file name in thz/
    negative: str  # concealed THz scan of another identity, file name in thz/
    visible_concealed: str | None = None  # visible image of the anchor (in visible/), None when absent
    visible_unconcealed: str | None = None  # visible image of the positive, None when absent
    visible_negative: str | None = None  # visible image of the negative, None when absent
    line: int = field(default=0, compare=False)  # line in the source CSV (0 when built in code), for messages
    anchor_name: ImageName = field(init=False, compare=False)  # parsed anchor
    positive_name: ImageName = field(init=False, compare=False)  # parsed positive
    negative_name: ImageName = field(init=False, compare=False)  # parsed negative

    def __post_init__(self) -> None:
        for col in REQUIRED:
            object.__setattr__(self, f"{col}_name", parse_name(getattr(self, col)))

    @property
    def visible(self) -> tuple[str | None, str | None, str | None]:
        return (self.visible_concealed, self.visible_unconcealed, self.visible_negative)


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise CsvError(f"{path}: file not found") from e
    except OSError as e:
        raise CsvError(f"{path}: cannot read ({e.strerror or e})") from e
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvError(f"{path}: file is UTF-16; save the CSV as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CsvError(
            f"{path}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); save the CSV as UTF-8"
        ) from e


def _cell_problem(value: str, col: str) -> str | None:
    """Why a cell is not a usable bare file name, or None."""
    if (
        PurePosixPath(value).is_absolute()
        or PureWindowsPath(value).is_absolute()
        or ".." in value.replace("\\", "/").split("/")
    ):
        return f"column {col}: {value!r} points outside the dataset folder (use a bare file name)"
    try:
        parse_name(value)
    except NameError_ as e:
        return f"column {col}: {e}"
    return None


def _row_problems(row: TripletRow) -> list[tuple[str, str]]:
    """Semantic problems of one row as (level, message)."""
    a, p, n = row.anchor_name, row.positive_name, row.negative_name
    out: list[tuple[str, str]] = []
    if not a.concealed:
        out.append(("error", f"anchor {row.anchor} is not a concealed (b<p>b) scan"))
    if p.concealed:
        out.append(("error", f"positive {row.positive} is not an unconcealed (n<p>n) scan"))
    if p.identity != a.identity:
        out.append(("error", f"positive {row.positive} is not of the anchor's identity {a.identity!r}"))
    elif (p.posture, p.sample) != (a.posture, a.sample):
        out.append(("warning", f"positive {row.positive} is not the counterpart of anchor {row.anchor}"))
    if n.identity == a.identity:
        out.append(("error", f"negative {row.negative} has the anchor's identity {a.identity!r}"))
    if not n.concealed:
        out.append(("warning", f"negative {row.negative} is not a concealed scan"))
    return out


def scan_triplets(
    csv_path: str | Path, root: str | Path, visible: bool = True
) -> tuple[list[TripletRow], list[CsvProblem]]:
    """Read ``csv_path`` and collect every problem; rows with an error are left out of the returned rows.
    ``visible=False``: the visible columns are ignored (read as absent, their files not required).

    File-level failures (missing file, encoding, empty, missing columns) raise :class:`CsvError` at once.
    """
    csv_path, root = Path(csv_path), Path(root)
    text = _decode(csv_path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvError(f"{csv_path}: empty CSV (no header)") from None
    except csv.Error as e:
        raise CsvError(f"{csv_path}:1: malformed CSV ({e})") from e
    header = [h.strip() for h in header]
    for col in REQUIRED:
        if col not in header:
            raise CsvError(f"{csv_path}: missing column {col!r} (header: {','.join(header)})")
    problems = [CsvProblem(1, f"unknown column {h!r} ignored", "warning") for h in header if h not in COLUMNS]
    index = {c: header.index(c) for c in COLUMNS if c in header and (visible or c not in VISIBLE)}
    rows: list[TripletRow] = []
    thz, vis = root / "thz", root / "visible"
    nrows = 0
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank line
            nrows += 1
            if len(cells) != len(header):
                problems.append(CsvProblem(line, f"expected {len(header)} fields, found {len(cells)}"))
                continue
            values = {c: cells[i].strip() for c, i in index.items()}
            errs = []
            for col, value in values.items():
                if not value:
                    if col in REQUIRED:
                        errs.append(f"column {col}: empty cell")
                    continue
                bad = _cell_problem(value, col)
                if bad is None and not ((vis if col in VISIBLE else thz) / value).is_file():
                    where = "visible" if col in VISIBLE else "thz"
                    bad = f"column {col}: {where}/{value} does not exist"
                if bad:
                    errs.append(bad)
            if errs:
                problems.extend(CsvProblem(line, m) for m in errs)
                continue
            row = TripletRow(**{c: values.get(c) or None for c in COLUMNS}, line=line)  # type: ignore[arg-type]
            semantic = _row_problems(row)
            problems.extend(CsvProblem(line, m, lvl) for lvl, m in semantic)
            if all(lvl == "warning" for lvl, _ in semantic):
                rows.append(row)
    except csv.Error as e:
        problems.append(CsvProblem(reader.line_num, f"malformed CSV ({e})"))
    if nrows == 0:
        raise CsvError(f"{csv_path}: no rows below the header")
    return rows, problems


def read_triplets(csv_path: str | Path, root: str | Path, visible: bool = True) -> list[TripletRow]:
    """Read and validate a triplet CSV whose file names live in ``root/thz`` (and ``root/visible``; with
    ``visible=False`` the visible columns are ignored, for inference that reads THz images only).

    Raises :class:`CsvError` on the first error (``file:line: problem``, with a count of further errors);
    warnings are issued as :class:`CsvWarning`.
    """
    rows, problems = scan_triplets(csv_path, root, visible)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more errors; run `thzface data check DIR`)" if len(errors) > 1 else ""
        raise CsvError(f"{csv_path}:{errors[0].line}: {errors[0].message}{more}")
    for p in problems:
        warnings.warn(f"{csv_path}:{p.line}: {p.message}", CsvWarning, stacklevel=2)
    return rows


def write_triplets(rows: list[TripletRow], path: str | Path) -> None:
    """Write rows as a UTF-8 CSV (visible columns only when some row has one), atomically."""
    with_visible = any(any(v is not None for v in r.visible) for r in rows)
    cols = COLUMNS if with_visible else REQUIRED
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for r in rows:
        writer.writerow([getattr(r, c) or "" for c in cols])
    atomic_write_text(path, buf.getvalue())


def training_identities(root: Path, csv_name: str) -> set[str]:
    """Identities of the anchors of ``root/csv_name`` (empty when the file is absent): what makes a test row
    closed-set. Visible columns are not read."""
    path = Path(root) / csv_name
    return {r.anchor_name.identity for r in read_triplets(path, root, visible=False)} if path.is_file() else set()
