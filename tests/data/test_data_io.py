"""load_image / save_png_atomic: modes, resize rule and one-line errors naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thzface.data.io import ImageError, load_image, save_png_atomic


def _gray(path: Path, size: int = 16, seed: int = 0) -> np.ndarray:
    a = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)
    Image.fromarray(a).save(path)
    return a


def test_load_gray_exact_values(tmp_path: Path) -> None:
    a = _gray(tmp_path / "x.png")
    out = load_image(tmp_path / "x.png", 16)
    assert out.shape == (1, 16, 16) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], a / 255.0, atol=1e-7)


def test_rgb_saved_gray_equals_gray_and_three_channels(tmp_path: Path) -> None:
    a = _gray(tmp_path / "g.png")
    Image.fromarray(a).convert("RGB").save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.png", 16), load_image(tmp_path / "g.png", 16))
    three = load_image(tmp_path / "g.png", 16, channels=3)
    assert three.shape == (3, 16, 16)
    np.testing.assert_array_equal(three[0], three[2])


def test_sixteen_bit_and_palette(tmp_path: Path) -> None:
    Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)).save(tmp_path / "i16.png")
    assert load_image(tmp_path / "i16.png", 8).min() == pytest.approx(1.0)
    Image.fromarray(np.full((8, 8), 51, dtype=np.uint8)).convert("P").save(tmp_path / "p.png")
    np.testing.assert_allclose(load_image(tmp_path / "p.png", 8), 0.2, atol=1e-6)


def test_resize_bicubic_within_range(tmp_path: Path) -> None:
    _gray(tmp_path / "x.png", size=32)
    out = load_image(tmp_path / "x.png", 16)
    assert out.shape == (1, 16, 16)
    assert out.min() >= 0.0 and out.max() <= 1.0
    flat = np.full((32, 32), 128, np.uint8)
    Image.fromarray(flat).save(tmp_path / "flat.png")
    np.testing.assert_allclose(load_image(tmp_path / "flat.png", 16), 128 / 255, atol=1e-5)


def test_non_square_center_crop_and_strict(tmp_path: Path) -> None:
    a = np.zeros((8, 16), np.uint8)
    a[:, 4:12] = 255
    Image.fromarray(a).save(tmp_path / "wide.png")
    np.testing.assert_allclose(load_image(tmp_path / "wide.png", None), 1.0)  # centre 8x8 is the white part
    with pytest.raises(ImageError, match=r"wide\.png: image is 16x8, expected a square image"):
        load_image(tmp_path / "wide.png", 8, strict_square=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        (b"", r"empty file \(0 bytes\)"),
        (b"this is not an image at all", r"not a readable image \(unknown or corrupt format\)"),
    ],
)
def test_file_errors(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageError, match=rf"^{tmp_path}/bad\.png: {message}"):
        load_image(path, 16)


def test_truncated(tmp_path: Path) -> None:
    _gray(tmp_path / "x.png")
    data = (tmp_path / "x.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"t\.png: truncated image data"):
        load_image(tmp_path / "t.png", 16)


def test_unsupported_mode_and_oversized(tmp_path: Path) -> None:
    Image.new("CMYK", (8, 8)).save(tmp_path / "c.png", format="TIFF")
    with pytest.raises(ImageError, match=r"c\.png: unsupported image mode 'CMYK'"):
        load_image(tmp_path / "c.png", 8)
    Image.new("L", (4097, 2)).save(tmp_path / "big.png")
    with pytest.raises(ImageError, match=r"big\.png: image is 4097x2, larger than 4096 px"):
        load_image(tmp_path / "big.png", 8)


def test_oversized_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _gray(tmp_path / "x.png")
    monkeypatch.setattr("thzface.data.io.MAX_BYTES", 100)
    with pytest.raises(ImageError, match=r"x\.png: file is [0-9.]+ MB, larger than"):
        load_image(tmp_path / "x.png", 16)


def test_save_png_atomic_round_trip(tmp_path: Path) -> None:
    a = np.random.default_rng(1).random((1, 16, 16)).astype(np.float32)
    save_png_atomic(a, tmp_path / "sub" / "x.png")
    back = load_image(tmp_path / "sub" / "x.png", None)
    np.testing.assert_allclose(back, np.round(a * 255) / 255, atol=1e-6)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["x.png"]  # no temp file left
    with pytest.raises(ValueError, match=r"x2\.png: float values must lie in \[0, 1\]"):
        save_png_atomic(a + 2, tmp_path / "x2.png")
    assert not (tmp_path / "x2.png").exists()


def test_aux_arrays_of_the_unconcealed_scan(tmp_path: Path) -> None:
    from thzface.data.io import aux_key, read_aux_array

    v2, v1 = tmp_path / "v2.npz", tmp_path / "v1.npz"
    np.savez(v2, part_boxes=np.zeros((5, 4)), part_boxes_unconcealed=np.ones((5, 4)), face_mask=np.ones((4, 4)))
    np.savez(v1, part_boxes=np.zeros((5, 4)))
    assert read_aux_array(v2, "part_boxes", unconcealed=True).sum() == 20  # its own pose
    assert read_aux_array(v2, "part_boxes").sum() == 0  # the concealed scan's
    assert read_aux_array(v1, "part_boxes", unconcealed=True).sum() == 0  # older worlds: one pose for both
    assert aux_key("face_mask", ["face_mask"], unconcealed=True) == "face_mask"
    assert aux_key("landmarks", ["part_boxes"], unconcealed=True) is None
