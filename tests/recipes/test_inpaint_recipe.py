"""Recipe ``inpaint`` end to end on a small seed-format folder with aux files: data, training (curriculum,
flip, identity term), tiny overfit, evaluation report, predict and the bench."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from thzface.config import save_config
from thzface.data.naming import format_name
from thzface.data.split import write_split
from thzface.recipes import load_config, load_run

SIDE = 48  # written image side; configs run at 32, so resizing and box scaling are exercised


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _face(rng: np.random.Generator, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth synthetic head: image (side, side) in [0, 1], face mask, part boxes (5, 4)."""
    yy, xx = np.mgrid[:side, :side] / side
    cy, cx = 0.5 + rng.uniform(-0.03, 0.03), 0.5 + rng.uniform(-0.03, 0.03)
    face = ((yy - cy) / 0.42) ** 2 + ((xx - cx) / 0.32) ** 2 <= 1
    img = 0.15 + 0.55 * face * (1 - 0.5 * ((yy - cy) ** 2 + (xx - cx) ** 2))
    boxes = []
    for dy, dx, h, w in ((-0.1, -0.12, 0.06, 0.1), (-0.1, 0.12, 0.06, 0.1), (0.02, 0, 0.12, 0.08),
                         (0.16, 0, 0.06, 0.16), (0.3, 0, 0.06, 0.12)):  # fmt: skip
        y0, x0 = cy + dy - h / 2, cx + dx - w / 2
        part = (yy >= y0) & (yy < y0 + h) & (xx >= x0) & (xx < x0 + w)
        img = np.where(part, img * rng.uniform(0.4, 0.7), img)
        boxes.append([x0 * side, y0 * side, (x0 + w) * side, (y0 + h) * side])
    return np.clip(img, 0, 1), face, np.array(boxes, np.float32)


def build_inpaint_dataset(
    root: Path, ids=("ida", "idb", "idc", "idd", "ide", "idf", "idg"), postures=2, samples=3
) -> Path:
    """thz/, clean/, visible/, aux/*.npz (face_mask, garment_mask, part_boxes, landmarks) and the CSVs."""
    rng = np.random.default_rng(0)
    for sub in ("thz", "clean", "visible", "aux"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for ident in ids:
        for p in range(postures):
            for k in range(samples):
                img, face, boxes = _face(rng, SIDE)
                garment = face & (np.mgrid[:SIDE, :SIDE][0] > SIDE * (0.5 + 0.1 * k))
                clean_name, conc_name = format_name(ident, p, False, k), format_name(ident, p, True, k)
                noisy = np.clip(img + 0.02 * rng.standard_normal(img.shape), 0, 1)
                Image.fromarray(np.uint8(noisy * 255)).save(root / "thz" / clean_name)
                Image.fromarray(np.uint8(img * 255)).save(root / "clean" / clean_name)
                Image.fromarray(np.uint8(np.where(garment, 0.3, noisy) * 255)).save(root / "thz" / conc_name)
                rgb = np.stack([img, img * 0.8, img * 0.6], -1)
                Image.fromarray(np.uint8(rgb * 255)).save(root / "visible" / clean_name)
                np.savez(
                    root / "aux" / (Path(conc_name).stem + ".npz"),
                    face_mask=face.astype(np.uint8),
                    garment_mask=garment.astype(np.uint8),
                    part_boxes=boxes,
                    landmarks=rng.uniform(0, SIDE, (68, 2)).astype(np.float32),
                )
    write_split(root, protocol="mixed", seed=0)
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return build_inpaint_dataset(tmp_path_factory.mktemp("inpaint") / "data")


def tiny(repo: Path, *overrides: str):
    return load_config(repo / "configs" / "inpaint-tiny.yaml", list(overrides))


def test_dataset_loads_images_and_scaled_context(repo, data):
    from thzface.recipes.inpaint.data import InpaintDataModule, contexts, split_dataset

    cfg = tiny(repo)
    ds = split_dataset(cfg, data, "test.csv")
    item = ds[0]
    assert item["image"].shape == (1, 32, 32) and bool(item["has_region"])
    assert item["name"].split("_")[1].startswith("n")  # unconcealed images only
    ctx = contexts({k: (v[None] if isinstance(v, torch.Tensor) else [v]) for k, v in item.items()})[0]
    with np.load(data / "aux" / item["name"].replace("_n", "_b").replace("n_", "b_").replace(".png", ".npz")) as z:
        assert np.allclose(ctx.boxes, z["part_boxes"] * 32 / SIDE)
    assert ctx.garment is not None and ctx.region is not None and ctx.garment.sum() < ctx.region.sum()
    vis = split_dataset(tiny(repo, "model.modality=visible", "model.image_channels=3"), data, "test.csv")
    assert vis[0]["image"].shape == (3, 32, 32) and not torch.equal(vis[0]["image"][0], vis[0]["image"][2])
    clean = split_dataset(tiny(repo, "data.target=clean"), data, "test.csv")
    assert clean.folder.name == "clean"
    dm = InpaintDataModule(cfg, data)
    assert not set(dm.train_set.names) & set(dm.val_set.names)
    with pytest.raises(ValueError, match="train.sampler: inpaint draws single images at random"):
        InpaintDataModule(tiny(repo, "train.sampler=pk"), data)


def test_flip_batch_mirrors_image_and_context():
    from thzface.recipes.inpaint.task import flip_batch

    image = torch.arange(16.0).view(1, 1, 4, 4).repeat(2, 1, 1, 1) / 16
    region = (torch.arange(4.0).view(1, 1, 1, 4) < 1).expand(2, 1, 4, 4)
    boxes = torch.tensor([[0.0, 1.0, 1.0, 2.0]]).expand(2, 1, 4).clone()
    batch = {"region": region, "garment": region, "boxes": boxes}
    out_img, out = flip_batch(image, batch, np.array([True, False]))
    assert torch.equal(out_img[0], image[0].flip(-1)) and torch.equal(out_img[1], image[1])
    assert out["region"][0, 0, 0].tolist() == [False, False, False, True]
    assert out["boxes"][0, 0].tolist() == [3.0, 1.0, 4.0, 2.0] and out["boxes"][1, 0].tolist() == [0.0, 1.0, 1.0, 2.0]


def test_tiny_overfit_hole_error_drops(repo, data):
    from thzface.recipes.inpaint.data import split_dataset
    from thzface.recipes.inpaint.task import build_task

    torch.manual_seed(0)
    cfg = tiny(repo, "model.widths=[16,32,64]")
    task = build_task(cfg)
    ds = split_dataset(cfg, data, "test.csv")
    image = torch.stack([ds[i]["image"] for i in range(2)])  # (2, 1, 32, 32)
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 10:22, 8:24] = 1.0
    opt = torch.optim.Adam(task.model.parameters(), lr=3e-3)
    errors = []
    for _ in range(80):
        out = task.model.inpaint(image, mask)
        loss = (out.raw - image).abs().mean() + 6 * ((out.raw - image).abs() * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        errors.append(float(((out.output.detach() - image).abs() * mask).sum() / mask.sum()))
    assert errors[-1] < 0.3 * errors[0]


@pytest.fixture(scope="module")
def run(repo, data, tmp_path_factory) -> Path:
    from thzface.recipes import train as fit

    out = tmp_path_factory.mktemp("inpaint-run") / "run"
    summary = fit(tiny(repo, "train.max_steps=3", "train.max_epochs=3"), data, out)
    assert summary["global_step"] == 3
    return out


def test_fit_logs_curriculum_and_exports(run):
    from thzface.engine.checkpoint import read_metadata
    from thzface.models.inpaint import AttentionUNet
    from thzface.recipes import load_run

    cfg, model, extra = load_run(run, ("inpaint",))
    assert isinstance(model, AttentionUNet) and cfg.recipe == "inpaint"
    assert extra["loss_terms"] == {"perceptual": "off: weight 0", "identity": "off: weight 0"}
    assert read_metadata(run / "model.safetensors")["recipe"] == "inpaint"
    text = (run / "logs" / "metrics.csv").read_text().splitlines()
    header = text[0].split(",")
    progress = [float(r.split(",")[header.index("train/progress")]) for r in text[1:]
                if r.split(",")[header.index("train/progress")]]  # fmt: skip
    assert progress == sorted(progress) and progress[0] == 0.0 and progress[-1] > 0.5
    assert "val/hole_psnr_50-70" in header


def test_evaluate_writes_report_with_bucket_tables(run, data, tmp_path, monkeypatch):
    from thzface.recipes import INPAINT
    from thzface.recipes.inpaint import evaluate as inpaint_eval

    evaluate = INPAINT.evaluate

    monkeypatch.setattr(inpaint_eval, "SPEED_MIN_S", 0.01)

    m = evaluate(run, data, tmp_path / "rep")
    assert set(m["summary"]) == {"10-30", "30-50", "50-70", "garment", "unconceal"}
    for (lo, hi), name in zip([(0.1, 0.3), (0.3, 0.5), (0.5, 0.7)], ["10-30", "30-50", "50-70"], strict=True):
        row = m["sets"][name]
        assert lo <= row["hole_ratio"] <= hi and row["known_max_abs_change"] == 0.0
        assert row["hole_psnr"] < row["psnr"]  # the known pixels are exact: whole-image PSNR is higher
        assert set(row["per_kind"]) == {"irregular", "rect", "parts"}
    assert "identity_cos" not in m["sets"]["10-30"] and m["identity_embedder"].startswith("none")
    assert m["speed"]["ms_per_image_b1"] > 0
    saved = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert saved["summary"]["30-50"]["hole_psnr"] == pytest.approx(m["summary"]["30-50"]["hole_psnr"])
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "Attention-gate maps" in page and "Summary per bucket" in page
    assert (tmp_path / "rep" / "attention_gates.png").is_file()
    again = evaluate(run, data, tmp_path / "rep2")  # fixed masks: the same numbers
    assert again["summary"]["50-70"]["hole_l1"] == m["summary"]["50-70"]["hole_l1"]


def test_evaluate_unconceals_against_scan_and_clean_target_beside_copy(run, data, tmp_path, monkeypatch):
    import shutil

    from thzface.data.csv import read_triplets
    from thzface.data.io import load_image
    from thzface.data.targets import load_clean_target
    from thzface.metrics.reconstruction import ssim
    from thzface.recipes import INPAINT
    from thzface.recipes.inpaint import evaluate as inpaint_eval

    monkeypatch.setattr(inpaint_eval, "SPEED_MIN_S", 0.01)
    m = INPAINT.evaluate(run, data, tmp_path / "rep")
    row = m["sets"]["30-50"]  # the masked input (hole black) copied, on the same masks
    assert row["baseline_copy_psnr"] < row["psnr"] and m["summary"]["30-50"]["baseline_copy_ssim"] < 1
    u = m["unconceal"]
    pairs = {r.anchor: r.positive for r in read_triplets(data / "test.csv", data)}  # every scan has a garment
    names = sorted(pairs)
    conc = np.stack([load_image(data / "thz" / n, 32) for n in names])  # (N, 1, 32, 32)
    clean = np.stack([load_clean_target(data, n, 32) for n in names])
    scan = np.stack([load_image(data / "thz" / pairs[n], 32) for n in names])
    assert u["rows"] == len(names)
    copy = u["routes"]["copy_input"]  # recomputed from the files
    assert copy["clean_ssim"] == pytest.approx(float(np.mean(ssim(conc, clean))), abs=1e-9)
    assert copy["ssim"] == pytest.approx(float(np.mean(ssim(conc, scan))), abs=1e-9)
    head = m["summary"]["unconceal"]
    assert (
        head["baseline_copy_clean_ssim"] == copy["clean_ssim"]
        and head["clean_ssim"] == u["routes"]["inpaint"]["clean_ssim"]
    )
    assert {"head_ssim", "baseline_copy_head_ssim", "clean_head_ssim"} <= set(head)
    assert u["routes"]["inpaint"]["concealed_l1"] != copy["concealed_l1"]  # the hole was painted
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "Unconcealing" in page and "clean target rendered" in page
    assert (
        "| clean target (noise-free, at the concealed pose)" in page and (tmp_path / "rep" / "unconceal.png").is_file()
    )
    real = tmp_path / "real"  # a folder without clean targets: the clean keys are absent, and the report says so
    shutil.copytree(data, real, ignore=shutil.ignore_patterns("clean"))
    r = INPAINT.evaluate(run, real, tmp_path / "rep-real")
    assert "clean_ssim" not in r["unconceal"]["routes"]["inpaint"] and "clean_ssim" not in r["summary"]["unconceal"]
    real_page = (tmp_path / "rep-real" / "report.html").read_text()
    assert "no clean targets" in real_page and "No clean target column" in real_page
    assert "| clean target (noise-free" not in real_page


def test_unconcealed_images_use_their_own_part_boxes(tmp_path):
    from thzface.recipes.inpaint.data import load_context

    (tmp_path / "aux").mkdir()
    face = np.ones((16, 16), np.uint8)
    conc, own = np.array([[1.0, 1, 5, 5]] * 5), np.array([[2.0, 2, 6, 6]] * 5)
    np.savez(tmp_path / "aux" / "ida_b1b_0.npz", face_mask=face, part_boxes=conc, part_boxes_unconcealed=own)
    np.savez(tmp_path / "aux" / "idb_b1b_0.npz", face_mask=face, part_boxes=conc)  # an older world
    assert np.allclose(load_context(tmp_path, "ida_n1n_0.png", 32, 16)["boxes"], own * 2)
    assert np.allclose(load_context(tmp_path, "ida_b1b_0.png", 32, 16)["boxes"], conc * 2)
    assert np.allclose(load_context(tmp_path, "idb_n1n_0.png", 32, 16)["boxes"], conc * 2)


def test_predict_with_mask_file_and_folder(run, data, tmp_path):
    from thzface.recipes import INPAINT

    Opts = INPAINT.predict_options

    predict = INPAINT.predict

    imgs = sorted((data / "thz").glob("*_n1n_*.png"))[:2]
    mask = np.zeros((SIDE, SIDE), np.uint8)
    mask[10:30, 10:30] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    res = predict(run, imgs, tmp_path / "out", Opts(mask=tmp_path / "m.png"))
    assert res["images"] == 2
    out = np.asarray(Image.open(tmp_path / "out" / f"{imgs[0].stem}_inpainted.png"))
    src = np.asarray(Image.open(imgs[0]).resize((32, 32), Image.Resampling.BICUBIC))
    assert out.shape == (32, 32) and abs(int(out[0, 0]) - int(src[0, 0])) <= 2  # known pixel kept
    (tmp_path / "masks").mkdir()
    for f in imgs:
        Image.fromarray(mask).save(tmp_path / "masks" / f.name)
    records = json.loads(Path(predict(run, imgs, tmp_path / "o2", Opts(mask=tmp_path / "masks"))
                              ["predictions"]).read_text())  # fmt: skip
    assert records[0]["hole_fraction"] == pytest.approx(20 * 20 / SIDE**2, abs=0.03)
    with pytest.raises(ValueError, match="an inpainting run needs --mask"):
        predict(run, imgs, tmp_path / "o3", Opts())
    with pytest.raises(FileNotFoundError, match="no mask for"):
        predict(run, [sorted((data / "thz").glob("*_n2n_*.png"))[0]], tmp_path / "o4",
                Opts(mask=tmp_path / "masks"))  # fmt: skip


def _fake_trained_mtl(repo: Path, out: Path, step: int) -> Path:
    from thzface.engine.checkpoint import save_weights
    from thzface.recipes import get_recipe

    cfg = load_config(repo / "configs" / "mtl-tiny.yaml")
    torch.manual_seed(0)
    model = get_recipe("mtl").model.build_model(cfg)
    save_weights(model.state_dict(), cfg, out / "model.safetensors", extra={"step": step})
    return out


def test_identity_term_from_a_trained_embedder_only(repo, data, tmp_path):
    from thzface.engine.checkpoint import RunError
    from thzface.recipes.inpaint.data import InpaintDataModule
    from thzface.recipes.inpaint.task import build_task

    emb = _fake_trained_mtl(repo, tmp_path / "mtl", step=5)
    task = build_task(tiny(repo, f"loss.identity_run={emb}", "loss.w_identity=0.1"))
    assert task.terms_status["identity"].startswith("on: embedder")
    task.train()
    assert not task.embedder.training and not any(p.requires_grad for p in task.embedder.parameters())
    batch = next(iter(InpaintDataModule(task.cfg, data).train_dataloader()))
    terms = task.compute_losses(batch)
    assert 0 <= float(terms["identity"].detach()) <= 2 and torch.isfinite(terms["loss"])
    terms["loss"].backward()
    assert all(p.grad is not None for p in task.model.parameters())
    untrained = _fake_trained_mtl(repo, tmp_path / "raw", step=0)
    with pytest.raises(RunError, match="record no training step"):
        build_task(tiny(repo, f"loss.identity_run={untrained}", "loss.w_identity=0.1"))
    off = build_task(tiny(repo, "loss.w_identity=0.1"))
    assert off.embedder is None and off.terms_status["identity"] == "off: no loss.identity_run"


def test_perceptual_term_needs_user_weights(repo, tmp_path):
    from safetensors.torch import save_file

    from thzface.losses.perceptual import _features
    from thzface.recipes.inpaint.task import build_task

    off = build_task(tiny(repo, "loss.w_perceptual=0.8"))
    assert off.perceptual is None and off.terms_status["perceptual"] == "off: no loss.perceptual_path"
    torch.manual_seed(0)
    save_file(
        {k: v.contiguous() for k, v in _features("alex").state_dict().items()}, str(tmp_path / "alex.safetensors")
    )
    on = build_task(tiny(repo, "loss.w_perceptual=0.8", f"loss.perceptual_path={tmp_path / 'alex.safetensors'}"))
    assert on.perceptual is not None and on.terms_status["perceptual"].startswith("on: LPIPS-alex")


def test_task_config_errors(repo):
    from thzface.recipes.inpaint.task import build_task

    with pytest.raises(ValueError, match="model.image_size 32 must equal data.image_size 64"):
        build_task(tiny(repo, "data.image_size=64"))
    with pytest.raises(ValueError, match="aug.profile: inpaint supports"):
        build_task(tiny(repo, "aug.profile=gentle"))


def test_bench_runs_every_arm_on_the_same_masks(repo, data, tmp_path, monkeypatch):
    from thzface.bench import run_bench
    from thzface.recipes.inpaint import evaluate as inpaint_eval

    monkeypatch.setattr(inpaint_eval, "SPEED_MIN_S", 0.01)

    configs = tmp_path / "configs"
    configs.mkdir()
    for preset in ("default", "paper"):
        cfg = tiny(repo, f"preset={preset}", "data.image_size=48", "model.image_size=48")
        if preset == "paper":
            cfg.model.signed, cfg.model.fill, cfg.loss.hole_norm = True, "zero", "image"
        save_config(cfg, configs / f"inpaint-{preset}.yaml")
    small = ["train.batch_size=4"]  # 5 training people: 2 validate, batches of P = 2 from the other 3
    mtl = load_config(repo / "configs" / "mtl-tiny.yaml", ["data.image_size=48", "model.image_size=48", *small])
    save_config(mtl, configs / "mtl-default.yaml")
    # without --arms the bench also runs default-pretrained, from the shipped 64-px start (checked below)
    args = SimpleNamespace(data=str(data), budget_s=1.0, out=str(tmp_path / "b"), workers=1, seeds=1, configs=configs,
                           arms="default,paper")  # fmt: skip
    res = run_bench("inpaint", args)
    fills = {"mean-fill", "diffusion-fill", "mean-face-fill", "eigen-fill"}
    assert set(res["arms"]) == {"default", "paper", *fills}
    assert "hole_psnr_30-50" in res["table"] and "identity_cos_10-30" in res["table"]
    means = res["arms"]["mean-fill"]["sets"]
    assert means["30-50"]["known_max_abs_change"] == 0.0
    saved = json.loads((tmp_path / "b" / "bench.json").read_text())
    assert saved["image_size"] == SIDE
    h = saved["headline"]  # default's hole SSIM, mean over the sets, against the better classical fill
    sets = list(means)
    mean_over = {a: np.mean([res["arms"][a]["mean"][f"hole_ssim_{s}"] for s in sets]) for a in res["arms"]}
    assert h["system"] == pytest.approx(mean_over["default"]) and h["higher_is_better"] and h["spread"] == 0.0
    classical = ("mean-fill", "diffusion-fill", "mean-face-fill", "eigen-fill")  # eigen-fill: gappy PCA, classical
    assert h["baseline"] == pytest.approx(max(mean_over[f] for f in classical))
    margins = saved["buckets"]["hole_ssim"]
    assert set(margins) == set(sets) and all(m["best_fill"] in classical for m in margins.values())
    assert margins["30-50"]["margin"] == pytest.approx(
        res["arms"]["default"]["mean"]["hole_ssim_30-50"]
        - max(res["arms"][f]["mean"]["hole_ssim_30-50"] for f in classical)
    )
    assert res["table"].splitlines()[-1].startswith("headline: hole-region SSIM")
    # default-pretrained: inpaint-default fine-tuned from --init-from (here the first bench's default run); it is the
    # headline system when present
    start = tmp_path / "b" / "default" / "seed0" / "run"
    args2 = SimpleNamespace(**{**vars(args), "out": str(tmp_path / "b2"), "arms": "default,default-pretrained",
                               "init_from": str(start)})  # fmt: skip
    res2 = run_bench("inpaint", args2)
    assert {"default", "default-pretrained"} <= set(res2["arms"]) and res2["init_from"] == str(start)
    assert res2["headline"]["system_name"] == "default-pretrained"
    copied = res2["arms"]["default-pretrained"]["runs"][0]["init_copied"]
    assert copied == len(load_run(start)[1].state_dict()) and "init_copied" not in res2["arms"]["default"]["runs"][0]
    from thzface.bench.inpaint import DEFAULT_ARMS

    assert DEFAULT_ARMS == ("default", "paper", "default-pretrained")
    with pytest.raises(ValueError, match="must include 'default' or 'default-pretrained'"):
        run_bench("inpaint", SimpleNamespace(**{**vars(args2), "arms": "paper"}))


def test_simulator_output_serves_every_mask_kind(repo, tiny_data):
    from thzface.data.masks import MaskConfig, area_ratio, eval_mask, sample_mask
    from thzface.recipes.inpaint.data import contexts, split_dataset
    from thzface.recipes.inpaint.evaluate import full_batch

    batch = full_batch(split_dataset(tiny(repo), tiny_data, "test.csv"))
    ctxs = contexts(batch)
    assert all(c.region is not None and c.boxes is not None for c in ctxs)
    with_garment = [c for c in ctxs if c.garment is not None]
    assert with_garment
    rng = np.random.default_rng(0)
    for kind in ("irregular", "rect", "parts", "garment"):
        m, used = sample_mask(MaskConfig(kinds={kind: 1.0}), rng, 32, with_garment[0], 0.3)
        assert used == kind and m.any()
    m, _ = eval_mask(MaskConfig(), 2, 2, 32, ctxs[0])
    assert 0.5 <= area_ratio(m, ctxs[0].region) <= 0.7


def test_a_start_s_eigenface_prior_is_refitted_to_the_fine_tuning_data_unless_kept(repo, data, tmp_path):
    """train.prior_fit=data (default): fine-tuning from a start fits the prior to this run's training images, the
    same prior a run from scratch fits; start: the start's prior is kept."""
    from thzface.recipes import train as fit

    one = ("model.fill=eigen", "model.eigen_k=4", "train.max_steps=1", "train.max_epochs=1")
    start = tmp_path / "start"
    fit(tiny(repo, *one), data, start)
    other = tmp_path / "other"  # the same people and split, another scanner: every scan darker and offset
    for p in data.rglob("*"):
        if p.is_file():
            q = other / p.relative_to(data)
            q.parent.mkdir(parents=True, exist_ok=True)
            if p.suffix == ".png" and p.parent.name == "thz":
                a = np.asarray(Image.open(p), dtype=np.float64)
                Image.fromarray(np.uint8(np.clip(0.5 * a + 60, 0, 255))).save(q)
            else:
                q.write_bytes(p.read_bytes())
    mean = lambda run: load_run(run)[1].prior.mean  # noqa: E731  # (P,) the exported prior's mean image
    fit(tiny(repo, *one), other, tmp_path / "scratch")
    fit(tiny(repo, *one), other, tmp_path / "refit", init_run=start)
    fit(tiny(repo, *one, "train.prior_fit=start"), other, tmp_path / "kept", init_run=start)
    assert torch.equal(mean(tmp_path / "kept"), mean(start))
    assert torch.allclose(mean(tmp_path / "refit"), mean(tmp_path / "scratch"))
    assert not torch.allclose(mean(tmp_path / "refit"), mean(start), atol=0.05)
    with pytest.raises(ValueError, match=r"train.prior_fit: 'x' is not one of \['data', 'start'\]"):
        tiny(repo, "train.prior_fit=x")
