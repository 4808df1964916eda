"""Statistics on synthetic images with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from thzface.sim.stats import dataset_statistics, format_statistics, image_statistics, spectrum_slope


def test_sparsity_and_glints():
    img = np.zeros((32, 32))
    img[2:4, 2:4] = 1.0  # blob 1 (4 px)
    img[10, 20] = 0.8  # blob 2
    img[25:27, 5] = 0.9  # blob 3 (2 px)
    img[15:19, 15:19] = 0.2  # dim region: above 10 %, below 50 %
    st = image_statistics(img)
    assert st["glints"] == 3
    assert st["sparsity_50"] == pytest.approx(7 / 1024)
    assert st["sparsity_10"] == pytest.approx(23 / 1024)
    assert st["mean"] == pytest.approx(img.mean()) and st["std"] == pytest.approx(img.std())
    assert image_statistics(np.zeros((8, 8)))["glints"] == 0


def test_row_mean_variance_measures_stripes():
    rng = np.random.default_rng(0)
    offsets = rng.normal(0, 0.05, 64)
    img = 0.5 + offsets[:, None] + np.zeros((64, 64))
    st = image_statistics(img)
    assert st["row_mean_var"] == pytest.approx(np.var(offsets), rel=1e-9)
    assert st["col_mean_var"] == pytest.approx(0.0, abs=1e-20)


@pytest.mark.parametrize("beta", [0.0, 2.0, 3.0])
def test_spectrum_slope_of_power_law_noise(beta):
    n = 128
    rng = np.random.default_rng(1)
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(n) * n, np.fft.fftfreq(n) * n, indexing="ij"))
    f[0, 0] = 1.0
    field = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, n))) * f ** (-beta / 2)))
    assert spectrum_slope(field) == pytest.approx(-beta, abs=0.15)


def test_histogram_fit_prefers_the_true_family():
    rng = np.random.default_rng(2)
    ln = rng.lognormal(0.0, 1.0, (64, 64))
    ga = rng.gamma(3.0, 1.0, (64, 64))
    s_ln, s_ga = image_statistics(ln / ln.max()), image_statistics(ga / ga.max())
    assert s_ln["lognormal_ll"] > s_ln["gamma_ll"]
    assert s_ga["gamma_ll"] > s_ga["lognormal_ll"]
    assert s_ln["skew"] > s_ga["skew"] > 0


def test_dataset_statistics_on_a_flat_seed_folder(tmp_path):
    rng = np.random.default_rng(3)
    for name in ("id1_b1b_1.png", "id1_n1n_1.png", "id2_b3b_2.png", "notes.png"):
        Image.fromarray((rng.random((16, 16)) * 255).astype(np.uint8)).save(tmp_path / name)
    st = dataset_statistics(tmp_path, per_image=True)
    assert st["images"] == 3 and st["skipped"] == ["notes.png"]
    assert st["concealed"]["images"] == 2 and st["unconcealed"]["images"] == 1
    assert set(st["per_image"]) == {"id1_b1b_1.png", "id1_n1n_1.png", "id2_b3b_2.png"}
    assert "sparsity_10" in format_statistics(st)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no seed-named PNG"):
        dataset_statistics(empty)
    with pytest.raises(ValueError, match="not a folder"):
        dataset_statistics(tmp_path / "missing")
