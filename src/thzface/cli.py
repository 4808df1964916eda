"""``thzface <verb>``: each verb parses its arguments and calls the modules that do the work."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from thzface.config import ConfigError
from thzface.report import dumps
from thzface.sim.dataset import resolve_data, synth

# Validated user errors (bad config, missing or foreign file, bad argument): one line, exit 2. Anything else
# (KeyError, TypeError, AttributeError, ...) is a bug and keeps its traceback.
REPORTED_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    ValueError,
    FileNotFoundError,
    NotADirectoryError,
    PermissionError,
    IsADirectoryError,
)


def _print_json(obj: dict) -> None:
    print(dumps(obj))


def cmd_synth(a: argparse.Namespace) -> int:
    res = synth(
        a.preset, Path(a.out), a.seed, a.workers, a.overrides, a.preset_file, shard=a.shard, finalize=a.finalize
    )
    _print_json(res)
    print(f"dataset written to {a.out} (contact sheet: {Path(a.out) / 'contact_sheet.png'})")
    return 0


def cmd_data(a: argparse.Namespace) -> int:
    if a.data_cmd == "check":
        from thzface.data.check import check_dataset

        problems = check_dataset(Path(a.dir), csv=Path(a.csv) if a.csv else None)
        for p in problems:
            print(str(p))
        errors = [p for p in problems if p.level == "error"]
        print(f"{a.dir}: {len(errors)} error(s), {len(problems) - len(errors)} warning(s)", file=sys.stderr)
        return 1 if errors else 0
    from thzface.data.split import write_split

    _print_json(write_split(Path(a.dir), protocol=a.protocol, seed=a.seed, negatives=a.negatives))
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    from thzface.engine.train import fit
    from thzface.recipes import get_recipe, load_config

    cfg = load_config(a.config, a.overrides)
    data = resolve_data(a.data, seed=cfg.train.seed)
    summary = fit(get_recipe(cfg.recipe), cfg, data, Path(a.out), init_run=a.init_from, resume=a.resume)
    _print_json(summary)
    print(f"run written to {a.out} (weights: {Path(a.out) / 'model.safetensors'})")
    return 0


def cmd_configs(a: argparse.Namespace) -> int:
    from thzface.engine.checkpoint import PRETRAINED, PRETRAINED_DIR, pretrained_names
    from thzface.recipes import find_config, preset_names

    for name in preset_names():
        print(f"{name:18s} {find_config(name)}")
    for name in pretrained_names():  # shipped weights, for --init-from
        print(f"{PRETRAINED + name:18s} {PRETRAINED_DIR / (name + '.safetensors')}")
    return 0


def eval_data(run: Path, spec: str | None) -> Path:
    """``--data`` of ``eval``, or the folder the run trained on (its test.csv holds the unseen people)."""
    from thzface.engine.infer import SPLIT, run_data

    if spec is not None:
        return resolve_data(spec)
    recorded = run_data(run)
    if recorded is None:
        raise ValueError(f"{run}: no {SPLIT} recording the training data; pass --data DIR")
    if not recorded.is_dir():
        raise FileNotFoundError(f"{recorded}: the data folder {run} trained on is gone; pass --data DIR")
    return recorded


def cmd_eval(a: argparse.Namespace) -> int:
    from thzface.recipes import recipe_of

    metrics = recipe_of(a.run).evaluate(Path(a.run), eval_data(Path(a.run), a.data), Path(a.out))
    print(dumps(metrics.get("summary", {})))
    print(f"report written to {Path(a.out) / 'report.html'}")
    return 0


def cmd_predict(a: argparse.Namespace) -> int:
    from thzface.engine.recipe import PredictOptions
    from thzface.recipes import recipe_of

    opts = PredictOptions(
        backend=a.backend,
        mask=Path(a.mask) if a.mask else None,
        samples=a.samples,
        edits=tuple(a.edit),
        seed=a.seed,
        task=a.task,
    )
    if opts.samples < 1:
        raise ValueError(f"--samples {opts.samples}: must be >= 1")
    recipe = recipe_of(a.run)
    if opts.task == "verify":
        _need_embedder(a.run, recipe.name, "--task verify")
    _print_json(recipe.predict(Path(a.run), [Path(p) for p in a.inputs], Path(a.out), opts))
    return 0


def _need_embedder(run: str, name: str, option: str) -> None:
    """A one-line error when ``option`` is used on a run whose recipe is not an embedder (mtl, distill)."""
    if name not in ("mtl", "distill"):
        raise ValueError(f"{run}: {option} needs an embedder run (mtl or distill), not {name!r}")


def cmd_verify(a: argparse.Namespace) -> int:
    from thzface.recipes import recipe_of

    recipe = recipe_of(a.run)
    backend = {}
    if a.backend != "torch":  # the embedders' verify takes a backend; twin's and the others' do not
        _need_embedder(a.run, recipe.name, f"--backend {a.backend}")
        backend["backend"] = a.backend
    _print_json(recipe.verify(Path(a.run), Path(a.a), Path(a.b), threshold=a.threshold, **backend))
    return 0


def cmd_bench(a: argparse.Namespace) -> int:
    from thzface.bench import run_bench

    res = run_bench(a.what, a)
    print(res.get("table") or dumps(res))
    print(f"bench written to {Path(a.out) / 'bench.json'}")
    return 0


def cmd_import_reference(a: argparse.Namespace) -> int:
    from thzface.export.importer import import_reference_run
    from thzface.recipes import MTL, find_config

    _print_json(import_reference_run(Path(a.ckpt), Path(a.out), MTL.model, find_config("mtl-paper")))
    return 0


def cmd_sim(a: argparse.Namespace) -> int:
    if a.sim_cmd == "calibrate":
        from thzface.calibrate import calibrate

        res = calibrate(Path(a.dir), Path(a.out), seed=a.seed)
        print(res.get("table") or dumps(res))
        print(f"preset written to {a.out} (use: thzface synth --preset-file {a.out} --out DIR)")
        return 0
    from thzface.calibrate import compare

    res = compare(Path(a.dir_a), Path(a.dir_b), Path(a.out) if a.out else None)
    print(res.get("table") or dumps(res))
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from thzface.export.onnx import export_onnx
    from thzface.recipes import recipe_of

    models = (recipe_of(a.run).model,)
    _print_json(export_onnx(Path(a.run), models, Path(a.out) if a.out else None, check=a.check, task=a.task))
    return 0


def cmd_serve(a: argparse.Namespace) -> int:
    from thzface.serve import serve

    given = {k: v for k, v in (("batch", a.batch), ("threads", a.threads)) if v is not None}  # else serve's defaults
    serve(Path(a.run), host=a.host, port=a.port, backend=a.backend, **given)
    return 0


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
    s.set_defaults(fn=cmd_synth)

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
    sm.set_defaults(fn=cmd_sim)

    d = sub.add_parser("data", help="check or split a dataset folder")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    c = dsub.add_parser("check", help="validate a dataset folder (exit 0 only when clean)")
    c.add_argument("dir")
    c.add_argument("--csv", default=None)
    sp = dsub.add_parser("split", help="write train_val.csv and test.csv")
    sp.add_argument("dir")
    sp.add_argument("--protocol", choices=["closed-set", "identity-disjoint", "mixed"], required=True)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--negatives", choices=["random", "hard"], default="random")
    d.set_defaults(fn=cmd_data)

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
    t.set_defaults(fn=cmd_train)

    cf = sub.add_parser(
        "configs", help="list the shipped config presets (usable by name in `thzface train`) and pretrained weights"
    )
    cf.set_defaults(fn=cmd_configs)

    e = sub.add_parser("eval", help="evaluate a run on a dataset's test.csv → metrics.json + report.html")
    e.add_argument("run")
    e.add_argument("--data", default=None, help="dataset folder or sim:<preset> (default: the run's training data)")
    e.add_argument("--out", required=True)
    e.set_defaults(fn=cmd_eval)

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
    pr.set_defaults(fn=cmd_predict)

    v = sub.add_parser("verify", help="same person? score two THz scans")
    v.add_argument("run")
    v.add_argument("a")
    v.add_argument("b")
    v.add_argument("--threshold", type=float, default=None, help="default: RUN/threshold.json (fit in training)")
    v.add_argument(
        "--backend", choices=["torch", "onnx"], default="torch",
        help="onnx: RUN/model-verify.onnx (make it with `thzface export onnx RUN --task verify`)",
    )  # fmt: skip
    v.set_defaults(fn=cmd_verify)

    b = sub.add_parser("bench", help="benchmarks (write OUT/bench.json)")
    b.add_argument("what", help="sim | mtl | infer | onnx | serve | inpaint | distill | twin | unmask3d | calibrate")
    b.add_argument("--data", default=None)
    b.add_argument("--budget-s", type=float, default=600.0)
    b.add_argument("--out", required=True)
    b.add_argument("--workers", type=int, default=2)
    b.add_argument("--seeds", type=int, default=1)
    b.add_argument("--init-from", default=None, help="mtl: run or weights the *-pretrained arms fine-tune from")
    b.add_argument(
        "--arms",
        default=None,
        help="mtl: comma-separated arms (default, paper, default-pretrained, lean-s2[-pretrained])",
    )
    b.set_defaults(fn=cmd_bench)

    ir = sub.add_parser("import-reference", help="import the reference repo's released THz-only checkpoint")
    ir.add_argument("ckpt")
    ir.add_argument("--out", required=True)
    ir.set_defaults(fn=cmd_import_reference)
    ex = sub.add_parser("export", help="export a run for deployment")
    exsub = ex.add_subparsers(dest="export_cmd", required=True)
    onnx = exsub.add_parser("onnx", help="ONNX model (verify: embedding only; all: + posture + reconstruction)")
    onnx.add_argument("run")
    onnx.add_argument("--task", choices=["verify", "all"], default="all", help="graph: verify = embed() only")
    onnx.add_argument("--out", default=None, help="default: RUN/model.onnx (all), RUN/model-verify.onnx (verify)")
    onnx.add_argument("--check", action="store_true", help="compare onnxruntime with PyTorch on sample inputs")
    ex.set_defaults(fn=cmd_export)

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
    sv.set_defaults(fn=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may come before or after options: collect the leftovers of verbs that take them
    bad = [x for x in extra if x.startswith("-") or "=" not in x]
    if bad or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(bad or extra)}")
    if extra:
        args.overrides = list(args.overrides) + extra
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    if not args.verbose:
        for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
            logging.getLogger(name).setLevel(logging.ERROR)
    from thzface.engine.task import NonFiniteLossError

    try:
        return int(args.fn(args) or 0)
    except NonFiniteLossError as e:
        print(f"thzface: error: {e} (training stopped; the last good checkpoint is kept)", file=sys.stderr)
        return 1
    except REPORTED_ERRORS as e:
        if args.verbose:
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"thzface: error: {str(msg).splitlines()[0] if msg else type(e).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("thzface: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. `| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
