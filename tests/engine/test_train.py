"""Engine: fit, checkpoint round trip, resume (step and learning rate come back), NaN guard, init-from."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from thzface.config import save_config
from thzface.engine.checkpoint import RunError, read_metadata
from thzface.engine.task import NonFiniteLossError
from thzface.recipes import load_config, load_run
from thzface.recipes import train as fit


def tiny_cfg(repo, *overrides):
    return load_config(repo / "configs" / "mtl-tiny.yaml", list(overrides))


def last_state(run):
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")


def test_fit_writes_run_and_weights_round_trip(repo, tiny_data, tmp_path):
    run = tmp_path / "run"
    summary = fit(tiny_cfg(repo, "train.max_steps=4"), tiny_data, run)
    assert summary["global_step"] == 4
    for name in (
        "config.yaml",
        "model.safetensors",
        "checkpoints/last.ckpt",
        "logs/metrics.csv",
        "curves.png",
    ):
        assert (run / name).is_file(), name
    assert any((run / "tb").rglob("events.out.tfevents*"))
    cfg, model, extra = load_run(run)
    assert cfg.recipe == "mtl" and "step" in extra
    saved = load_file(str(run / "model.safetensors"))
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    assert read_metadata(run / "model.safetensors")["recipe"] == "mtl"


def test_fit_in_bfloat16_mixed_precision(repo, tiny_data, tmp_path):
    # the CPU's mixed precision (autocast to bfloat16; native on CPUs with AMX / AVX-512 BF16): validation scores in
    # float32 (numpy reads no bfloat16), and the weights stay float32
    run = tmp_path / "run"
    summary = fit(tiny_cfg(repo, "train.max_steps=4", "train.precision=bf16-mixed"), tiny_data, run)
    assert summary["global_step"] == 4 and summary["best"] == summary["best"]  # a finite validation score
    assert {v.dtype for v in load_file(str(run / "model.safetensors")).values() if v.is_floating_point()} == {
        torch.float32
    }


def test_ema_weights_are_the_ones_validated_and_exported(repo, tiny_data, tmp_path):
    # train.ema: validation, best.ckpt and model.safetensors all hold the moving average, not the current weights
    run = tmp_path / "run"
    fit(tiny_cfg(repo, "train.max_steps=6", "train.val_every=2", "train.ema=0.5"), tiny_data, run)
    best = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True, map_location="cpu")
    exported = load_file(str(run / "model.safetensors"))
    for k, v in exported.items():
        assert torch.equal(v, best["ema_state"][f"module.{k}"]), k  # the exported weights are the validated ones
    assert int(last_state(run)["ema_state"]["n_averaged"]) == 6  # one update per step
    current, average = best["state_dict"], best["ema_state"]  # during training: resume continues from the current
    assert any(not torch.equal(v, average[f"module.{k[6:]}"]) for k, v in current.items()
               if k.startswith("model.") and v.is_floating_point())  # fmt: skip
    with pytest.raises(ValueError, match=r"train.ema must be in \(0, 1\)"):
        fit(tiny_cfg(repo, "train.max_steps=2", "train.ema=1.5"), tiny_data, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_an_interrupted_ema_run_resumes_its_average(repo, tiny_data, tmp_path):
    # a run stopped at step 2 (inside its first epoch of 3 batches) and resumed to 6 holds the same average and
    # current weights as one run straight to 6: the average is restored, the final checkpoint of the stopped run keeps
    # its current weights (not the average it exports), and the resumed epoch goes on from its third batch (before:
    # it restarted the epoch). A schedule that does not depend on max_steps (dropout is seeded per step).
    args = ("train.schedule=constant", "train.warmup_frac=0", "train.ema=0.5", "train.val_every=3")
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    fit(tiny_cfg(repo, "train.max_steps=6", *args), tiny_data, straight)
    fit(tiny_cfg(repo, "train.max_steps=2", *args), tiny_data, resumed)
    assert int(last_state(resumed)["ema_state"]["n_averaged"]) == 2
    save_config(tiny_cfg(repo, "train.max_steps=6", *args), resumed / "config.yaml")  # interrupted at 2 of 6
    summary = fit(tiny_cfg(repo, "train.max_steps=6", *args), tiny_data, resumed)
    assert summary["resumed_from"].endswith("last.ckpt") and summary["global_step"] == 6
    a, b = last_state(straight), last_state(resumed)
    assert int(b["ema_state"]["n_averaged"]) == 6 and b["ema_updated_at"] == 6
    for k, v in a["ema_state"].items():
        torch.testing.assert_close(b["ema_state"][k], v, msg=k)
    for k, v in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][k], v, msg=k)


def test_resume_restores_step_and_lr(repo, tiny_data, tmp_path):
    """Same config: the rerun resumes from last.ckpt; step, LR schedule and weights match a straight run."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    fit(tiny_cfg(repo, "train.max_steps=6"), tiny_data, straight)
    fit(tiny_cfg(repo, "train.max_steps=6"), tiny_data, resumed)
    summary = fit(tiny_cfg(repo, "train.max_steps=6"), tiny_data, resumed)  # a finished run: resumed, nothing to do
    assert summary["resumed_from"].endswith("last.ckpt") and summary["global_step"] == 6
    a, b = last_state(straight), last_state(resumed)
    assert a["global_step"] == b["global_step"] == 6
    lr_a = a["optimizer_states"][0]["param_groups"][0]["lr"]
    lr_b = b["optimizer_states"][0]["param_groups"][0]["lr"]
    assert abs(lr_a - lr_b) < 1e-12
    assert a["lr_schedulers"][0]["last_epoch"] == b["lr_schedulers"][0]["last_epoch"] == 6


def test_differing_config_needs_resume_or_no_resume(repo, tiny_data, tmp_path):
    run = tmp_path / "run"
    fit(tiny_cfg(repo, "train.max_steps=2"), tiny_data, run)
    saved = (run / "config.yaml").read_text()
    with pytest.raises(ValueError, match=r"different config \(loss.w_rec, train.max_steps\); pass --resume"):
        fit(tiny_cfg(repo, "train.max_steps=3", "loss.w_rec=0.5"), tiny_data, run)
    assert (run / "config.yaml").read_text() == saved  # the folder's config was not overwritten
    kept = fit(tiny_cfg(repo, "train.max_steps=3", "loss.w_rec=0.5"), tiny_data, run, resume=True)
    assert kept["global_step"] == 2 and (run / "config.yaml").read_text() == saved  # its own config: done at 2
    fresh = fit(tiny_cfg(repo, "train.max_steps=3", "loss.w_rec=0.5"), tiny_data, run, resume=False)
    assert fresh["resumed_from"] is None and fresh["global_step"] == 3
    assert load_run(run)[0].loss.w_rec == 0.5
    with pytest.raises(ValueError, match="no config.yaml to resume"):
        fit(tiny_cfg(repo), tiny_data, tmp_path / "new", resume=True)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(repo, tiny_data, tmp_path):
    run = tmp_path / "run"
    fit(tiny_cfg(repo, "train.max_steps=2"), tiny_data, run)
    before = (run / "model.safetensors").read_bytes()
    bad = tiny_cfg(repo, "train.max_steps=4", "loss.w_rec=.nan")
    save_config(bad, run / "config.yaml")  # the folder's config edited: the rerun resumes at step 2 with it
    with pytest.raises(NonFiniteLossError, match="non-finite loss at step 2"):
        fit(bad, tiny_data, run)
    assert (run / "model.safetensors").read_bytes() == before
    assert last_state(run)["global_step"] == 2


def test_init_from_copies_weights(repo, tiny_data, tmp_path):
    fit(tiny_cfg(repo, "train.max_steps=2"), tiny_data, tmp_path / "pre")
    summary = fit(tiny_cfg(repo, "train.max_steps=1"), tiny_data, tmp_path / "fine", init_run=tmp_path / "pre")
    assert summary["init_from"]["copied"] > 10 and summary["init_from"]["skipped"] == []


def test_run_errors(repo, tiny_data, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="no model.safetensors in the run folder"):
        load_run(tmp_path / "empty")
    fit(tiny_cfg(repo, "train.max_steps=1"), tiny_data, tmp_path / "run")
    with pytest.raises(RunError, match="weights of recipe 'mtl', expected 'inpaint'"):
        load_run(tmp_path / "run", ("inpaint",))
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(RunError, match="not a readable safetensors file"):
        load_run(tmp_path / "bad.safetensors")


def test_validation_every_n_steps_counts_steps_across_epochs(repo, tiny_data, tmp_path):
    import csv

    run = tmp_path / "run"
    fit(tiny_cfg(repo, "train.max_steps=10", "train.max_epochs=100", "train.val_every=4"), tiny_data, run)
    rows = list(csv.DictReader(open(run / "logs" / "metrics.csv")))
    validated = [(int(r["epoch"]), int(r["step"])) for r in rows if r.get("val/eer")]
    assert [s for _, s in validated] == [3, 7]  # after steps 4 and 8 (logged at the 0-based step)
    assert validated[-1][0] > validated[0][0]  # epochs shorter than 4 steps: the count ran across them


def test_site_batches_and_training_people_probe(repo, tiny_data, tmp_path):
    """train.pk_domain=site draws each batch from one site of identities.json; train.fit_probe scores as many
    training people as validation people beside validation (fit/eer); the SupCon loss is logged with its
    uniform value; a folder without sites is a one-line error."""
    import csv
    import json
    import math
    import shutil

    from thzface.data.geometry import folder_sites

    sites = folder_sites(tiny_data)
    people = json.loads((tiny_data / "identities.json").read_text())
    assert sites and set(sites) == set(people)
    run = tmp_path / "run"
    fit(tiny_cfg(repo, "train.max_steps=3", "train.pk_domain=site", "train.fit_probe=true", "train.val_every=3"),
        tiny_data, run)  # fmt: skip
    rows = list(csv.DictReader((run / "logs" / "metrics.csv").open()))
    fit_eer = [float(r["fit/eer"]) for r in rows if r.get("fit/eer")]
    val_eer = [float(r["val/eer"]) for r in rows if r.get("val/eer")]
    assert fit_eer and val_eer and all(0.0 <= v <= 1.0 for v in fit_eer)
    uniform = {float(r["train/supcon_uniform"]) for r in rows if r.get("train/supcon_uniform")}
    assert len(uniform) == 1 and uniform.pop() == pytest.approx(math.log(8 - 1))  # batch 8: log(B − 1)
    bare = tmp_path / "bare"
    shutil.copytree(tiny_data, bare)
    (bare / "identities.json").unlink()
    with pytest.raises(ValueError, match=r"identities.json: not found; train.pk_domain=site"):
        fit(tiny_cfg(repo, "train.max_steps=1", "train.pk_domain=site"), bare, tmp_path / "run2")
    split_sites = tmp_path / "sites"  # data.val_sites: whole scanners held out for validation
    shutil.copytree(tiny_data, split_sites)
    where = {p: f"s{i % 3}" for i, p in enumerate(sorted(people))}
    for p in people:
        people[p]["traits"]["site"] = where[p]
    (split_sites / "identities.json").write_text(json.dumps(people))
    fit(tiny_cfg(repo, "train.max_steps=1", "data.val_sites=1"), split_sites, tmp_path / "run3")
    split = json.loads((tmp_path / "run3" / "split.json").read_text())
    assert len({where[p] for p in split["val"]}) == 1 and not {where[p] for p in split["train"]} & {
        where[p] for p in split["val"]
    }
    with pytest.raises(ValueError, match=r"val_sites=1: the world has 1 site"):
        fit(tiny_cfg(repo, "train.max_steps=1", "data.val_sites=1"), tiny_data, tmp_path / "run4")


def test_bf16_on_a_cpu_without_native_bfloat16_warns(repo, monkeypatch, caplog):
    from thzface.engine import train as T

    cfg = tiny_cfg(repo, "train.precision=bf16-mixed", "train.accelerator=cpu")
    monkeypatch.setattr(T, "cpu_has_native_bf16", lambda: False)
    with caplog.at_level("WARNING"):
        assert T._precision(cfg) == "bf16-mixed"
    assert "emulated, slower than 32-true" in caplog.text
    caplog.clear()
    monkeypatch.setattr(T, "cpu_has_native_bf16", lambda: True)
    assert T._precision(cfg) == "bf16-mixed" and not caplog.text
    assert T._precision(tiny_cfg(repo, "train.accelerator=cpu")) == "32-true"  # auto on a CPU: float32


def test_freeze_bn_keeps_the_start_statistics_and_learns_the_rest(repo, tiny_data, tmp_path):
    fit(tiny_cfg(repo, "train.max_steps=2"), tiny_data, tmp_path / "pre")
    start = last_state(tmp_path / "pre")["state_dict"]
    stats = [k for k in start if k.endswith(("running_mean", "running_var"))]
    assert stats
    for freeze in (True, False):
        run = tmp_path / f"fine-{freeze}"
        over = ("train.max_steps=3", f"train.freeze_bn={0 if freeze else 1}", "train.val_every=2")  # validates at 2
        fit(tiny_cfg(repo, *over), tiny_data, run, init_run=tmp_path / "pre")
        end = last_state(run)["state_dict"]
        assert "val/score" in (run / "logs" / "metrics.csv").read_text()  # a validation ran between training steps
        same = [torch.equal(start[k], end[k]) for k in stats]
        assert all(same) if freeze else not any(same)  # validation in between does not unfreeze them
        weights = [k for k in start if k.endswith("weight") and start[k].dim() == 4]
        assert any(not torch.equal(start[k], end[k]) for k in weights)  # the convolutions still learn


def test_freeze_bn_from_a_share_of_training(repo, tiny_data, tmp_path):
    # progress = steps done / 4: the first two steps update the statistics, the last two (progress >= 0.5) do not
    tracked = {}
    for share in ("1", "0.5"):
        fit(tiny_cfg(repo, "train.max_steps=4", f"train.freeze_bn={share}"), tiny_data, tmp_path / share)
        state = last_state(tmp_path / share)["state_dict"]
        tracked[share] = [int(v) for k, v in state.items() if k.endswith("num_batches_tracked")]
    assert tracked["1"] and all(t > 0 for t in tracked["1"])
    assert [2 * t for t in tracked["0.5"]] == tracked["1"]
    with pytest.raises(ValueError, match="train.freeze_bn must be a share"):
        fit(tiny_cfg(repo, "train.max_steps=1", "train.freeze_bn=1.5"), tiny_data, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
