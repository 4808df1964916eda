"""CLI smoke run on the tiny preset: synth → train → eval → predict → verify, plus bad-input exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from thzface.cli import main


def test_end_to_end_tiny(repo, tiny_data, tmp_path, capsys):
    run, report = tmp_path / "run", tmp_path / "report"
    assert (
        main(
            [
                "train",
                str(repo / "configs/mtl-tiny.yaml"),
                "--data",
                str(tiny_data),
                "--out",
                str(run),
                "train.max_steps=3",
            ]
        )
        == 0
    )
    assert main(["eval", str(run), "--data", str(tiny_data), "--out", str(report)]) == 0
    metrics = json.loads((report / "metrics.json").read_text())
    assert {"closed-set", "identity-disjoint", "all"} <= set(metrics["protocols"])
    v = metrics["protocols"]["all"]["verification"]
    assert 0.0 <= v["eer"] <= 1.0 and 0.0 <= v["roc_auc"] <= 1.0
    assert "<img" in (report / "report.html").read_text()
    rec = metrics["protocols"]["all"]["reconstruction"]
    assert {"predicted", "oracle", "copy_input"} <= set(rec) and "clean_ssim" in rec["predicted"]
    # the copy-the-input baseline against the clean target, recomputed from the files
    import numpy as np

    from thzface.data.csv import read_triplets
    from thzface.data.io import load_image
    from thzface.data.targets import load_clean_target
    from thzface.metrics.reconstruction import ssim

    rows = read_triplets(tiny_data / "test.csv", tiny_data, visible=False)
    scans = np.stack([load_image(tiny_data / "thz" / r.anchor, 32) for r in rows])  # (N, 1, 32, 32)
    clean = np.stack([load_clean_target(tiny_data, r.anchor, 32) for r in rows])  # (N, 1, 32, 32)
    b = metrics["protocols"]["all"]["baselines"]
    assert 0.0 <= b["pixel_verification"]["eer"] <= 1.0 and b["pixel_nearest_neighbour"]["queries"] > 0
    train_post = [r.anchor_name.posture for r in read_triplets(tiny_data / "train_val.csv", tiny_data)]
    test_post = np.array([r.anchor_name.posture for r in rows])
    majority = max(set(train_post), key=lambda p: (train_post.count(p), -p))
    assert b["majority_posture_accuracy"] == pytest.approx(float(np.mean(test_post == majority)))
    assert rec["copy_input"]["clean_ssim"] == pytest.approx(float(np.mean(ssim(scans, clean))), abs=1e-4)
    img = sorted((tiny_data / "thz").glob("*_b1b_*.png"))
    assert main(["predict", str(run), str(img[0]), str(tiny_data / "thz"), "--out", str(tmp_path / "pred")]) == 0
    preds = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    assert preds[0]["posture"] in ("front", "left", "right", "up", "down")
    assert (tmp_path / "pred" / f"{img[0].stem}_recon.png").is_file()
    capsys.readouterr()
    assert main(["verify", str(run), str(img[0]), str(img[1])]) == 0
    out = json.loads(capsys.readouterr().out)
    assert -1.0 <= out["score"] <= 1.0 and isinstance(out["same_person"], bool)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["eval", "{tmp}/nope", "--out", "{tmp}/r"], "nope: run folder not found"),
        (
            ["train", "{repo}/configs/mtl-tiny.yaml", "--data", "{tmp}/missing", "--out", "{tmp}/r"],
            "missing: data folder not found",
        ),
        (
            ["train", "{repo}/configs/mtl-tiny.yaml", "--out", "{tmp}/r", "train.bogus=1"],
            "unknown key(s) ['bogus']",
        ),
        (["data", "split", "{tmp}", "--protocol", "closed-set"], "thz"),
    ],
)
def test_bad_input_one_line_error(argv, message, repo, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, repo=repo) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("thzface: error:") and message in err[0], err


def test_predict_corrupt_image(repo, tiny_data, tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                str(repo / "configs/mtl-tiny.yaml"),
                "--data",
                str(tiny_data),
                "--out",
                str(run),
                "train.max_steps=1",
            ]
        )
        == 0
    )
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    capsys.readouterr()
    assert main(["predict", str(run), str(bad), "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "bad.png" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p" / "predictions.json").exists()


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "thzface.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "synth" in out.stdout and "import-reference" in out.stdout


def test_configs_verb_lists_the_presets(capsys):
    from thzface.cli import main
    from thzface.engine.checkpoint import pretrained_names
    from thzface.recipes import preset_names

    assert main(["configs"]) == 0
    out = capsys.readouterr().out
    assert "mtl-tiny" in out and "unmask3d-paper" in out and "mtl-pretrain" in out
    assert out.count("\n") == len(preset_names()) + len(pretrained_names())
    assert all(f"pretrained:{n}" in out for n in pretrained_names())


def hint_commands() -> set[tuple[str, ...]]:
    """Every ``thzface <verb> [<sub>]`` named in backticks by the package's messages and docstrings."""
    import re

    src = Path(__file__).resolve().parents[1] / "src" / "thzface"
    found: set[tuple[str, ...]] = set()
    for path in src.rglob("*.py"):
        for cmd in re.findall(r"`+thzface ([a-z][a-z-]*(?: [a-z][a-z-]*)?)", path.read_text(encoding="utf-8")):
            found.add(tuple(cmd.split()))
    return found


def test_every_hint_names_a_real_command(capsys):
    from thzface.cli import build_parser

    parser = build_parser()
    commands = hint_commands()
    assert ("data", "check") in commands and len(commands) > 5
    for words in sorted(commands):  # a second word is a sub-command or a positional value (`thzface bench sim`)
        with pytest.raises(SystemExit) as e:
            parser.parse_args([*words, "--help"])
        assert e.value.code == 0, f"`thzface {' '.join(words)}` is not a command"


def test_programming_errors_keep_their_traceback(monkeypatch):
    from thzface import cli

    def boom(a):
        raise KeyError("bug")

    monkeypatch.setattr(cli.train, "cmd_configs", boom)  # the parser binds the handler when main() builds it
    with pytest.raises(KeyError, match="bug"):
        cli.main(["configs"])


def test_serve_and_train_options_parse():
    from thzface.cli import build_parser

    p = build_parser()
    assert p.parse_args(["serve", "RUN", "--backend", "onnx"]).backend == "onnx"
    assert p.parse_args(["train", "mtl-tiny", "--out", "R"]).resume is None
    assert p.parse_args(["train", "mtl-tiny", "--out", "R", "--resume"]).resume is True
    assert p.parse_args(["train", "mtl-tiny", "--out", "R", "--no-resume"]).resume is False
    with pytest.raises(SystemExit):
        p.parse_args(["train", "mtl-tiny", "--out", "R", "--resume", "--no-resume"])
