"""Import the reference repository's released THz-only weights (noamberg/thz-face-distil) into the ``paper`` preset.

The released files are ``torch.save`` pickles of a dict holding ``model_state_dict`` (plus optimizer state,
config dicts, histories). They are read with ``torch.load(weights_only=True)``: only tensors and plain
containers are unpickled, so a file holding any other object is refused rather than executed. Reference
parameter names are renamed onto :class:`thzface.models.multitask.MultiTaskModel` by the rules below.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from thzface.engine.checkpoint import ModelSpec
from thzface.models.multitask import MultiTaskModel, build_model, mtl_preset

# (reference-name regex, replacement) for the THz-only UnifiedMultiTaskModel; the decoder stage index is
# reversed (reference up4/conv4 is the deepest stage, ours ups.0/fuses.0). First match wins.
_REF_STAGES = 4
_THZ_ONLY_RULES: list[tuple[str, str]] = [
    (r"^encoder\.backbone\.backbone\.initial_conv\.", "encoder.stem."),
    (r"^encoder\.backbone\.backbone\.stage(\d+)\.", "encoder.stages.{s1}."),
    (r"^encoder\.spatial_reduction\.", "trunk."),
    (r"^encoder\.verification_head\.", "verification_head."),
    (r"^encoder\.classification_head\.", "posture_head."),
    (r"^reconstruction_decoders\.(\d+)\.channel_reduction\.", "decoder.experts.{e}.reduce."),
    (r"^reconstruction_decoders\.(\d+)\.bottleneck_rdb\.", "decoder.experts.{e}.rdb."),
    (r"^reconstruction_decoders\.(\d+)\.up(\d+)\.", "decoder.experts.{e}.ups.{rev}."),
    (r"^reconstruction_decoders\.(\d+)\.conv(\d+)\.", "decoder.experts.{e}.fuses.{rev}."),
    (r"^reconstruction_decoders\.(\d+)\.final_conv\.", "decoder.experts.{e}.head."),
]
# Prefixes only the multimodal PrivilegedDistillationModel has (teacher–student; not importable here).
_MULTIMODAL_PREFIXES = ("thz_encoder.", "vis_encoder.", "teacher_", "student_", "visible_guided_cross_attention.")


def map_reference_name(name: str) -> str | None:
    """Reference THz-only parameter name → thzface name, or None when no rule applies."""
    for pattern, template in _THZ_ONLY_RULES:
        m = re.match(pattern, name)
        if m is None:
            continue
        groups = [int(g) for g in m.groups()]
        fields = {
            "s1": groups[0] - 1 if groups else 0,  # stage1..4 → stages.0..3
            "e": groups[0] if groups else 0,  # expert index
            "rev": _REF_STAGES - groups[1] if len(groups) > 1 else 0,  # up4..1 → ups.0..3
        }
        return template.format(**fields) + name[m.end() :]
    return None


def load_checkpoint_state(path: str | Path) -> tuple[dict[str, Any], list[str]]:
    """Read a checkpoint safely; return its model state dict and the other top-level keys of the file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: checkpoint file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "weights only" in first.lower():
            raise ValueError(
                f"{path}: holds objects other than tensors and plain containers; refused (weights_only load)"
            ) from e
        raise ValueError(f"{path}: not a torch checkpoint ({first})") from e
    except Exception as e:  # torch raises KeyError/EOFError/RuntimeError/... for non-checkpoint bytes
        raise ValueError(f"{path}: not a torch checkpoint ({type(e).__name__})") from e
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a dict checkpoint or state_dict, got {type(obj).__name__}")
    if "model_state_dict" in obj:
        state, extras = obj["model_state_dict"], sorted(str(k) for k in obj if k != "model_state_dict")
    elif obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        state, extras = obj, []
    else:
        raise ValueError(f"{path}: neither a 'model_state_dict' entry nor a bare state_dict of tensors")
    if not isinstance(state, dict) or not state:
        raise ValueError(f"{path}: 'model_state_dict' is empty or not a mapping")
    if any(str(k).startswith(_MULTIMODAL_PREFIXES) for k in state):
        raise ValueError(
            f"{path}: holds the multimodal teacher-student model (PrivilegedDistillationModel); "
            "only the THz-only model imports into the paper preset"
        )
    return state, extras


def _shape(state: dict[str, Any], key: str, dim: int, default: int) -> int:
    """Size ``dim`` of ``state[key]`` when present (used to size the model like the checkpoint)."""
    t = state.get(key)
    return int(t.shape[dim]) if isinstance(t, torch.Tensor) and t.ndim > dim else default


def import_reference(ckpt_path: str | Path) -> tuple[MultiTaskModel, dict[str, Any]]:
    """Load the reference THz-only checkpoint (or a bare state_dict) into a ``paper`` preset model.

    Embedding size, hidden width, posture count and input channels are read from the checkpoint's shapes.
    Returns ``(model in eval mode, report)``; the report holds ``matched`` (count), ``missing`` (thzface names
    nothing loaded into), ``unexpected`` (reference names with no counterpart), ``mismatched`` (renamed pairs
    whose shapes differ, not loaded), ``source`` and ``extras`` (other top-level keys of the file).
    """
    state, extras = load_checkpoint_state(ckpt_path)
    cfg = mtl_preset(
        "paper",
        in_channels=_shape(state, "encoder.backbone.backbone.initial_conv.0.weight", 1, 1),
        embed_hidden=_shape(state, "encoder.verification_head.0.weight", 0, 256),
        embed_dim=_shape(state, "encoder.verification_head.4.weight", 0, 128),
        num_postures=_shape(state, "encoder.classification_head.weight", 0, 5),
    )
    model = build_model(cfg)
    own = model.state_dict()
    to_load: dict[str, torch.Tensor] = {}
    unexpected, mismatched = [], []
    for ref_name, value in state.items():
        name = map_reference_name(str(ref_name))
        if name is None or name not in own or not isinstance(value, torch.Tensor):
            unexpected.append(str(ref_name))
        elif tuple(value.shape) != tuple(own[name].shape):
            mismatched.append(f"{ref_name} -> {name}: {tuple(value.shape)} vs {tuple(own[name].shape)}")
        else:
            to_load[name] = value.to(own[name].dtype)
    mismatched_targets = {m.split(" -> ")[1].split(":")[0] for m in mismatched}
    missing = [k for k in own if k not in to_load and k not in mismatched_targets]
    model.load_state_dict(to_load, strict=False)
    report = {
        "matched": len(to_load),
        "missing": missing,
        "unexpected": unexpected,
        "mismatched": mismatched,
        "source": str(ckpt_path),
        "extras": extras,
    }
    return model.eval(), report


def import_reference_run(ckpt_path: str | Path, out: str | Path, spec: ModelSpec, paper_config: Path) -> dict:
    """``thzface import-reference``: import the released weights into a ``paper`` run folder (``OUT``).

    The run gets ``config.yaml`` (``paper_config``, the ``mtl-paper`` preset, with the model section read off the
    checkpoint and validated by ``spec``, the ``mtl`` recipe's) and
    ``model.safetensors``, so ``thzface eval/predict/verify`` work on it like on any trained run.
    """
    from thzface.config import read_yaml, save_config, to_dict
    from thzface.engine.checkpoint import save_weights

    model, report = import_reference(ckpt_path)
    data = read_yaml(paper_config)
    data["model"] = to_dict(model.cfg)
    cfg = spec.config(data, where="mtl-paper (imported)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    save_weights(model.state_dict(), cfg, out / "model.safetensors", extra={"imported_from": str(ckpt_path)})
    return {
        "run": str(out),
        **{k: (len(v) if isinstance(v, list) else v) for k, v in report.items()},
        "missing_keys": report.get("missing", []),
        "unexpected_keys": report.get("unexpected", []),
    }
