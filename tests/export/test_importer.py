"""Tests of the reference-weight importer on fake checkpoints built from the released models' name/shape listing:
full match and value round trip, bare state_dict, extra/missing/mismatched keys reported, unsafe pickles,
non-checkpoints and the multimodal model refused with a one-line message naming the file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from thzface.export.importer import import_reference, map_reference_name

LISTING = ("shared", "reference", "thz_face_distil_state_dicts.json")


@dataclasses.dataclass
class PickledConfig:
    """A custom object inside a checkpoint: weights_only loading must refuse it."""

    lr: float = 1e-4


@pytest.fixture(scope="module")
def listing(repo: Path) -> dict[str, dict[str, list[int]]]:
    path = repo.parent.joinpath(*LISTING)
    if not path.is_file():
        pytest.skip(f"{path} absent: the reference name/shape listing is needed to fake a checkpoint")
    return json.loads(path.read_text())


def fake_state(shapes: dict[str, list[int]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors with the listed names and shapes (int64 scalars for num_batches_tracked)."""
    g = torch.Generator().manual_seed(seed)
    return {
        k: torch.tensor(7) if k.endswith("num_batches_tracked") else torch.randn(*s, generator=g)
        for k, s in shapes.items()
    }


@pytest.fixture(scope="module")
def thz_state(listing) -> dict[str, torch.Tensor]:
    return fake_state(listing["thz_only"])


def test_full_checkpoint_imports_every_key_and_values_round_trip(thz_state, tmp_path: Path) -> None:
    ckpt = tmp_path / "thz_only_best.pth"
    torch.save(
        {
            "model_state_dict": thz_state,
            "optimizer_state_dict": {"state": {0: {"exp_avg": torch.zeros(3)}}, "param_groups": [{"lr": 1e-4}]},
            "config": {"embed_dim": 128, "posture_ids": [1, 2, 3, 4, 5], "backbone": "custom"},
            "epoch": 12,
        },
        ckpt,
    )
    model, report = import_reference(ckpt)
    assert report["matched"] == len(thz_state) == 235
    assert report["missing"] == [] and report["unexpected"] == [] and report["mismatched"] == []
    assert report["extras"] == ["config", "epoch", "optimizer_state_dict"]
    own = model.state_dict()
    pairs = [
        ("reconstruction_decoders.3.bottleneck_rdb.layers.2.0.weight", "decoder.experts.3.rdb.layers.2.0.weight"),
        ("reconstruction_decoders.0.up4.conv.weight", "decoder.experts.0.ups.0.conv.weight"),
        ("reconstruction_decoders.4.conv2.0.bias", "decoder.experts.4.fuses.2.0.bias"),
        ("encoder.backbone.backbone.stage4.shortcut.1.running_var", "encoder.stages.3.shortcut.1.running_var"),
        ("encoder.spatial_reduction.0.weight", "trunk.0.weight"),
        ("encoder.classification_head.weight", "posture_head.weight"),
    ]
    for ref_name, name in pairs:
        assert map_reference_name(ref_name) == name
        assert torch.equal(own[name], thz_state[ref_name]), name
    assert not model.training
    with torch.no_grad():
        out = model(torch.rand(2, 1, 64, 64))
    assert out.embedding.shape == (2, 128) and out.reconstruction.shape == (2, 1, 64, 64)


def test_bare_state_dict_with_extra_missing_and_mismatched_keys(thz_state, tmp_path: Path) -> None:
    state = dict(thz_state)
    del state["encoder.classification_head.bias"]
    state["encoder.backbone.backbone.stage5.conv1.weight"] = torch.zeros(3, 3)  # no counterpart
    state["reconstruction_decoders.1.final_conv.0.weight"] = torch.zeros(1, 8, 3, 3)  # wrong shape
    ckpt = tmp_path / "bare.pt"
    torch.save(state, ckpt)
    model, report = import_reference(ckpt)
    assert report["missing"] == ["posture_head.bias"]
    assert report["unexpected"] == ["encoder.backbone.backbone.stage5.conv1.weight"]
    assert report["mismatched"] == [
        "reconstruction_decoders.1.final_conv.0.weight -> decoder.experts.1.head.0.weight: "
        "(1, 8, 3, 3) vs (1, 16, 3, 3)"
    ]
    assert report["matched"] == len(thz_state) - 2 and report["extras"] == []
    expected = thz_state["reconstruction_decoders.0.final_conv.0.weight"]
    assert torch.equal(model.state_dict()["decoder.experts.0.head.0.weight"], expected)


def test_embedding_size_is_read_from_the_checkpoint(listing, tmp_path: Path) -> None:
    shapes = dict(listing["thz_only"])
    shapes["encoder.verification_head.4.weight"], shapes["encoder.verification_head.4.bias"] = [64, 256], [64]
    ckpt = tmp_path / "embed64.pth"
    torch.save({"model_state_dict": fake_state(shapes)}, ckpt)
    model, report = import_reference(ckpt)
    assert model.cfg.embed_dim == 64 and report["matched"] == 235 and report["mismatched"] == []


def test_custom_object_in_checkpoint_is_refused(thz_state, tmp_path: Path) -> None:
    ckpt = tmp_path / "unsafe.pth"
    torch.save({"model_state_dict": thz_state, "config": PickledConfig()}, ckpt)
    with pytest.raises(ValueError, match=r"unsafe\.pth: holds objects other than tensors") as err:
        import_reference(ckpt)
    assert "\n" not in str(err.value)


def test_multimodal_checkpoint_is_refused(listing, tmp_path: Path) -> None:
    ckpt = tmp_path / "multimodal.pth"
    torch.save({"model_state_dict": fake_state(listing["multimodal"]), "epoch": 3}, ckpt)
    with pytest.raises(ValueError, match=r"multimodal\.pth: holds the multimodal teacher-student model"):
        import_reference(ckpt)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a checkpoint", "not a torch checkpoint"),
        (b"", "not a torch checkpoint"),
    ],
)
def test_non_checkpoint_files_are_refused(content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "notes.pth"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"notes\.pth: {message}") as err:
        import_reference(path)
    assert "\n" not in str(err.value)


def test_wrong_containers_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="checkpoint file not found"):
        import_reference(tmp_path / "absent.pth")
    for obj, message in [
        ([torch.zeros(1)], "expected a dict checkpoint"),
        ({"epoch": 3, "weights": {"a": torch.zeros(1)}}, "neither a 'model_state_dict'"),
        ({"model_state_dict": {}}, "empty or not a mapping"),
    ]:
        path = tmp_path / "odd.pth"
        torch.save(obj, path)
        with pytest.raises(ValueError, match=message):
            import_reference(path)


def test_cli_import_reference_makes_a_usable_paper_run(thz_state, tmp_path: Path) -> None:
    from thzface.cli import main
    from thzface.recipes import load_run

    ckpt = tmp_path / "best.pth"
    torch.save({"model_state_dict": thz_state, "epoch": 3, "config": {"lr": 1e-4}}, ckpt)
    assert main(["import-reference", str(ckpt), "--out", str(tmp_path / "run")]) == 0
    cfg, model, extra = load_run(tmp_path / "run")
    assert cfg.preset == "paper" and cfg.model.arch == "paper" and extra["imported_from"] == str(ckpt)
    ref = thz_state["encoder.backbone.backbone.initial_conv.0.weight"]
    assert torch.equal(model.state_dict()["encoder.stem.0.weight"], ref) or any(
        torch.equal(v, ref) for v in model.state_dict().values()
    )
