"""Typed config dataclasses: YAML round trip, dotted ``key=value`` overrides, unknown keys rejected.

One run config is a :class:`Config`: common sections (``data``, ``train``, ``aug``) plus recipe-specific
``model`` and ``loss`` sections whose dataclass types the recipe registry (:mod:`thzface.recipes`) supplies;
this module imports nothing else of thzface. Every field is read somewhere; a trailing comment documents it.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override is malformed (unknown key, wrong type, bad value)."""


# ----------------------------------------------------------------------------- generic machinery


def to_dict(obj: Any) -> Any:
    """Dataclass (nested) → plain dict/list/scalars, ready for YAML or JSON."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Coerce a YAML value to the annotated type ``tp``; raise ConfigError naming ``where``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: cannot be None")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        out = [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_dict(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str, float)):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            f = float(value)
        except ValueError as e:
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from e
        if f != int(f):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(f)
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from e
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    return value


def from_dict(cls: type[T], data: Any, where: str = "config") -> T:
    """Build dataclass ``cls`` from a mapping; unknown keys and wrong types raise ConfigError."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from e


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` → (["a","b","c"], yaml-parsed value)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    if not key or any(not p for p in key.split(".")):
        raise ConfigError(f"override {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply dotted overrides to a plain dict (validated later by :func:`from_dict`)."""
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for p in path[:-1]:
            nxt = node.get(p)
            if nxt is None:
                nxt = node[p] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {text!r}: {p!r} is not a section")
            node = nxt
        node[path[-1]] = value
    return data


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file + rename (no half-written files)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Binary twin of :func:`atomic_write_text`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dump_yaml(obj: Any) -> str:
    return yaml.safe_dump(to_dict(obj), sort_keys=False)


# ----------------------------------------------------------------------------- common sections


@dataclass
class DataConfig:
    train_csv: str = "train_val.csv"  # triplet CSV (relative to the data dir) used for training
    test_csv: str = "test.csv"  # triplet CSV used by eval
    image_size: int = 64  # network input size (images are resized when they differ)
    val_fraction: float = 0.15  # share of rows held out per (identity, posture) group (inpaint, unmask3d)
    val_identities: float = 0.2  # held-out validation people (verification): fraction < 1, or count >= 1
    val_sites: int = 0  # > 0: hold out every person of this many whole sites (scanners) of a multi-site world
    # instead (validation on scanners never trained on, as zero-shot evaluation is); val_identities is then unused
    train_identities: int = 0  # use only this many training people (seeded subset, for scaling studies); 0: all
    use_visible: bool = False  # load the visible columns (distillation / visible-light recipes)
    target: str = "positive"  # reconstruction target: positive (unconcealed scan) | clean (noise-free, simulator)
    num_workers: int = 0  # DataLoader workers


@dataclass
class AugConfig:
    profile: str = "gentle"  # none | gentle | medium | strong (reference parameters, seed-reference §1) | scan (ours)
    p: float = 1.0  # probability that a sample is augmented at all
    paired: bool = False  # warp the reconstruction target (positive, clean, garment mask) with the anchor
    geometric: bool = True  # the profile's rotation, scale, translation and crop (False: photometric only; a model
    # with model.align=inplane never gets them: its aligner learns the scan's own roll and placement)


@dataclass
class TrainConfig:
    seed: int = 42  # global seed (data order, init, augmentation)
    batch_size: int = 32  # samples per step (P*K when the identity sampler is on)
    sampler: str = "pk"  # pk (identity-balanced P x K) | random
    pk_k: int = 4  # K samples per identity in a P x K batch
    pk_group: str = "identity"  # joint batches: K captures of a person (identity) or of a person in one posture
    fit_probe: bool = False  # validate also on as many training people as validation people (fit/eer: does it fit?)
    pk_domain: str = "none"  # joint batches: none | site (each batch's people from one simulated site = scanner)
    freeze_bn: float = 1.0  # share of training (steps or wall clock, the larger) from which every BatchNorm
    # normalises with its running statistics, as deployed (the statistics then stay; scale and shift still learn):
    # 1 never; 0 from the start (continuing a pretraining from --init-from; detectron2's FrozenBatchNorm). With
    # site batches, training's batch statistics are one scanner's while the deployed ones average every scanner:
    # freezing lets the network learn under the normalisation it is deployed with
    pose_curriculum: int = 0  # joint batches: epochs over which the drawn captures widen from each posture's most
    # typical poses to all (data.curriculum; needs the simulator's poses.npz); 0: off
    pose_curriculum_start: float = 0.3  # share of each posture's captures drawn at epoch 0 of the curriculum
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 1e-4  # AdamW weight decay
    max_epochs: int = 30  # epoch limit
    max_steps: int = -1  # step limit (-1: none)
    max_time_s: float = 0.0  # wall-clock budget in seconds (0: none)
    schedule: str = "cosine"  # cosine (with warmup) | plateau | constant
    warmup_frac: float = 0.05  # share of steps spent in linear warmup (cosine)
    plateau_factor: float = 0.5  # ReduceLROnPlateau factor
    plateau_patience: int = 10  # ReduceLROnPlateau patience (validations)
    grad_clip: float = 1.0  # gradient-norm clip (0: off)
    ema: float = 0.0  # decay of an exponential moving average of the weights (and BatchNorm statistics), updated
    # every step; validation, checkpoint selection and the exported weights use the average (0: off; 0.999 ≈ the
    # last 1,000 steps)
    precision: str = "auto"  # auto (bf16-mixed on GPU, 32 on CPU) | 32 | 16-mixed | bf16-mixed (on CPU too: AMX)
    val_every: float = 1.0  # validate every this fraction of an epoch (<=1) or every N steps (>1)
    monitor: str = "val/ssim"  # metric that picks the best checkpoint
    monitor_mode: str = "max"  # max | min
    accelerator: str = "auto"  # auto | cpu | gpu
    devices: int = 1  # devices per node (DDP when >1)
    num_nodes: int = 1  # nodes for multi-node DDP
    strategy: str = "auto"  # auto | ddp | ddp_gloo ...
    log_every: int = 10  # log every N steps
    progress: bool = True  # show the progress bar


@dataclass
class Config:
    recipe: str = "mtl"  # mtl | distill | inpaint | twin | unmask3d
    preset: str = "default"  # tiny | default | paper (informational; the values below are what counts)
    data: DataConfig = field(default_factory=DataConfig)
    aug: AugConfig = field(default_factory=AugConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    model: Any = None  # recipe's model config dataclass
    loss: Any = None  # recipe's loss config dataclass


def config_from_sections(data: dict, sections: dict[str, type], where: str = "config") -> Config:
    """Plain dict → Config whose sections are built from the recipe's dataclasses in ``sections`` (``model``,
    ``loss`` and, where the recipe sets other defaults, ``data``/``aug``/``train`` subclasses); strictly validated.
    The registry (:mod:`thzface.recipes`) picks the dataclasses from ``data["recipe"]``."""
    data = dict(data)
    built: dict[str, Any] = {
        name: from_dict(cls, data.pop(name, None), f"{where}.{name}") for name, cls in sections.items()
    }
    cfg = from_dict(Config, data, where)
    for name, value in built.items():
        setattr(cfg, name, value)
    return cfg


def read_config_dict(path: str | Path, overrides: list[str] | None = None) -> dict:
    """A YAML config as a plain dict with dotted ``key=value`` overrides applied (validated by the recipe)."""
    return apply_overrides(read_yaml(path), list(overrides or []))


def save_config(cfg: Config, path: str | Path) -> None:
    atomic_write_text(path, dump_yaml(cfg))
