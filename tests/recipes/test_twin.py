"""Recipe ``twin`` end to end on a small dataset in the documented format (twins, aux part boxes): data,
frozen global branch, two-stage training, overfit, eval metrics/report, predict, verify, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from thzface.data.naming import format_name
from thzface.data.split import write_split
from thzface.recipes import load_config, load_run
from thzface.recipes import train as fit

NATIVE = 40  # written image side; the tiny config reads them at 32 px (boxes are rescaled)


def _blob(yy, xx, cy, cx, sy, sx):
    return np.exp(-0.5 * (((yy - cy) / sy) ** 2 + ((xx - cx) / sx) ** 2))


def write_twin_dataset(root: Path, n_ids: int = 8, twin_pairs: int = 2, samples: int = 3, seed: int = 0) -> Path:
    """Faces of blobs whose part geometry is the identity (twins: a small offset), five postures, concealed
    (garment texture over the lower face) and unconcealed scans, aux part boxes, meta.json twins, mixed split."""
    rng = np.random.default_rng(seed)
    ids = [f"id{i:02d}" for i in range(n_ids)]
    lo, hi = np.array([5.0, 14.0, 5.0, 7.0, 26.0, 0.5]), np.array([8.0, 17.0, 8.0, 11.0, 29.0, 1.0])
    params = {i: lo + (hi - lo) * rng.random(6) for i in ids}  # eye dx, eye y, nose length, mouth w, mouth y, gain
    twins = [[ids[2 * t], ids[2 * t + 1]] for t in range(twin_pairs)]
    for a, b in twins:
        params[b] = params[a] + 0.08 * (hi - lo) * rng.standard_normal(6)
    for d in ("thz", "aux"):
        (root / d).mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:NATIVE, 0:NATIVE] + 0.5
    shifts = [(0, 0), (-4, 0), (4, 0), (0, -3), (0, 3)]
    for i in ids:
        edx, ey, nl, mw, my, gain = params[i]
        for p, (sx, sy) in enumerate(shifts):
            for k in range(samples):
                cx, cy = 20 + sx + rng.uniform(-1, 1), sy + rng.uniform(-1, 1)
                boxes = np.array([
                    [cx - edx - 2.5, cy + ey - 1.5, cx - edx + 2.5, cy + ey + 1.5],
                    [cx + edx - 2.5, cy + ey - 1.5, cx + edx + 2.5, cy + ey + 1.5],
                    [cx - 1.5, cy + ey + 2, cx + 1.5, cy + ey + 2 + nl],
                    [cx - mw / 2, cy + my - 1.5, cx + mw / 2, cy + my + 1.5],
                    [cx - 4, cy + my + 4, cx + 4, cy + my + 8],
                ], dtype=np.float32)  # fmt: skip
                face = 0.1 + 0.4 * _blob(yy, xx, cy + 21, cx, 16, 12)
                for j, (x0, y0, x1, y1) in enumerate(boxes):
                    face += (
                        (0.3 + 0.1 * j)
                        * gain
                        * _blob(yy, xx, (y0 + y1) / 2, (x0 + x1) / 2, (y1 - y0) / 2, (x1 - x0) / 2)
                    )
                garment = (yy > cy + ey + 3).astype(np.float32)
                for concealed in (True, False):
                    img = face * (0.8 if concealed else 1.0) + (0.1 * garment * (np.sin(xx) > 0) if concealed else 0)
                    img = np.clip(img + 0.03 * rng.standard_normal(img.shape), 0, 1)
                    name = format_name(i, p, concealed, k)
                    Image.fromarray((img * 255).astype(np.uint8)).save(root / "thz" / name)
                np.savez(root / "aux" / (format_name(i, p, True, k)[:-4] + ".npz"), part_boxes=boxes,
                         garment_mask=garment.astype(np.uint8))  # fmt: skip
    (root / "meta.json").write_text(json.dumps({"generator": "test", "twins": twins}))
    write_split(root, protocol="mixed", seed=seed)
    return root


@pytest.fixture(scope="module")
def twin_data(tmp_path_factory) -> Path:
    return write_twin_dataset(tmp_path_factory.mktemp("twin") / "data")


@pytest.fixture(scope="module")
def global_run(repo, twin_data, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("global") / "mtl"
    fit(load_config(repo / "configs" / "mtl-tiny.yaml", ["train.max_steps=3"]), twin_data, run)
    return run


def twin_cfg(repo, global_run, *overrides):
    return load_config(repo / "configs" / "twin-tiny.yaml", [f"model.global_run={global_run}", *overrides])


@pytest.fixture(scope="module")
def twin_run(repo, twin_data, global_run, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("twinrun") / "run"
    fit(twin_cfg(repo, global_run, "train.max_steps=6"), twin_data, run)
    return run


def test_dataset_boxes_scaled_and_twin_negatives(repo, twin_data, global_run):
    from thzface.recipes.twin.data import TwinDataModule

    dm = TwinDataModule(twin_cfg(repo, global_run), twin_data)
    ds = dm._dataset(dm.train_rows, train=True)
    twins = {"id00": "id01", "id01": "id00", "id02": "id03", "id03": "id02"}
    seen_twin = 0
    for i, r in enumerate(ds.rows):
        s = ds[i]
        aux = np.load(twin_data / "aux" / (r.anchor[:-4] + ".npz"))["part_boxes"]
        torch.testing.assert_close(s["anchor_boxes"], torch.from_numpy(aux) * (32 / NATIVE))
        a = r.anchor_name.identity
        assert bool(s["has_twin"]) == (a in twins and twins[a] in ds.pool)
        assert s["has_boxes"].tolist() == [True, True, bool(s["has_twin"]), True]
        torch.testing.assert_close(s["positive_boxes"], s["anchor_boxes"])  # no part_boxes_unconcealed: shared
        if s["has_twin"]:
            seen_twin += 1
            assert s["twin_identity"].item() == ds.identities.index(twins[a])
            scan = ds.twin_scan(i)
            assert scan.identity == twins[a] and scan.concealed and scan.posture == r.anchor_name.posture
        else:
            assert s["twin_identity"].item() == -1
    assert seen_twin > 0
    assert ds.augment.profile.rotation_deg == 0 and ds.augment.profile.crop_area == (1.0, 1.0)
    assert ds.augment.profile.noise_sigma == (0.05, 0.1)  # gentle's photometric part kept


def test_missing_global_run_says_what_is_needed(repo):
    from thzface.recipes.twin.task import build_task

    cfg = load_config(repo / "configs" / "twin-tiny.yaml")
    with pytest.raises(ValueError, match="model.global_run: the twin recipe needs a trained thzface mtl run"):
        build_task(cfg)


def test_frozen_global_weights_unchanged_after_training(twin_run, global_run):
    _, twin, _ = load_run(twin_run, ("twin",))
    _, mtl, _ = load_run(global_run, ("mtl",))
    src = {f"{m}.{k}": v for m in ("encoder", "trunk", "verification_head") for k, v in
           getattr(mtl, m).state_dict().items()}  # fmt: skip
    dst = {k[len("global_net.") :]: v for k, v in twin.state_dict().items() if k.startswith("global_net.")}
    assert set(src) == set(dst) and any("running_mean" in k for k in src)
    for k, v in src.items():
        assert torch.equal(v, dst[k]), k
    state = torch.load(twin_run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")["state_dict"]
    for k, v in src.items():  # the training state too (resume would start from it)
        assert torch.equal(v, state[f"model.global_net.{k}"]), k


def test_two_stages_switch_from_random_to_twin_negatives(twin_run):
    lines = (twin_run / "logs" / "metrics.csv").read_text().splitlines()
    head = lines[0].split(",")
    rows = [dict(zip(head, line.split(","), strict=True)) for line in lines[1:]]
    share = {int(r["step"]): float(r["train/twin_share"]) for r in rows if r.get("train/twin_share")}
    assert all(share[s] == 0 for s in (0, 1, 2)) and any(share[s] > 0 for s in (3, 4, 5))
    assert any(r.get("train/triplet_twin") for r in rows) and any(r.get("val/eer_twin") for r in rows)


@pytest.mark.parametrize(
    "kw", [[], ["model.parts=[]", "model.box_head=false", "model.fusion=mlp"], ["model.fusion=mlp"]]
)
def test_tiny_overfit(repo, twin_data, global_run, kw):
    from torch.utils.data import default_collate

    from thzface.recipes.twin.data import TwinDataModule
    from thzface.recipes.twin.task import build_task

    cfg = twin_cfg(repo, global_run, "loss.stage2_start=0", "aug.profile=none", *kw)
    torch.manual_seed(0)
    task = build_task(cfg).train()
    dm = TwinDataModule(cfg, twin_data)
    ds = dm._dataset(dm.train_rows, train=True)
    picks = [i for i in range(len(ds)) if ds.twin_scan(i) is not None][::7][:4]  # rows whose anchor has a twin
    batch = default_collate([ds[i] for i in picks])
    opt = torch.optim.Adam(task.trainable_parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        terms = task.compute_losses(batch)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
        losses.append(float(terms["triplet"].detach()))
    assert float(terms["twin_share"]) == 1.0  # stage 2 from the start: every negative is the twin
    assert np.mean(losses[-3:]) < 0.25 * losses[0], losses


def test_eval_writes_twin_metrics_and_report_keeping_the_threshold(twin_run, twin_data, tmp_path):
    from thzface.cli import main

    out = tmp_path / "report"
    assert main(["eval", str(twin_run), "--data", str(twin_data), "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert {"closed-set", "identity-disjoint", "all"} <= set(m["protocols"])
    v = m["protocols"]["all"]["boxes=given"]
    assert m["protocols"]["all"]["twin_pairs"] == 2 and v["pairs"]["twin"] > 0
    for kind in ("twin", "random"):
        assert 0 <= v[kind]["eer"] <= 1 and 0 <= v[kind]["roc_auc"] <= 1
        assert v[kind]["heldout"]["folds_used"] >= 2 and 0 <= v[kind]["heldout"]["hter"] <= 1
    assert "boxes=predicted" in m["protocols"]["all"] and m["box_head"]["anchors"] == 60
    assert set(m["summary"]["all/boxes=given"]) >= {"twin_eer", "random_eer", "twin_far@random_threshold"}
    html = (out / "report.html").read_text()
    assert "twin" in html and html.count("<img") >= 3 and (out / "parts.png").is_file()
    # the deployed threshold is training's (validation identities); eval reports the test pairs' own beside it
    thr = json.loads((twin_run / "threshold.json").read_text())
    assert thr["threshold"] == m["run"]["threshold"] and thr["source"].startswith("validation identities")
    held = {p: m["protocols"][p]["boxes=predicted"]["random"]["heldout"] for p in ("identity-disjoint", "all")}
    source = "identity-disjoint" if held["identity-disjoint"]["folds_used"] else "all"  # 2 held-out ids: no folds
    assert m["run"]["oracle_threshold"] == held[source]["threshold_mean"]


def test_predict_uses_aux_boxes_inside_a_dataset_else_the_box_head(twin_run, twin_data, tmp_path):
    from thzface.cli import main
    from thzface.recipes.twin.predict import verify

    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "scan.png").write_bytes((twin_data / "thz" / "id00_b1b_0.png").read_bytes())
    out = tmp_path / "pred"
    args = ["predict", str(twin_run), str(twin_data / "thz" / "id00_n1n_0.png"), str(loose), "--out", str(out)]
    assert main(args) == 0
    recs = json.loads((out / "predictions.json").read_text())
    assert [r["box_source"] for r in recs] == ["aux", "predicted"]
    _, model, _ = load_run(twin_run, ("twin",))
    dim = 16 + model.global_net.out_dim  # residual fusion: [global ; w · parts]
    assert all(len(r["embedding"]) == dim and set(r["boxes"]) == {"left_eye", "right_eye", "nose", "mouth", "chin"}
               for r in recs)  # fmt: skip
    assert (out / "id00_n1n_0_parts.png").is_file() and (out / "scan_parts.png").is_file()
    assert main(["predict", str(twin_run), str(loose), "--out", str(out), "--backend", "onnx"]) == 2
    res = verify(twin_run, twin_data / "thz" / "id00_b1b_0.png", twin_data / "thz" / "id00_n1n_0.png", 0.5)
    assert -1 <= res["score"] <= 1 and res["same_person"] == (res["score"] >= 0.5)


def test_simulator_dataset_gives_part_boxes_and_twins(repo, tiny_data):
    from thzface.data.csv import read_triplets
    from thzface.data.datasets import identity_list
    from thzface.recipes.twin.data import twin_dataset

    cfg = load_config(repo / "configs" / "twin-tiny.yaml")
    rows = [*read_triplets(tiny_data / "train_val.csv", tiny_data), *read_triplets(tiny_data / "test.csv", tiny_data)]
    ds = twin_dataset(cfg, tiny_data, rows, identity_list(rows), train=False)
    assert len(ds.twins) == 2  # the tiny preset has one twin pair (both directions)
    assert any(ds.twin_scan(i) is not None for i in range(len(ds)))
    for i in (0, len(ds) - 1):
        s = ds[i]
        b = s["anchor_boxes"]  # (5, 4) at 32 px
        assert s["has_boxes"][0] and torch.all(b[:, 2] > b[:, 0]) and torch.all(b[:, 3] > b[:, 1])
        centre = (b[:, :2] + b[:, 2:]) / 2
        assert torch.all((centre > 0) & (centre < 32))
        # world v2: the unconcealed positive is its own capture, with its own pose and part boxes
        with np.load(tiny_data / "aux" / (ds.rows[i].anchor[:-4] + ".npz")) as z:
            own, anchor = z["part_boxes_unconcealed"], z["part_boxes"]
        assert s["has_boxes"][3] and not np.allclose(own, anchor)
        torch.testing.assert_close(s["positive_boxes"], torch.from_numpy(own.astype(np.float32)))  # 32 px written
