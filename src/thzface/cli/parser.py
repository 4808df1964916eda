"""The ``thzface`` argument tree: one sub-parser per verb, bound to its handler in ``data``, ``train`` or ``infer``."""

from __future__ import annotations

import argparse

from thzface.cli import data, infer, train


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="thzface", description="Concealed-face analysis in THz imaging.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")
    sub = p.add_subparsers(dest="verb", required=True)

    s = sub.add_parser("synth", help="simulate a THz face dataset in the seed format")
    s.add_argument("--preset", default="demo", help="tiny|demo|bench-20|twins-20|pretrain-500|pretrain-2k|sfm-20")
    s.add_argument("--preset-file", default=None, help="YAML simulator preset (e.g. from `thzface sim calibrate`)")
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--shard", default=None, help="i/N: write shard i of N only (then run --finalize)")
    s.add_argument("--finalize", action="store_true", help="turn the finished shards in --out into the dataset")
    s.add_argument("overrides", nargs="*", help="dotted key=value overrides of the preset")
    s.set_defaults(fn=data.cmd_synth)

    sm = sub.add_parser("sim", help="calibrate the simulator to real scans, compare dataset statistics")
    smsub = sm.add_subparsers(dest="sim_cmd", required=True)
    cal = smsub.add_parser("calibrate", help="fit sensor/scene parameters to a folder → simulator preset YAML")
    cal.add_argument("dir")
    cal.add_argument("--out", required=True)
    cal.add_argument("--seed", type=int, default=0)
    cmp_ = smsub.add_parser("compare", help="dataset statistics of two folders side by side, with a plot")
    cmp_.add_argument("dir_a")
    cmp_.add_argument("dir_b")
    cmp_.add_argument("--out", default=None, help="PNG of the comparison plot")
    sm.set_defaults(fn=data.cmd_sim)

    d = sub.add_parser("data", help="check, split or compare dataset folders")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    c = dsub.add_parser("check", help="validate a dataset folder (exit 0 only when clean)")
    c.add_argument("dir")
    c.add_argument("--csv", default=None)
    sp = dsub.add_parser("split", help="write train_val.csv and test.csv")
    sp.add_argument("dir")
    sp.add_argument("--protocol", choices=["closed-set", "identity-disjoint", "mixed", "none"], required=True)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--negatives", choices=["random", "hard"], default="random")
    ov = dsub.add_parser("overlap", help="people two folders share, by geometry (exit 1 when any)")
    ov.add_argument("dir_a")
    ov.add_argument("dir_b")
    d.set_defaults(fn=data.cmd_data)

    t = sub.add_parser("train", help="train a recipe from a YAML config or a shipped preset (see `thzface configs`)")
    t.add_argument("config", help="config file, or a preset name such as mtl-default")
    t.add_argument("--data", default=None, help="dataset folder, or sim:<preset> (default sim:demo)")
    t.add_argument("--out", required=True)
    t.add_argument(
        "--init-from",
        default=None,
        help="run folder, weights file or pretrained:NAME (shipped, e.g. pretrained:mtl-default) whose weights "
        "initialise the model (fine-tuning)",
    )
    res = t.add_mutually_exclusive_group()
    res.add_argument(
        "--resume",
        dest="resume",
        action="store_true",
        default=None,
        help="continue the run in --out with the config saved there (default: resume only when the configs match)",
    )
    res.add_argument("--no-resume", dest="resume", action="store_false", help="clear the run in --out, start over")
    t.add_argument("overrides", nargs="*", help="dotted key=value config overrides")
    t.set_defaults(fn=train.cmd_train)

    cf = sub.add_parser(
        "configs", help="list the shipped config presets (usable by name in `thzface train`) and pretrained weights"
    )
    cf.set_defaults(fn=train.cmd_configs)

    e = sub.add_parser("eval", help="evaluate a run on a dataset's test.csv → metrics.json + report.html")
    e.add_argument("run")
    e.add_argument("--data", default=None, help="dataset folder or sim:<preset> (default: the run's training data)")
    e.add_argument("--out", required=True)
    e.add_argument(
        "--adapt",
        choices=["none", "site"],  # engine.evaluate.ADAPT_MODES (literal: the parser imports no torch; tested)
        default="none",
        help="site: BatchNorm statistics of each scanner from unlabeled scans of other people (embedders)",
    )
    e.set_defaults(fn=train.cmd_eval)

    pr = sub.add_parser("predict", help="run a trained model on images or folders")
    pr.add_argument("run")
    pr.add_argument("inputs", nargs="+")
    pr.add_argument("--out", required=True)
    pr.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    pr.add_argument("--mask", default=None, help="mask image or folder (inpainting recipes)")
    pr.add_argument("--samples", type=int, default=1, help="completions per image (unmask3d)")
    pr.add_argument("--edit", action="append", default=[], help="coefficient edit, e.g. expression=happiness:0.5")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument(
        "--task", choices=["all", "verify"], default="all", help="verify: embeddings only (embedders: mtl, distill)"
    )
    pr.set_defaults(fn=infer.cmd_predict)

    v = sub.add_parser(
        "verify", help="same person? score two THz scans (A B), or several a side (A [A2 ...] --against B [B2 ...])"
    )
    v.add_argument("run")
    v.add_argument("scans", nargs="+", metavar="SCAN", help="A B; or, with --against, every scan of side A")
    v.add_argument(
        "--against", nargs="+", default=None, metavar="B",
        help="side B's scans: each side's embeddings are fused (unit mean) and compared once (embedder runs)",
    )  # fmt: skip
    v.add_argument("--threshold", type=float, default=None, help="default: RUN/threshold.json (fit in training)")
    v.add_argument(
        "--backend", choices=["torch", "onnx"], default="torch",
        help="onnx: RUN/model-verify.onnx (make it with `thzface export onnx RUN --task verify`)",
    )  # fmt: skip
    v.set_defaults(fn=infer.cmd_verify)

    ad = sub.add_parser(
        "adapt",
        help="an embedder's BatchNorm statistics re-estimated on a new scanner's unlabeled scans → OUT.safetensors",
    )
    ad.add_argument("run", help="embedder run, weights file or pretrained:NAME")
    ad.add_argument("scans", nargs="+", metavar="SCAN", help="THz scans of the new scanner: files or folders")
    ad.add_argument("--out", required=True, help="the adapted weights file (.safetensors; never overwritten)")
    ad.add_argument("--seed", type=int, default=0, help="order of the scans in the BatchNorm batches")
    ad.set_defaults(fn=infer.cmd_adapt)

    b = sub.add_parser("bench", help="benchmarks (write OUT/bench.json)")
    b.add_argument(
        "what", help="sim | mtl | ladder | infer | onnx | serve | inpaint | distill | twin | unmask3d | calibrate"
    )
    b.add_argument("--data", default=None)
    b.add_argument("--budget-s", type=float, default=600.0)
    b.add_argument("--out", required=True)
    b.add_argument("--workers", type=int, default=2)
    b.add_argument("--seeds", type=int, default=1)
    b.add_argument(
        "--init-from",
        default=None,
        help="mtl: run or weights the *-pretrained arms fine-tune from; distill: the start of every arm; twin: of "
        "the global embedder (default pretrained:mtl-default); inpaint: the start of the default-pretrained arm "
        "(default pretrained:inpaint-default)",
    )
    b.add_argument("--preset", default=None, help="sim: simulator preset (default bench-20)")
    b.add_argument(
        "overrides",
        nargs="*",
        help="sim: dotted key=value overrides of the simulator preset; mtl, distill, inpaint, twin, unmask3d: config "
        "overrides every trained arm takes last (e.g. train.precision=bf16-mixed)",
    )
    b.add_argument(
        "--arms",
        default=None,
        help="mtl: comma-separated arms (default, paper, default-pretrained, adapted, lean-s2[-pretrained]; "
        "ARM+mirror, ARM+single-view, ARM+pose-curriculum, ARM+positive-target, ARM+gallery-views, ARM+freeze-bn, "
        "ARM+no-margin: "
        "an arm with that training change); distill: arms beside mtl and distill-joint (e.g. mtl-steps); twin: "
        "systems (fused, fused-mlp, parts); inpaint: presets (default, paper; default always) and "
        "default-pretrained (default fine-tuned from --init-from); unmask3d: no-prior, inpaint, visible",
    )
    b.set_defaults(fn=train.cmd_bench)

    ir = sub.add_parser("import-reference", help="import the reference repo's released THz-only checkpoint")
    ir.add_argument("ckpt")
    ir.add_argument("--out", required=True)
    ir.set_defaults(fn=train.cmd_import_reference)
    ex = sub.add_parser("export", help="export a run for deployment")
    exsub = ex.add_subparsers(dest="export_cmd", required=True)
    onnx = exsub.add_parser("onnx", help="ONNX model (verify: embedding only; all: + posture + reconstruction)")
    onnx.add_argument("run")
    onnx.add_argument("--task", choices=["verify", "all"], default="all", help="graph: verify = embed() only")
    onnx.add_argument("--out", default=None, help="default: RUN/model.onnx (all), RUN/model-verify.onnx (verify)")
    onnx.add_argument("--check", action="store_true", help="compare onnxruntime with PyTorch on sample inputs")
    ex.set_defaults(fn=infer.cmd_export)

    sv = sub.add_parser("serve", help="local web app + JSON API for a run")
    sv.add_argument("run")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--backend", choices=["torch", "onnx"], default="torch", help="onnx: RUN/model.onnx (onnxruntime)")
    sv.add_argument(
        "--batch",
        type=int,
        default=None,
        help="most images per /api/verify model call (default 16, 1 = off)",
    )
    sv.add_argument("--threads", type=int, default=None, help="model intra-op threads (default 1: HTTP gets a core)")
    sv.set_defaults(fn=infer.cmd_serve)
    return p
