"""unmask3d end to end on the simulator's tiny dataset: truth supervision, GP, two-phase freezing, eval, predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from thzface.models.unmask3d_nets import N3DOutput
from thzface.recipes import load_config, load_run
from thzface.recipes import train as fit
from thzface.recipes.unmask3d.data import Unmask3DDataModule as build_datamodule
from thzface.recipes.unmask3d.pipeline import analyse, complete
from thzface.recipes.unmask3d.render import Renderer, project
from thzface.recipes.unmask3d.task import Unmask3DTask, build_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")


FAST = ["data.image_size=16", "model.render_grid_deg=5.0", "train.max_steps=4", "train.batch_size=4"]


def tiny_cfg(repo: Path, extra: list[str] | None = None):
    return load_config(repo / "configs" / "unmask3d-tiny.yaml", FAST + list(extra or []))


def first_batch(dm, n: int = 4) -> dict:
    items = [dm.train_set[i] for i in range(n)]
    return {
        k: (torch.stack([it[k] for it in items]) if isinstance(items[0][k], torch.Tensor) else [it[k] for it in items])
        for k in items[0]
    }


@pytest.fixture(scope="module")
def datamodule(repo, tiny_data):
    return build_datamodule(tiny_cfg(repo), tiny_data)


def test_coefficient_targets_are_the_simulators_truth(datamodule, tiny_data):
    ds, lay = datamodule.train_set, datamodule.renderer.layout
    g = lay.groups()
    for i in range(3):
        item = ds[i]
        with np.load(tiny_data / "aux" / (Path(ds.rows[i].anchor).stem + ".npz")) as z:
            np.testing.assert_allclose(item["coeffs"][g["shape"]].numpy(), z["shape_coeffs"], rtol=1e-6)
            np.testing.assert_allclose(item["coeffs"][g["expression"]].numpy(), z["expr_coeffs"], rtol=1e-6)
            np.testing.assert_allclose(item["coeffs"][g["pose"]].numpy(), z["pose"], rtol=1e-6)
            assert item["mask"].shape == (1, 16, 16) and bool(item["has_mask"]) and z["garment_mask"].any()
        c = item["coeffs"][None].double()  # the fitted placement reprojects the true 3D landmarks onto aux's
        lm = project(item["lm3d"][None].double(), c[:, g["pose"]], c[:, g["placement"]])[0]
        assert (lm - item["lm2d"]).abs().mean() < 0.25  # pixels at 16 px


def test_n3d_losses_vanish_at_the_truth_and_measure_the_error(repo, datamodule):
    task = build_task(tiny_cfg(repo))
    task.model.set_coef_stats(*datamodule.coef_stats())
    b = first_batch(datamodule)
    truth = task.model.standardise(b["coeffs"])  # (4, K)
    perfect = N3DOutput(mask_logits=30.0 * (2 * b["mask"] - 1), coeffs=truth)
    task.model.analyse = lambda image: perfect  # an N3D that predicts exactly the simulator's truth
    t = task.n3d_losses(b)
    assert float(t["coef"]) == pytest.approx(0.0, abs=1e-6) and float(t["id3d"]) == pytest.approx(0.0, abs=1e-6)
    assert float(t["bce"]) < 1e-6 and float(t["lm"]) < 0.02
    task.model.analyse = lambda image: N3DOutput(mask_logits=perfect.mask_logits, coeffs=truth + 0.5)
    assert float(task.n3d_losses(b)["coef"]) == pytest.approx(0.5, abs=1e-6)


def test_discriminator_gradient_penalty(repo, datamodule):
    task = build_task(tiny_cfg(repo))
    b = first_batch(datamodule)
    fake = torch.rand_like(b["target"])
    terms = task.discriminator_losses(b["target"], fake, b["mask"])
    assert torch.isfinite(terms["d_loss"]) and float(terms["gp"]) > 0
    assert float(terms["d_loss"]) == pytest.approx(float(terms["d"] + task.cfg.loss.w_gp * terms["gp"]), rel=1e-5)
    terms["d_loss"].backward()
    assert all(p.grad is not None for p in task.disc.parameters())
    w = torch.randn(b["target"][0].shape)
    w = w / w.norm()

    class UnitSlope(torch.nn.Module):  # D(x) = <w, x> with |w| = 1: input gradient norm 1, so WGAN-GP = 0
        def forward(self, x, mask):
            return (x * w).flatten(1).sum(1)

    task.disc = UnitSlope()
    assert float(task.discriminator_losses(b["target"], fake, b["mask"])["gp"]) == pytest.approx(0.0, abs=1e-8)


def test_face_model_must_match_the_dataset(repo, tiny_data):
    with pytest.raises(ValueError, match="simulated with face model 'builtin', but model.face_model is 'sfm'"):
        build_datamodule(tiny_cfg(repo, ["model.face_model=sfm"]), tiny_data)


def test_manual_optimisation_needs_grad_clip_off(repo):
    with pytest.raises(ValueError, match="train.grad_clip: unmask3d trains with manual"):
        build_task(tiny_cfg(repo, ["train.grad_clip=1.0"]))


@pytest.fixture(scope="module")
def trained(repo, tiny_data, tmp_path_factory):
    """Fit tiny (2 N3D steps, 2 generator steps) recording parameters around every batch."""
    out = tmp_path_factory.mktemp("unmask3d")
    lines = (tiny_data / "test.csv").read_text().splitlines()
    small = out / "test_small.csv"
    small.write_text("\n".join(lines[:7]) + "\n")
    cfg = tiny_cfg(repo, [f"data.test_csv={small}"])
    record: list[dict] = []

    def snap(task: Unmask3DTask) -> dict:
        parts = {"n3d": task.model.n3d, "gen": task.model.generator, "disc": task.disc}
        return {k: torch.cat([p.detach().flatten() for p in m.parameters()]).clone() for k, m in parts.items()}

    def start(self, batch, batch_idx):
        record.append({"phase": self.phase()[0], "before": snap(self)})

    def end(self, outputs, batch, batch_idx):
        record[-1]["after"] = snap(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Unmask3DTask, "on_train_batch_start", start, raising=False)
        mp.setattr(Unmask3DTask, "on_train_batch_end", end, raising=False)
        summary = fit(cfg, tiny_data, out / "run", resume=False)
    return out, summary, record


def test_two_phase_training_freezes_the_n3d(trained):
    out, summary, record = trained
    assert summary["global_step"] == 4  # one Lightning step per batch, also in the GAN phase
    assert [r["phase"] for r in record] == ["n3d", "n3d", "generator", "generator"]
    for r in record:
        changed = {k: not torch.equal(r["before"][k], r["after"][k]) for k in ("n3d", "gen", "disc")}
        if r["phase"] == "n3d":
            assert changed == {"n3d": True, "gen": False, "disc": False}
        else:
            assert changed == {"n3d": False, "gen": True, "disc": True}
    cfg, model, extra = load_run(out / "run", ("unmask3d",))
    assert bool(model.coef_stats_set) and extra["step"] >= 2


def test_noise_gives_different_completions_and_same_noise_the_same(trained, tiny_data):
    out, _, _ = trained
    cfg, model, _ = load_run(out / "run", ("unmask3d",))
    renderer = Renderer(cfg.model.face_model, "", cfg.model.render_grid_deg, cfg.data.image_size)
    from thzface.data.io import load_image

    names = sorted((tiny_data / "thz").glob("*_b1b_*.png"))[:2]
    image = torch.from_numpy(np.stack([load_image(p, 16, 1) for p in names]))
    a = analyse(model, renderer, image, mask=torch.ones(2, 1, 16, 16))
    y1, y1b, y2 = (complete(model, image, a, [s, s]) for s in (1, 1, 2))
    assert torch.equal(y1, y1b)
    assert (y1 - y2).abs().mean() > 1e-5


def test_eval_and_predict(trained, tiny_data):
    out, _, _ = trained
    from thzface.recipes import UNMASK3D

    PredictOptions = UNMASK3D.predict_options

    evaluate, predict = UNMASK3D.evaluate, UNMASK3D.predict

    metrics = evaluate(out / "run", tiny_data, out / "report")
    saved = json.loads((out / "report" / "metrics.json").read_text())
    assert saved["summary"] == pytest.approx(metrics["summary"], nan_ok=True)
    assert 0.0 <= metrics["mask"]["iou"] <= 1.0 and metrics["rows"] == 6
    rec = metrics["reconstruction"]
    assert {"unmask3d", "unmask3d@true_mask", "unmask3d@oracle_render", "input_as_is", "mean_fill@true_mask"} <= set(
        rec
    )
    # copy-the-input against the clean target at the concealed scan's pose, recomputed from the files (16 px)
    from thzface.data.csv import read_triplets
    from thzface.data.io import load_image
    from thzface.data.targets import load_clean_target
    from thzface.metrics.reconstruction import ssim

    rows = read_triplets(out / "test_small.csv", tiny_data)
    conc = np.stack([load_image(tiny_data / "thz" / r.anchor, 16) for r in rows])  # (N, 1, 16, 16)
    clean = np.stack([load_clean_target(tiny_data, r.anchor, 16) for r in rows])
    assert rec["input_as_is"]["clean_ssim"] == pytest.approx(float(np.mean(ssim(conc, clean))), abs=1e-9)
    s = metrics["summary"]
    assert s["baseline_copy_clean_ssim"] == rec["input_as_is"]["clean_ssim"] and s["clean_ssim"] < 1
    assert {"baseline_copy_ssim", "head_ssim", "baseline_copy_head_ssim", "clean_head_ssim"} <= set(s)
    assert {"mask_ssim", "clean_mask_ssim", "head_psnr"} <= set(rec["unmask3d"])
    page = (out / "report" / "report.html").read_text()
    assert "clean target rendered" in page and "clean target: the noise-free" in page  # the grid shows it
    assert metrics["coefficients"]["predict_mean"]["standardised_l1"] > 0
    assert "no embedder" in metrics["identity"]["note"]
    assert (out / "report" / "report.html").is_file() and (out / "report" / "samples.png").is_file()
    img = sorted((tiny_data / "thz").glob("*_b1b_1.png"))[0]
    args = PredictOptions(samples=2, edits=("expression=happiness:0.5",), seed=3)
    res = predict(out / "run", [img], out / "pred", args)
    assert res["images"] == 1 and (out / "pred" / f"{img.stem}_s2.png").is_file()
    rec0 = json.loads((out / "pred" / "predictions.json").read_text())[0]
    assert rec0["coefficients"]["expression"][1] == 0.5  # smile set by the edit
    with pytest.raises(ValueError, match="unknown expression"):
        predict(
            out / "run",
            [img],
            out / "pred",
            PredictOptions(edits=("expression=x:1",)),
        )
