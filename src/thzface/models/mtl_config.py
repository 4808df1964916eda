"""Configuration of the multi-task THz model (:class:`MtlModelConfig`) and its named presets (:func:`mtl_preset`);
the model itself is :mod:`thzface.models.multitask`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

ARCHS: tuple[str, ...] = ("paper", "default")
DECODERS: tuple[str, ...] = ("moe_hard", "moe_soft", "film")
POOLS: tuple[str, ...] = ("avg", "attn", "flatten")
ALIGNS: tuple[str, ...] = ("none", "inplane")


@dataclass
class MtlModelConfig:
    arch: Literal["paper", "default"] = "default"  # paper: reference conv trunk, exact input size; default: pooled
    in_channels: int = 1  # input image channels (THz: 1)
    out_channels: int = 1  # reconstruction channels
    image_size: int = 64  # nominal input size; paper needs exactly this, default any multiple of 2^len(widths)
    stem_width: int = 32  # channels of the conv3×3 stem
    stem_stride: int = 2  # stem stride (2: stages at half the size; learns faster per second: docs/benchmarks.md)
    widths: tuple[int, ...] = (48, 96, 128)  # channels of the residual stride-2 stages
    depths: tuple[int, ...] = ()  # residual blocks per stage (the first strided); empty: one block per stage
    separable: bool = False  # depthwise-separable conv3×3 in the encoder stages
    channels_last: bool = False  # conv weights and activations channels-last (NHWC): a speed layout, same math
    pool: Literal["avg", "attn", "flatten"] = "flatten"  # bottleneck → trunk: flatten (k×k conv, a weight per position;
    # input exactly image_size; pretraining fits with it: docs/benchmarks.md) or avg / attention pooling (any size)
    trunk_dim: int = 256  # latent vector size F read by the heads
    dropout: float = 0.1  # dropout after the trunk and inside the verification head
    embed_hidden: int = 256  # hidden width of the verification MLP
    embed_dim: int = 128  # embedding size D (L2-normalised)
    num_postures: int = 5  # posture classes (= experts of a mixture decoder)
    decoder: Literal["moe_hard", "moe_soft", "film"] = "film"  # reconstruction decoder kind (module docstring)
    decoder_reduce: int = 96  # channels after the decoder's 1×1 bottleneck reduction
    decoder_widths: tuple[int, ...] = (64, 32, 16)  # channels of the ×2 up stages (one per encoder stage)
    rdb_growth: int = 16  # growth of the decoder's residual dense block
    rdb_layers: int = 5  # convs in the residual dense block (0: no block)
    gate_grad: bool = False  # soft routing: let the reconstruction loss train the posture head via the gate
    residual: bool = True  # reconstruction = sigmoid(logit(input) + decoder logits): starts as the input itself
    # (the reference, ``paper``: plain)
    flip_test: bool = True  # deployed embedding: the scan's + its mirror image's (flip test; MultiTaskModel.embed)
    align: Literal["none", "inplane"] = "inplane"  # inplane: a small regressor of the head's roll and placement warps
    # the scan to canonical before the encoder (models.align; trained on the simulator's pose: loss.w_align)
    align_width: int = 16  # channels of the aligner's first stage

    # What a recorded config (a run's weights metadata) that lacks a key was trained and thresholded with: runs saved
    # before ``flip_test`` existed embed one view, runs saved before ``align`` existed do not align
    # (:func:`thzface.engine.checkpoint.load_run` applies these).
    RECORDED_BEFORE: ClassVar[dict[str, Any]] = {"flip_test": False, "align": "none"}

    def __post_init__(self) -> None:
        self.widths, self.decoder_widths = tuple(self.widths), tuple(self.decoder_widths)
        self.depths = tuple(self.depths)
        sizes = [self.in_channels, self.out_channels, self.image_size, self.stem_width, self.trunk_dim]
        sizes += [self.embed_hidden, self.embed_dim, self.num_postures, self.decoder_reduce, self.rdb_growth]
        sizes += [*self.widths, *self.decoder_widths, self.align_width]
        if min(sizes) <= 0 or not self.widths or self.rdb_layers < 0:
            raise ValueError("MtlModelConfig: sizes, widths and decoder_widths must be positive and non-empty")
        if len(self.decoder_widths) != len(self.widths):
            raise ValueError(
                f"MtlModelConfig: decoder_widths {self.decoder_widths} needs one entry per stage of {self.widths}"
            )
        if self.depths and (len(self.depths) != len(self.widths) or min(self.depths) < 1):
            raise ValueError(f"MtlModelConfig: depths {self.depths} needs one entry ≥ 1 per stage of {self.widths}")
        if self.stem_stride not in (1, 2):
            raise ValueError(f"MtlModelConfig: stem_stride {self.stem_stride} must be 1 or 2")
        reduction = self.stem_stride * 2 ** len(self.widths)
        if self.image_size % reduction:
            where = f"2^{len(self.widths)} · stem_stride {self.stem_stride} = {reduction}"
            raise ValueError(f"MtlModelConfig: image_size {self.image_size} is not a multiple of {where}")
        for name, allowed in (("arch", ARCHS), ("decoder", DECODERS), ("pool", POOLS), ("align", ALIGNS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"MtlModelConfig: {name} {getattr(self, name)!r} is not one of {list(allowed)}")
        if self.align != "none" and self.image_size % 16:
            raise ValueError(f"MtlModelConfig: align={self.align} needs image_size a multiple of 16: {self.image_size}")
        if self.residual and self.in_channels != self.out_channels:
            raise ValueError("MtlModelConfig: residual reconstruction needs in_channels == out_channels")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"MtlModelConfig: dropout {self.dropout} must be in [0, 1)")

    @property
    def fixed_size(self) -> bool:
        """The trunk flattens the bottleneck (``paper``, ``pool=flatten``): inputs must be exactly image_size."""
        return self.arch == "paper" or self.pool == "flatten"


def mtl_preset(name: Literal["paper", "default", "tiny"], **overrides: Any) -> MtlModelConfig:
    """Named presets: ``paper`` (reference replica, 64×64), ``default`` (ours, 64×64), ``tiny`` (tests, 32×32)."""
    presets = {
        "paper": MtlModelConfig(
            arch="paper",
            image_size=64,
            stem_width=64,
            stem_stride=1,
            widths=(64, 128, 256, 512),
            trunk_dim=512,
            dropout=0.5,
            embed_hidden=256,
            embed_dim=128,
            decoder="moe_hard",
            decoder_reduce=256,
            decoder_widths=(128, 64, 32, 16),
            rdb_growth=32,
            rdb_layers=5,
            residual=False,
            flip_test=False,
            align="none",
        ),
        "default": MtlModelConfig(),
        "tiny": MtlModelConfig(
            image_size=32,
            stem_width=8,
            stem_stride=1,
            widths=(8, 16, 24, 32),
            trunk_dim=64,
            embed_hidden=64,
            embed_dim=32,
            decoder_reduce=32,
            decoder_widths=(24, 16, 12, 8),
            rdb_growth=8,
            rdb_layers=2,
        ),
    }
    if name not in presets:
        raise ValueError(f"mtl_preset: unknown preset {name!r}; known: {sorted(presets)}")
    return replace(presets[name], **overrides)
