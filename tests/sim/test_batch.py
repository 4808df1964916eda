"""The batched backend: renders like the reference, bytes independent of batch, workers and shards, worlds that
agree with the reference backend's within stated tolerances."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from thzface.data.naming import NUM_POSTURES
from thzface.sim.batch import block_size, blocks, simulate_batch
from thzface.sim.batch_render import render_batch
from thzface.sim.face_model import build_face_model, make_identities
from thzface.sim.presets import get_preset
from thzface.sim.render import render_request
from thzface.sim.sample import prepare_sample, simulate_sample
from thzface.sim.world import synthesize, task


def _jobs(cfg, n: int):
    model = build_face_model(cfg.face_model)
    ids = make_identities(model, cfg, 0)
    return model, [(ids[task(i, cfg.samples)[0]], task(i, cfg.samples)[1], i) for i in range(n)]


def test_blocks_are_fixed_by_sample_index():
    assert blocks(range(0, 40), 16) == [range(0, 16), range(16, 32), range(32, 40)]
    assert blocks(range(10, 35), 16) == [range(10, 16), range(16, 32), range(32, 35)]
    assert blocks(range(5, 5), 16) == []
    for samples, size in ((3, 15), (7, 35), (2, 20), (1, 15)):  # whole identities, about 16 samples
        assert block_size(get_preset("tiny", [f"samples={samples}"])) == size


# the CPU's compiled float64 renderer (``auto``) agrees with the reference to rounding; the torch renderer (the
# GPU's, float32) to float32 edges: mask flips, share of the same triangle, height (mm) and normal differences
TOLERANCES = {"auto": (1e-4, 0.9999, 1e-9, 1e-9), "torch": (0.002, 0.995, 1e-2, 1e-3)}


@pytest.mark.parametrize("raster", ["auto", "torch"])
def test_batched_render_matches_the_reference(fast, raster):
    cfg = get_preset("tiny", fast)
    model, jobs = _jobs(cfg, 6)
    preps = [prepare_sample(cfg, model, ident, p, 0, i) for ident, p, i in jobs]
    reqs = [q for pr in preps for q in pr.requests()]
    assert any(q.cover is not None for q in reqs) and len(reqs) > len(preps)  # garment envelopes included
    assert any(q.bend is not None for q in reqs)  # the bent neck included
    flips, share, d_height, d_normal = TOLERANCES[raster]
    got = render_batch(reqs, model.grid, torch.device("cpu"), raster=raster)
    for q, b in zip(reqs, got, strict=True):
        a = render_request(q, model.grid)
        both = a.mask & b.mask
        assert (a.mask != b.mask).mean() <= flips and both.sum() > 50
        same = both & (a.tris[np.maximum(a.raster.tri, 0)] == b.tris[np.maximum(b.raster.tri, 0)]).all(-1)
        assert same.sum() >= share * both.sum()
        assert np.abs(a.height - b.height)[same].max() < d_height
        assert np.abs(a.normal - b.normal)[same].max() < d_normal


def test_render_batch_names_its_rasterisers():
    with pytest.raises(ValueError, match="raster must be auto or torch"):
        render_batch([], build_face_model(get_preset("tiny").face_model).grid, raster="numba")


def test_a_sample_does_not_depend_on_its_batch(fast):
    cfg = get_preset("tiny", fast)
    model, jobs = _jobs(cfg, 5)
    whole = simulate_batch(cfg, model, jobs, 0)
    part = simulate_batch(cfg, model, jobs[2:4], 0)
    for a, b in zip(whole[2:4], part, strict=True):
        assert np.array_equal(a.thz_concealed, b.thz_concealed) and np.array_equal(a.clean, b.clean)
        assert np.array_equal(a.thz_unconcealed, b.thz_unconcealed)


@pytest.mark.parametrize("extra", [[], ["mode=passive"], ["pairing=shared"], ["pairing=independent-noise"]])
def test_batched_sample_close_to_reference(fast, extra):
    cfg = get_preset("tiny", [*fast, *extra])
    model, jobs = _jobs(cfg, 4)
    for (ident, p, i), b in zip(jobs, simulate_batch(cfg, model, jobs, 0), strict=True):
        a = simulate_sample(cfg, model, ident, p, 0, i)
        assert a.combo == b.combo and np.array_equal(a.head, b.head)
        for x, y in ((a.thz_concealed, b.thz_concealed), (a.clean, b.clean), (a.thz_unconcealed, b.thz_unconcealed)):
            assert np.abs(x.astype(int) - y).mean() < 0.5  # grey levels (0..255)


def _files(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_batched_world_bytes_equal_across_workers_and_shards(tmp_path, fast):
    from thzface.sim.dataset import synth

    over = [*fast, "samples=2", "identities.count=4", "write_visible=false", "write_aux=false", "backend=batched"]
    runs = {}
    for name, workers in (("one", 1), ("two", 2)):  # 4 identities x 5 postures x 2 = 40 samples: blocks of 20
        synth("tiny", tmp_path / name, seed=2, workers=workers, overrides=over, progress=False)
        runs[name] = _files(tmp_path / name)
    for i in range(3):  # shard boundaries 13 and 26 cut both blocks
        synth("tiny", tmp_path / "parts", seed=2, workers=1, overrides=over, progress=False, shard=f"{i}/3")
    synth(None, tmp_path / "parts", seed=0, workers=1, overrides=[], progress=False, finalize=True)
    assert len([k for k in runs["one"] if k.startswith("thz/")]) == 2 * 4 * NUM_POSTURES * 2
    assert runs["two"] == runs["one"] and _files(tmp_path / "parts") == runs["one"]


# Tolerances of the meta.json probes between the two backends' worlds of the same config and seed. The worlds hold
# the same people, poses, garments and noise draws; only float32 rendering differs, so images differ by well under
# a grey level on average. Stated bounds: copy-baseline SSIM/PSNR +-0.01 / +-0.1 dB, energy drop +-0.1 dB per
# garment, glints +-0.5 per image, nearest-neighbour identity accuracy +-0.05, image-statistics means +-0.5 %.
TOL = {"copy_baseline": 0.01, "energy_drop_db": 0.1, "glints": 0.5, "nn_identity": 0.05}


def test_backends_give_statistically_equal_worlds(tmp_path, fast):
    metas = {}
    for b in ("reference", "batched"):
        metas[b] = synthesize(get_preset("tiny", [*fast, f"backend={b}"]), tmp_path / b, seed=3, progress=False)
    ref, bat = metas["reference"], metas["batched"]
    assert ref["identities"] == bat["identities"] and ref["counts"] == bat["counts"]
    for key, tol in TOL.items():
        for k, v in ref["probes"][key].items():
            if isinstance(v, float):
                scale = 10.0 if "psnr" in k else 1.0
                assert bat["probes"][key][k] == pytest.approx(v, abs=tol * scale), (key, k)
    for group in ("concealed", "unconcealed"):
        assert bat["statistics"][group]["mean"]["mean"] == pytest.approx(
            ref["statistics"][group]["mean"]["mean"], rel=0.005
        )
    for b in ("reference", "batched"):  # the same garments on every sample
        metas[b] = sorted(json.loads((tmp_path / b / "meta.json").read_text())["probes"]["energy_drop_db"])
    assert metas["reference"] == metas["batched"]


def test_bench_sim_prints_a_row_per_backend(tmp_path, fast, capsys):
    from thzface.cli import main

    assert main(["bench", "sim", "--preset", "tiny", "--workers", "1", "--out", str(tmp_path), *fast]) == 0
    res = json.loads((tmp_path / "bench.json").read_text())
    assert set(res["backends"]) == {"reference", "batched"} and res["preset"] == "tiny"
    for row in res["backends"].values():
        assert len(row["runs"]) == 2 and row["samples_per_second"] > 0  # two rounds, A B then B A
    assert res["speedup"] == pytest.approx(
        res["backends"]["batched"]["samples_per_second"] / res["backends"]["reference"]["samples_per_second"]
    )
    out = capsys.readouterr().out
    assert "reference " in out and "batched " in out and "batched / reference:" in out


def test_unknown_backend_is_a_config_error():
    from thzface.config import ConfigError

    with pytest.raises(ConfigError, match="backend: 'gpu' is not one of"):
        get_preset("tiny", ["backend=gpu"])
