"""Configuration of the twin-aware verification model (:class:`TwinModelConfig`) and the face-part order it shares
with the data (:data:`PART_NAMES`); the model itself is :mod:`thzface.models.parts`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

PART_NAMES: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth", "chin")  # aux part_boxes order
GLOBAL_KINDS = ("mtl", "none")
GLOBAL_FEATURES = ("embedding", "latent")
PART_ENCODERS = ("cnn", "resnet50")
FUSIONS = ("residual", "mlp")


@dataclass
class TwinModelConfig:
    image_size: int = 64  # input side S in pixels; part boxes are pixel coordinates of this image
    in_channels: int = 1  # input channels (THz: 1)
    global_kind: str = "mtl"  # mtl: frozen thzface embedder run (global_run) | none: parts-only ablation
    global_run: str = ""  # mtl run folder copied (frozen) into the global branch when training starts
    global_feature: str = "embedding"  # embedding: the run's L2 embedding | latent: its trunk vector (paper: 512)
    global_model: dict[str, Any] = field(default_factory=dict)  # model config of global_run, filled in (no edit)
    parts: tuple[str, ...] = PART_NAMES  # parts with a branch (subset of PART_NAMES); () = global-only ablation
    shared_parts: bool = True  # one part encoder for every part (True) or one per part (seed: separate)
    part_encoder: str = "cnn"  # cnn: residual CNN | resnet50: seed's backbone (random init, nothing downloaded)
    part_stem: int = 16  # cnn: stem channels
    part_widths: tuple[int, ...] = (16, 32, 64)  # cnn: residual stride-2 stage widths
    part_dim: int = 64  # feature size per part (seed: 128)
    crop_size: int = 16  # part crops are resampled to crop_size² pixels (seed: 224)
    crop_margin: float = 0.25  # crop side = longest box side × (1 + crop_margin)
    fusion: str = "residual"  # residual: [global ; w · parts MLP] (module doc) | mlp: one MLP over both (seed)
    fusion_weight: float = 1.0  # residual: w at the start; refitted on validation people at every validation
    fusion_hidden: int = 256  # hidden width of the fusion MLP (seed: 512)
    embed_dim: int = 128  # fused embedding size (seed: 256); residual: the part embedding's size
    dropout: float = 0.1  # dropout inside the fusion MLP
    normalize: bool = True  # L2-normalise the fused embedding
    box_head: bool = True  # part-box head: predicts boxes where the data has no landmarks (needs parts)
    box_widths: tuple[int, ...] = (16, 32, 64)  # box-head stage widths
    # runs recorded before ``fusion`` existed were one MLP over both (engine.checkpoint.recorded_config)
    RECORDED_BEFORE: ClassVar[dict[str, Any]] = {"fusion": "mlp"}

    def __post_init__(self) -> None:
        self.parts, self.part_widths, self.box_widths = (
            tuple(self.parts),
            tuple(self.part_widths),
            tuple(self.box_widths),
        )
        checks = [
            (self.global_kind in GLOBAL_KINDS, f"global_kind {self.global_kind!r} is not one of {GLOBAL_KINDS}"),
            (self.global_feature in GLOBAL_FEATURES, f"global_feature {self.global_feature!r}: use embedding | latent"),
            (self.part_encoder in PART_ENCODERS, f"part_encoder {self.part_encoder!r} not in {PART_ENCODERS}"),
            (self.fusion in FUSIONS, f"fusion {self.fusion!r} is not one of {FUSIONS}"),
            (self.fusion_weight >= 0.0, f"fusion_weight {self.fusion_weight} must be >= 0"),
            (all(p in PART_NAMES for p in self.parts) and len(set(self.parts)) == len(self.parts),
             f"parts {list(self.parts)} must be distinct names from {list(PART_NAMES)}"),
            (bool(self.parts) or self.global_kind != "none", "no parts and global_kind none: nothing to embed"),
            (bool(self.parts) or not self.box_head, "box_head needs parts (set box_head: false for global-only)"),
            (self.fusion != "residual" or bool(self.parts), "fusion residual needs parts (mlp for global-only)"),
            (min(self.image_size, self.part_dim, self.crop_size, self.fusion_hidden, self.embed_dim) > 0
             and bool(self.part_widths) and bool(self.box_widths), "sizes must be positive, widths non-empty"),
            (self.image_size % 2 ** len(self.box_widths) == 0,
             f"image_size {self.image_size} is not a multiple of {2 ** len(self.box_widths)} (2^len(box_widths))"),
            (self.part_encoder != "cnn" or self.crop_size % 2 ** len(self.part_widths) == 0,
             f"crop_size {self.crop_size} is not a multiple of {2 ** len(self.part_widths)} (2^len(part_widths))"),
            (0.0 <= self.dropout < 1.0 and self.crop_margin >= 0.0, "dropout must be in [0, 1), crop_margin >= 0"),
        ]  # fmt: skip
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"TwinModelConfig: {msg}")
