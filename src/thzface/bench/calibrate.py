"""``thzface bench calibrate``: parameter recovery over seeds, then pretraining transfer to a small "real" folder.

Recovery: a hidden scanner (non-default :data:`HIDDEN` values, one display map per seed) simulates a "real"
folder of 20 identities x 5 postures x 3 samples; ``calibrate`` sees only its images. Transfer: the seed-0
folder stands in for a lab's real data; an ``mtl`` model (:data:`TRANSFER_CONFIG`, 32 px) is pretrained on a
large set simulated with the calibrated preset or with the default ``bench-20`` ranges (both drawn per sample),
then fine-tuned on the small folder, against fine-tuning from scratch; scored on that folder's identity-disjoint
test rows. The hidden scanner fixes the fitted values; its other settings follow :data:`HIDDEN_INSTRUMENT`.
``--budget-s`` is the training time per training seed: 30 % per pretraining run, 13.3 % per fine-tuning run.
``--seeds N``: max(3, N) recovery seeds and N training seeds. An interrupted run resumes in the same ``--out``:
simulated folders, calibrations and pretraining runs found there are reused (delete ``OUT`` to start afresh).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from thzface.bench import format_table
from thzface.calibrate.params import PARAMS, apply_params
from thzface.calibrate.preset import calibration_path
from thzface.calibrate.run import calibrate
from thzface.recipes import find_config, load_config
from thzface.sim.presets import get_preset, save_preset_file

BASE = "bench-20"
HIDDEN = {  # the hidden scanner: every value away from the bench-20 range midpoints
    "psf_fwhm_mm": 7.0, "lobe_deg": 3.5, "snr_db": 22.0, "dynamic_range_db": 25.0, "row_gain_sigma": 0.08,
    "row_offset_sigma": 0.012, "ar_rho": 0.9, "drop_row_frac": 0.01, "drop_pixel_frac": 0.003,
    "diffuse_skin": 0.2, "fabric_loss_scale": 2.0,
}  # fmt: skip
HIDDEN_INSTRUMENT = "per_dataset"  # one scanner: its unfitted settings are one draw, as for a real lab's data
DISPLAYS = ("sqrt", "db", "linear")  # recovery seed i hides display map DISPLAYS[i % 3]
REAL = ["identities.count=20", "identities.twin_pairs=0", "samples=3"]  # 300 samples, 600 scans
PRETRAIN = ["identities.count=60", "identities.twin_pairs=0", "samples=2"]  # 600 samples, 1200 scans
# a small mtl model at 32 px, constant learning rate (a time budget has no schedule length): the transfer runs
# must take hundreds of steps within the budget on two CPU cores; mtl-default's augmentation
TRANSFER_CONFIG = "mtl-tiny"
TRANSFER_OVERRIDES = ["train.max_steps=-1", "train.max_epochs=100000", "train.schedule=constant",
                      "train.batch_size=32", "train.progress=false", "train.val_every=1.0",
                      "aug.profile=scan", "aug.p=0.5", "aug.paired=true"]  # fmt: skip
TRANSFER_KEYS = ["idd_eer", "idd_roc_auc", "idd_tar@far=0.01", "ssim", "psnr", "posture_acc", "steps"]


def effective_truth(values: dict[str, float]) -> dict[str, float]:
    """True values as the images show them: the simulator caps the display range at SNR + 3 dB (sim.sample)."""
    out = dict(values)
    out["dynamic_range_db"] = min(values["dynamic_range_db"], values["snr_db"] + 3.0)
    return out


def recovery_table(truth: dict[str, float], runs: list[dict]) -> str:
    """parameter | true | fitted +- sigma per seed (display map) | mean |error| / sigma."""
    head = f"{'parameter':20}{'true':>9}" + "".join(
        f"{'seed' + str(i) + ' ' + r['display']:>22}" for i, r in enumerate(runs)
    )
    lines = [head + f"{'|err|/σ':>9}{'ident.':>8}"]
    for p in PARAMS:
        cells, z, ident = "", [], 0
        for r in runs:
            e = r["parameters"][p.name]
            if not e["fitted"]:
                cells += f"{'not fitted':>22}"
                continue
            mark = "" if e["identified"] else "*"
            cells += f"{e['value']:.4g} ± {e['sigma']:.2g}{mark}".rjust(22)
            z.append(abs(e["value"] - truth[p.name]) / max(e["sigma"], 1e-12))
            ident += int(e["identified"])
        zs = f"{min(float(np.mean(z)), 999.0):.2f}" if z else "-"
        lines.append(f"{p.name:20}{truth[p.name]:>9.4g}{cells}{zs:>9}{f'{ident}/{len(z)}':>8}")
    lines.append(
        "display map chosen: "
        + ", ".join(f"seed{i} {r['display']} (true {DISPLAYS[i % 3]})" for i, r in enumerate(runs))
    )
    lines.append("* not identified: the preset keeps the base range for it")
    return "\n".join(lines)


def _synth(out: Path, seed: int, workers: int, overrides: list[str], preset_file: str | None) -> Path:
    from thzface.sim.dataset import synth

    if not (out / "test.csv").is_file():
        synth(BASE if preset_file is None else None, out, seed, workers, overrides, preset_file, progress=False)
    return out


def train_eval(data: Path, out: Path, budget_s: float, seed: int, init_run: Path | None) -> dict:
    """Train :data:`TRANSFER_CONFIG` on ``data`` for ``budget_s`` (optionally from ``init_run``); evaluate on
    its test rows."""
    from thzface.bench.mtl import flatten
    from thzface.recipes import MTL
    from thzface.recipes import train as fit

    cfg = load_config(find_config(TRANSFER_CONFIG), [*TRANSFER_OVERRIDES, f"train.max_time_s={budget_s}",
                                                     f"train.seed={seed}"])  # fmt: skip
    summary = fit(cfg, data, out / "run", init_run=init_run, resume=False)
    row = flatten(MTL.evaluate(out / "run", data, out / "report"))
    row.update(steps=summary["global_step"], train_seconds=summary["seconds"])
    return row


def transfer(real: Path, preset: Path, out: Path, budget_s: float, seeds: int, workers: int) -> dict:
    """Pretrain on calibrated / default simulations, fine-tune on ``real``; versus no pretraining."""
    default = [*PRETRAIN, "instrument=per_sample"]
    pre = {"calibrated": _synth(out / "pretrain-calibrated", 7, workers, PRETRAIN, str(preset)),
           "default": _synth(out / "pretrain-default", 7, workers, default, None)}  # fmt: skip
    rows: dict[str, list[dict]] = {"none": [], "default": [], "calibrated": []}
    for s in range(seeds):
        for name in rows:
            init = None
            if name != "none":
                init = out / f"pre-{name}-s{s}" / "run"
                if not (init / "model.safetensors").is_file():
                    train_eval(pre[name], init.parent, 0.3 * budget_s, s, None)
            rows[name].append(train_eval(real, out / f"ft-{name}-s{s}", budget_s * 0.4 / 3, s, init))
    mean = {
        n: {k: float(np.nanmean([r[k] for r in v if r.get(k) is not None])) for k in TRANSFER_KEYS}
        for n, v in rows.items()
    }
    return {"runs": rows, "mean": mean, "table": format_table(mean, TRANSFER_KEYS, first="pretraining")}


def run(args) -> dict:
    t0 = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = get_preset(BASE)
    n_rec = max(3, int(args.seeds))
    truth = effective_truth(HIDDEN)
    runs = []
    for i in range(n_rec):
        hidden = out / f"hidden-{DISPLAYS[i % 3]}.yaml"
        save_preset_file(apply_params(base, HIDDEN, DISPLAYS[i % 3], instrument=HIDDEN_INSTRUMENT), hidden)
        real = _synth(out / f"real-seed{i}", 100 + i, args.workers, REAL, str(hidden))
        preset = out / f"seed{i}" / "preset.yaml"
        done = calibration_path(preset)  # an interrupted bench resumes: finished calibrations are read back
        rep = json.loads(done.read_text()) if done.is_file() else calibrate(real, preset, seed=i, base=BASE,
                                                                            workers=args.workers)  # fmt: skip
        runs.append({k: rep[k] for k in ("display", "parameters", "display_scores", "fit", "statistics", "table")})
    rec_table = recovery_table(truth, runs)
    t_rec = time.time() - t0
    tr = transfer(out / "real-seed0", out / "seed0" / "preset.yaml", out / "transfer", args.budget_s,
                  max(1, int(args.seeds)), args.workers)  # fmt: skip
    return {
        "hidden": HIDDEN, "truth": truth, "recovery": runs, "transfer": tr, "budget_s": args.budget_s,
        "seconds": {"recovery": t_rec, "total": time.time() - t0},
        "table": "parameter recovery (hidden scanner, 600 scans each)\n" + rec_table
        + f"\n\ntransfer: identity-disjoint test of the small folder (training budget {args.budget_s:.0f} s)\n"
        + tr["table"],
    }  # fmt: skip
