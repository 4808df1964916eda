"""check_dataset: a clean folder has no problems; each defect gives its expected line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thzface.data.check import Problem, check_dataset
from thzface.data.split import write_split


def _lines(root: Path, **kw) -> list[str]:
    return [str(p) for p in check_dataset(root, **kw)]


def test_clean_folder(make_ds) -> None:
    root = make_ds(visible=True)
    write_split(root, protocol="mixed", seed=0)
    (root / "aux").mkdir()
    np.savez(root / "aux" / "ida_b1b_0.npz", garment_mask=np.zeros((16, 16), np.uint8))
    assert check_dataset(root) == []


def test_missing_folders(tmp_path: Path) -> None:
    assert _lines(tmp_path / "nope") == [f"{tmp_path}/nope: dataset folder not found"]
    (tmp_path / "ds").mkdir()
    assert _lines(tmp_path / "ds") == [f"{tmp_path}/ds/thz: folder not found (the THz scans belong in DIR/thz/)"]
    (tmp_path / "ds" / "thz").mkdir()
    assert _lines(tmp_path / "ds") == [f"{tmp_path}/ds/thz: no valid .png scans"]


def _corrupt(thz: Path) -> None:
    (thz / "ida_b1b_0.png").write_bytes(b"garbage")


def _truncate(thz: Path) -> None:
    data = (thz / "ida_b1b_0.png").read_bytes()
    (thz / "ida_b1b_0.png").write_bytes(data[: len(data) // 2])


def _cmyk(thz: Path) -> None:
    Image.new("CMYK", (16, 16)).save(thz / "ida_b1b_0.png", format="TIFF")


def _big(thz: Path) -> None:
    Image.new("L", (4100, 4)).save(thz / "ida_b1b_0.png")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_corrupt, "not a readable image (unknown or corrupt format)"),
        (_truncate, "truncated image data"),
        (_cmyk, "unsupported image mode 'CMYK'"),
        (_big, "image is 4100x4, larger than 4096 px"),
    ],
)
def test_bad_images(make_ds, damage, message: str) -> None:
    root = make_ds()
    damage(root / "thz")
    problems = check_dataset(root)
    assert any(str(p).startswith(f"{root}/thz/ida_b1b_0.png: {message}") for p in problems), problems
    assert any(p.level == "error" for p in problems)


def test_names_counterparts_sizes_and_strays(make_ds) -> None:
    root = make_ds()
    thz = root / "thz"
    (thz / "ida_n1n_0.png").unlink()
    (thz / "idb_b1b_0.png").rename(thz / "idb_b9b_0.png")
    (thz / "notes.txt").write_text("x")
    (thz / "idc_b2b_0.png").rename(thz / "idc_b2b_0.PNG")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(thz / "idc_b1b_0.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8) + np.array([255, 0, 0], np.uint8)).save(thz / "idd_b1b_0.png")
    lines = _lines(root)
    assert f"{thz}/idb_b9b_0.png: posture code 9 out of range 1..5" in lines
    assert f"{thz}/notes.txt: warning: not a .png file; ignored" in lines
    assert f"{thz}/idc_b2b_0.PNG: suffix .PNG: rename to lower-case .png (names are exact)" in lines
    assert f"{thz}/ida_b1b_0.png: warning: concealed scan without its unconcealed counterpart ida_n1n_0.png" in lines
    assert f"{thz}/idb_n1n_0.png: warning: unconcealed scan without its concealed counterpart idb_b1b_0.png" in lines
    assert f"{thz}: warning: mixed image sizes: 16x16 (n=115), 8x8 (n=2); all are resized at load" in lines
    assert f"{thz}/idd_b1b_0.png: warning: colour image (RGB); converted to grayscale by luma" in lines


def test_too_few_samples_and_visible_without_thz(make_ds) -> None:
    root = make_ds(identities=("ida", "idb"), postures=1, samples=1, visible=True)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "visible" / "idz_b1b_0.png")
    lines = _lines(root)
    msg = "concealed scans; at least 2 needed (genuine pairs, closed-set holdout)"
    assert f"{root}/thz: identity 'ida' has 1 {msg}" in lines
    assert f"{root}/visible/idz_b1b_0.png: warning: no THz scan thz/idz_b1b_0.png with this name" in lines
    assert not any("identity 'ida'" in line for line in _lines(root, min_concealed=1))


def test_csv_problems(make_ds) -> None:
    root = make_ds()
    (root / "a.csv").write_text("anchor,positive\nida_b1b_0.png,ida_n1n_0.png\n")
    (root / "b.csv").write_text(
        "anchor,positive,negative\nida_b1b_0.png,ida_n1n_0.png,../idb_b1b_0.png\n"
        "ida_b1b_0.png,ida_n1n_0.png,idb_b1b_7.png\n"
    )
    (root / "c.csv").write_bytes("anchor,positive,negative\né\n".encode("latin-1"))
    lines = _lines(root)
    assert f"{root}/a.csv: missing column 'negative' (header: anchor,positive)" in lines
    assert (
        f"{root}/b.csv:2: column negative: '../idb_b1b_0.png' points outside the dataset folder (use a bare file name)"
    ) in lines
    assert f"{root}/b.csv:3: column negative: thz/idb_b1b_7.png does not exist" in lines
    assert any(line.startswith(f"{root}/c.csv: not UTF-8 text") for line in lines)
    assert _lines(root, csv="a.csv") == [f"{root}/a.csv: missing column 'negative' (header: anchor,positive)"]


def test_meta_and_problem_str(make_ds) -> None:
    root = make_ds()
    (root / "meta.json").write_text("{not json")
    assert any(line.startswith(f"{root}/meta.json: not valid JSON") for line in _lines(root))
    assert str(Problem("x.png", "bad", "warning")) == "x.png: warning: bad"
    assert str(Problem("x.png", "bad")) == "x.png: bad"
