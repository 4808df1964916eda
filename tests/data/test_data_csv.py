"""read_triplets / write_triplets: columns, visible cells, and every error message with its line."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from thzface.data.csv import CsvError, CsvWarning, TripletRow, read_triplets, write_triplets

A, P, N = "ida_b1b_0.png", "ida_n1n_0.png", "idb_b1b_0.png"
H = "anchor,positive,negative\n"


def _write(root: Path, text: str, name: str = "t.csv", encoding: str = "utf-8") -> Path:
    path = root / name
    path.write_bytes(text.encode(encoding))
    return path


def test_read_without_visible(make_ds) -> None:
    root = make_ds()
    rows = read_triplets(
        _write(root, f"anchor,positive,negative\n{A},{P},{N}\nidc_b2b_1.png,idc_n2n_1.png,{N}\n"), root
    )
    assert len(rows) == 2
    assert rows[0].anchor_name.identity == "ida" and rows[0].negative_name.identity == "idb"
    assert rows[1].anchor_name.posture == 1 and rows[1].visible == (None, None, None)
    assert rows[1].line == 3


def test_read_with_visible_and_empty_cells(make_ds) -> None:
    root = make_ds(visible=True)
    text = (
        "anchor,positive,negative,visible_concealed,visible_unconcealed,visible_negative\n"
        f"{A},{P},{N},{A},{P},{N}\n"
        f"{A},{P},{N},{A},,\n"
    )
    rows = read_triplets(_write(root, text, encoding="utf-8-sig"), root)  # a BOM is fine
    assert rows[0].visible == (A, P, N)
    assert rows[1].visible == (A, None, None)


def test_write_round_trip(make_ds) -> None:
    root = make_ds(visible=True)
    rows = [TripletRow(A, P, N), TripletRow(A, P, N, A, None, N)]
    write_triplets(rows, root / "out.csv")
    text = (root / "out.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "anchor,positive,negative,visible_concealed,visible_unconcealed,visible_negative"
    assert read_triplets(root / "out.csv", root) == rows
    write_triplets(rows[:1], root / "plain.csv")
    assert (root / "plain.csv").read_text().splitlines() == ["anchor,positive,negative", f"{A},{P},{N}"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"anchor,positive\n{A},{P}\n", r"t\.csv: missing column 'negative' \(header: anchor,positive\)"),
        ("", r"t\.csv: empty CSV \(no header\)"),
        ("anchor,positive,negative\n", r"t\.csv: no rows below the header"),
        (
            f"anchor,positive,negative\n{A},{P},{N}\nida_b1b_9.png,{P},{N}\n",
            r"t\.csv:3: column anchor: thz/ida_b1b_9\.png does not exist",
        ),
        (
            f"anchor,positive,negative\n../{A},{P},{N}\n",
            r"t\.csv:2: column anchor: '\.\./ida_b1b_0\.png' points outside the dataset folder",
        ),
        (f"{H}{A},/etc/{P},{N}\n", r"t\.csv:2: column positive: '/etc/ida_n1n_0\.png' points outside"),
        (
            f"anchor,positive,negative\n{A},{P},{N}\n{A},{P},idb_b7b_0.png\n",
            r"t\.csv:3: column negative: idb_b7b_0\.png: posture code 7 out of range 1\.\.5",
        ),
        (f"anchor,positive,negative\n{A},{P},{N}\n{A},{P}\n", r"t\.csv:3: expected 3 fields, found 2"),
        (f"anchor,positive,negative\n{P},{A},{N}\n", r"t\.csv:2: anchor ida_n1n_0\.png is not a concealed"),
        (f"{H}{A},idb_n1n_0.png,{N}\n", r"t\.csv:2: positive idb_n1n_0\.png is not of the anchor's"),
        (f"{H}{A},{P},ida_b2b_0.png\n", r"t\.csv:2: negative ida_b2b_0\.png has the anchor's identity"),
        (f"anchor,positive,negative\n{A},,{N}\n", r"t\.csv:2: column positive: empty cell"),
    ],
)
def test_csv_errors(make_ds, text: str, message: str) -> None:
    root = make_ds()
    with pytest.raises(CsvError, match=message):
        read_triplets(_write(root, text), root)


def test_missing_visible_file_and_error_count(make_ds) -> None:
    root = make_ds(visible=False)
    text = f"anchor,positive,negative,visible_concealed\n{A},{P},{N},{A}\n{A},{P},{N},{A}\n"
    msg = r"t\.csv:2: column visible_concealed: visible/ida_b1b_0\.png does not exist \(and 1 more errors"
    with pytest.raises(CsvError, match=msg):
        read_triplets(_write(root, text), root)


def test_bad_encoding(make_ds) -> None:
    root = make_ds()
    path = _write(root, f"anchor,positive,negative\n{A},{P},{N}\n# café\n", encoding="latin-1")
    with pytest.raises(CsvError, match=r"t\.csv: not UTF-8 text \(byte 0xe9 at offset \d+\); save the CSV as UTF-8"):
        read_triplets(path, root)
    path = _write(root, f"anchor,positive,negative\n{A},{P},{N}\n", encoding="utf-16")
    with pytest.raises(CsvError, match=r"t\.csv: file is UTF-16; save the CSV as UTF-8"):
        read_triplets(path, root)


def test_warnings_for_misaligned_positive_and_unknown_column(make_ds) -> None:
    root = make_ds()
    text = f"anchor,positive,negative,extra\n{A},ida_n1n_1.png,{N},x\n"
    with pytest.warns(CsvWarning) as record:
        rows = read_triplets(_write(root, text), root)
    messages = [str(w.message) for w in record]
    assert any("t.csv:1: unknown column 'extra' ignored" in m for m in messages)
    assert any("t.csv:2: positive ida_n1n_1.png is not the counterpart of anchor ida_b1b_0.png" in m for m in messages)
    assert len(rows) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_triplets(_write(root, f"anchor,positive,negative\n{A},{P},{N}\n"), root)  # clean: no warning
