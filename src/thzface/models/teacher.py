"""Cross-modal teacher (recipe ``distill``): THz + visible encoders, token cross-attention fusion, teacher heads.

Each modality's bottleneck map (B, C, h, w) becomes h·w tokens of width C. Two cross-attention blocks fuse them
(visible queries over THz keys/values, and THz queries over visible keys/values); the two attended token sets
are concatenated and mapped back to C channels (Linear → LayerNorm → ReLU). A trunk turns the fused token map
into the teacher latent read by the teacher heads (L2 embedding, posture logits).

``fusion: paper`` is the reference's bare pair of cross-attention blocks (the default: the variant below did
not measure better, see docs/distill.md). ``fusion: residual`` adds a learned positional encoding per modality
and pre-norm residual connections around both blocks. Both encoders have the
student's encoder design (``stem_width``, ``widths``); visible images are grayscale (one channel) as the
dataset loads them. With ``share_thz_encoder`` the teacher owns no THz encoder and reads the student's
bottleneck (the reference's joint model); a teacher that is trained alone or frozen owns one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from thzface.models.blocks import embedding_head, is_exporting
from thzface.models.encoder import build_trunk
from thzface.models.multitask import MtlModelConfig, build_encoder

VIS_CHANNELS = 1  # visible images are loaded as grayscale (TripletDataset), as the reference did
FUSIONS: tuple[str, ...] = ("paper", "residual")
TRUNKS: tuple[str, ...] = ("conv", "avg", "attn")


@dataclass
class TeacherConfig:
    fusion: Literal["paper", "residual"] = "paper"  # paper: bare cross-attention; residual: + pos. encoding, pre-norm
    heads: int = 4  # attention heads of each cross-attention block (must divide the token width widths[-1])
    attn_dropout: float = 0.1  # dropout on the attention weights
    trunk: Literal["conv", "avg", "attn"] = "conv"  # fused tokens → latent: conv (k×k, as a flatten student), avg, attn
    trunk_dim: int = 256  # teacher latent size read by the teacher heads
    dropout: float = 0.1  # dropout after the trunk and inside the teacher verification head
    embed_hidden: int = 256  # hidden width of the teacher verification MLP
    embed_dim: int = 128  # teacher embedding size (L2-normalised)
    share_thz_encoder: bool = False  # joint stage only: fuse the student's THz bottleneck (reference) instead of own

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"TeacherConfig: fusion {self.fusion!r} is not one of {list(FUSIONS)}")
        if self.trunk not in TRUNKS:
            raise ValueError(f"TeacherConfig: trunk {self.trunk!r} is not one of {list(TRUNKS)}")
        if min(self.heads, self.trunk_dim, self.embed_hidden, self.embed_dim) <= 0:
            raise ValueError("TeacherConfig: heads, trunk_dim, embed_hidden and embed_dim must be positive")
        for name in ("attn_dropout", "dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"TeacherConfig: {name} {getattr(self, name)} must be in [0, 1)")


@dataclass
class TeacherOutput:
    embedding: torch.Tensor  # (B, De) L2-normalised teacher embedding
    posture_logits: torch.Tensor  # (B, P) teacher posture logits
    latent: torch.Tensor  # (B, Ft) trunk output read by the teacher heads
    pooled: torch.Tensor  # (B, C) mean of the fused tokens (the reference's "teacher latent")


class CrossModalFusion(nn.Module):
    """Visible→THz and THz→visible cross-attention over N tokens of width ``dim``, then concat → Linear → LN → ReLU."""

    def __init__(self, dim: int, heads: int, dropout: float, tokens: int, residual: bool) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"CrossModalFusion: heads {heads} must divide the token width {dim}")
        self.residual, self.tokens = residual, tokens
        self.vis_from_thz = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.thz_from_vis = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.fuse = nn.Sequential(nn.Linear(2 * dim, dim), nn.LayerNorm(dim), nn.ReLU())
        if residual:
            self.pos_thz = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)  # (1, N, C)
            self.pos_vis = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)  # (1, N, C)
            self.norm_thz = nn.LayerNorm(dim)
            self.norm_vis = nn.LayerNorm(dim)

    def forward(self, thz: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        """thz, vis (B, N, C) tokens → fused tokens (B, N, C)."""
        if not self.residual:
            v = self.vis_from_thz(vis, thz, thz, need_weights=False)[0]  # (B, N, C) visible queries
            t = self.thz_from_vis(thz, vis, vis, need_weights=False)[0]  # (B, N, C) THz queries
            return self.fuse(torch.cat([v, t], dim=-1))  # (B, N, C)
        if not is_exporting() and thz.shape[1] != self.tokens:
            raise ValueError(f"CrossModalFusion: {thz.shape[1]} tokens, the positional encoding has {self.tokens}")
        t0, v0 = thz + self.pos_thz, vis + self.pos_vis  # (B, N, C) each
        tn, vn = self.norm_thz(t0), self.norm_vis(v0)  # (B, N, C) each
        v = v0 + self.vis_from_thz(vn, tn, tn, need_weights=False)[0]  # (B, N, C)
        t = t0 + self.thz_from_vis(tn, vn, vn, need_weights=False)[0]  # (B, N, C)
        return self.fuse(torch.cat([v, t], dim=-1))  # (B, N, C)


class TeacherModel(nn.Module):
    """Visible (+ own THz) encoder, :class:`CrossModalFusion`, trunk, verification and posture heads."""

    def __init__(self, cfg: TeacherConfig, student: MtlModelConfig) -> None:
        super().__init__()
        self.cfg, self.student_cfg = cfg, student
        self.thz_encoder = None if cfg.share_thz_encoder else build_encoder(student, student.in_channels)
        self.vis_encoder = build_encoder(student, VIS_CHANNELS)
        side = student.image_size // self.vis_encoder.reduction
        dim = student.widths[-1]
        self.fusion = CrossModalFusion(dim, cfg.heads, cfg.attn_dropout, side * side, cfg.fusion == "residual")
        self.trunk = build_trunk(cfg.trunk, dim, cfg.trunk_dim, side, cfg.dropout)
        self.verification_head = embedding_head(cfg.trunk_dim, cfg.embed_hidden, cfg.embed_dim, cfg.dropout)
        self.posture_head = nn.Linear(cfg.trunk_dim, student.num_postures)

    @property
    def feature_dims(self) -> dict[str, int]:
        """Width of each distillable teacher feature: ``latent`` (trunk) and ``pooled`` (mean fused token)."""
        return {"latent": self.cfg.trunk_dim, "pooled": self.student_cfg.widths[-1]}

    def _check(self, x: torch.Tensor, channels: int, name: str) -> None:
        s = self.student_cfg.image_size
        if is_exporting():
            return
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != (channels, s, s):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"TeacherModel: {name} must be (B, {channels}, {s}, {s}), got {got}")

    def forward(
        self, vis: torch.Tensor, thz: torch.Tensor | None = None, thz_map: torch.Tensor | None = None
    ) -> TeacherOutput:
        """Visible images (B, 1, S, S) with either THz images ``thz`` (B, Cin, S, S) — encoded by the teacher's
        own THz encoder — or ``thz_map``, the student's THz bottleneck (B, C, h, w) (``share_thz_encoder``)."""
        if (thz is None) == (thz_map is None):
            raise ValueError("TeacherModel: pass exactly one of thz (images) or thz_map (student bottleneck)")
        self._check(vis, VIS_CHANNELS, "vis")
        if thz is not None:
            if self.thz_encoder is None:
                raise ValueError("TeacherModel: built without a THz encoder (share_thz_encoder); pass thz_map")
            self._check(thz, self.student_cfg.in_channels, "thz")
            thz_map = self.thz_encoder(thz)[-1]  # (B, C, h, w)
        assert thz_map is not None
        vis_map = self.vis_encoder(vis)[-1]  # (B, C, h, w)
        if thz_map.shape != vis_map.shape:
            raise ValueError(f"TeacherModel: thz_map {tuple(thz_map.shape)} != visible map {tuple(vis_map.shape)}")
        b, c, h, w = vis_map.shape
        fused = self.fusion(thz_map.flatten(2).transpose(1, 2), vis_map.flatten(2).transpose(1, 2))  # (B, N, C)
        latent = self.trunk(fused.transpose(1, 2).reshape(b, c, h, w))  # (B, Ft)
        return TeacherOutput(
            embedding=self.verification_head(latent),  # (B, De)
            posture_logits=self.posture_head(latent),  # (B, P)
            latent=latent,
            pooled=fused.mean(dim=1),  # (B, C)
        )


STUDENT_PARTS = ("trunk", "verification_head", "posture_head")  # same names in a student and a teacher


def init_from_student(teacher: TeacherModel, student: dict[str, torch.Tensor]) -> dict[str, int]:
    """Start a teacher from a trained student's state dict (e.g. the shipped ``mtl`` weights): its encoder into
    both teacher encoders (THz and visible: the same design, so the visible encoder starts from edge and shape
    filters instead of noise), its trunk and heads into the teacher's where the shapes match; the fusion stays
    as built. Returns ``{"copied", "of"}``; a state that fits no tensor is a ValueError."""
    own = teacher.state_dict()
    take: dict[str, torch.Tensor] = {}
    for name, value in student.items():
        head, _, rest = name.partition(".")
        targets = [f"{enc}.{rest}" for enc in ("thz_encoder", "vis_encoder")] if head == "encoder" else []
        targets += [name] if head in STUDENT_PARTS else []
        take.update({t: value for t in targets if t in own and own[t].shape == value.shape})
    if not take:
        raise ValueError("init_from_student: no tensor of the student fits the teacher (another encoder design)")
    teacher.load_state_dict(take, strict=False)
    return {"copied": len(take), "of": len(own)}


def build_teacher(cfg: TeacherConfig, student: MtlModelConfig) -> TeacherModel:
    """The one place that turns a :class:`TeacherConfig` (+ the student's encoder design) into a teacher."""
    if not isinstance(cfg, TeacherConfig) or not isinstance(student, MtlModelConfig):
        raise ValueError("build_teacher: expected a TeacherConfig and the student's MtlModelConfig")
    return TeacherModel(cfg, student)
