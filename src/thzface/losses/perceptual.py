"""LPIPS perceptual distance (Zhang et al. 2018) built from local weight files; nothing is ever downloaded.

What it computes, for images in [0, 1] (grayscale is repeated to 3 channels): map to [-1, 1], apply LPIPS's
scaling layer (shift [-.030, -.088, -.188], scale [.458, .448, .450]), run a frozen AlexNet or VGG16 feature
stack (torchvision's ``features`` layout, so torchvision ``state_dict`` files load as they are), take 5 ReLU
outputs (alex: relu1..5; vgg: relu1_2, 2_2, 3_3, 4_3, 5_3), unit-normalise each along channels, square the
difference, weight channels with the LPIPS linear layers (1x1 convs, from the ``lpips`` package's
``weights/v0.1/{alex,vgg}.pth``) or, without them, sum over channels (LPIPS's "baseline"), average over space
and add the layers. With both official files this is LPIPS v0.1; the only deviation is that features are
divided by sqrt(|f|^2 + 1e-20) instead of |f| + 1e-10 (same values, finite gradient where a feature vector is
zero).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn as nn

from thzface.losses.reduce import check_pair

NETS = ("alex", "vgg")
_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}
_TAPS = {"alex": (1, 4, 7, 9, 11), "vgg": (3, 8, 15, 22, 29)}  # indices of the tapped ReLUs in `features`
MIN_SIZE = {"alex": 31, "vgg": 16}  # smallest H, W for which every tapped layer is non-empty


class WeightsNotFoundError(FileNotFoundError, ValueError):
    """A weights file that LPIPS needs is not given or not on disk (catchable as either base)."""


_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def _features(net: str) -> nn.Sequential:
    """torchvision's AlexNet / VGG16 ``features`` layers up to the last tapped ReLU (same indices and
    keys)."""
    if net == "alex":
        return nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(),
            nn.MaxPool2d(3, 2), nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(),
            nn.MaxPool2d(3, 2), nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
        )  # fmt: skip
    layers: list[nn.Module] = []
    c_in = 3
    for v in _VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c_in, int(v), 3, padding=1), nn.ReLU()]
            c_in = int(v)
    return nn.Sequential(*layers)


class LPIPS(nn.Module):
    """Frozen LPIPS network. ``forward(pred, target)`` → scalar mean distance; ``distance`` → per image (N,).

    ``backbone_state``: torchvision AlexNet/VGG16 state dict (whole model or ``features`` only).
    ``lin_state``: the lpips package's linear-layer state dict (keys ``lin{k}.model.1.weight``), or None for
    the un-calibrated baseline. Gradients flow to the inputs, never to the (frozen) weights.
    """

    def __init__(
        self,
        backbone_state: dict[str, torch.Tensor],
        lin_state: dict[str, torch.Tensor] | None,
        net: str = "alex",
    ) -> None:
        super().__init__()
        if net not in NETS:
            raise ValueError(f"LPIPS: net must be one of {NETS}, got {net!r}")
        self.net = net
        self.features = _features(net)
        state = {k.removeprefix("features."): v for k, v in backbone_state.items() if not k.startswith("classifier")}
        wanted = set(self.features.state_dict())
        missing = sorted(wanted - set(state))
        if missing:
            raise ValueError(f"LPIPS: backbone weights for net={net!r} lack {missing[:3]} (wrong net or file?)")
        self.features.load_state_dict({k: state[k] for k in wanted})
        self.lins = nn.ParameterList()
        if lin_state is not None:
            pattern = re.compile(r"lin(\d)\.(?:model\.1\.)?weight")
            by_layer = {int(m.group(1)): v for k, v in lin_state.items() if (m := pattern.fullmatch(k))}
            for i, c in enumerate(_CHANNELS[net]):
                w = by_layer.get(i)
                if w is None or tuple(w.shape) != (1, c, 1, 1):
                    raise ValueError(f"LPIPS: lin weights lack lin{i} of shape (1, {c}, 1, 1) for net={net!r}")
                self.lins.append(nn.Parameter(w.detach().clone().float()))
        self.shift: torch.Tensor
        self.scale: torch.Tensor
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised features at the 5 tapped layers, each (N, C_l, H_l, W_l)."""
        out, taps = x, []
        for i, layer in enumerate(self.features):
            out = layer(out)
            if i in _TAPS[self.net]:
                taps.append(out / torch.sqrt((out * out).sum(dim=1, keepdim=True) + 1e-20))
        return taps

    def distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """LPIPS distance of each image pair (N,) for images (N, 1|3, H, W) in [0, 1]."""
        where = "lpips"
        check_pair(pred, target, where, ("pred", "target"), ndim=4)
        n, c, h, w = pred.shape
        if c not in (1, 3):
            raise ValueError(f"{where}: images must have 1 or 3 channels, got {c}")
        if min(h, w) < MIN_SIZE[self.net]:
            raise ValueError(f"{where}: net={self.net!r} needs H, W >= {MIN_SIZE[self.net]}, got {h}x{w}")
        both = torch.cat([pred, target]).to(self.shift.dtype).expand(-1, 3, -1, -1)  # (2N, 3, H, W)
        both = ((2.0 * both - 1.0) - self.shift) / self.scale  # (2N, 3, H, W)
        total = pred.new_zeros(n, dtype=self.shift.dtype)  # (N,)
        for i, f in enumerate(self._taps(both)):
            d = (f[:n] - f[n:]) ** 2  # (N, C_l, H_l, W_l)
            d = (d * self.lins[i]).sum(dim=1) if len(self.lins) else d.sum(dim=1)  # (N, H_l, W_l)
            total = total + d.mean(dim=(1, 2))  # (N,)
        return total

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean LPIPS distance over the batch; scalar (use as a loss)."""
        return self.distance(pred, target).mean()


def _existing(path: str | Path, what: str) -> Path:
    """The path as a Path; WeightsNotFoundError naming it when it is not a file."""
    p = Path(path)
    if not p.is_file():
        raise WeightsNotFoundError(f"lpips_loss: {what} file not found: {p}")
    return p


def _load_state(p: Path, what: str) -> dict[str, torch.Tensor]:
    """State dict from a ``.safetensors`` file or a ``torch.save`` file (``weights_only=True``)."""
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(p))
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file: say which one, on one line
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"lpips_loss: cannot read {what} file {p}: {reason}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"lpips_loss: {what} file {p} does not hold a state dict of tensors")
    return state


def lpips_loss(backbone_path: str | Path | None, lin_path: str | Path | None = None, net: str = "alex") -> LPIPS:
    """Build a frozen :class:`LPIPS` from local files: the torchvision backbone weights (required) and, for
    calibrated LPIPS, the lpips package's linear weights (``lin_path``, or ``lin*`` keys inside the backbone
    file; neither → the uncalibrated baseline). Raises WeightsNotFoundError naming a missing path."""
    if backbone_path is None:
        raise WeightsNotFoundError(
            f"lpips_loss: backbone_path is None; LPIPS needs local torchvision {net} weights (nothing is downloaded)"
        )
    backbone_file = _existing(backbone_path, "backbone weights")
    lin_file = _existing(lin_path, "LPIPS linear weights") if lin_path is not None else None
    backbone = _load_state(backbone_file, "backbone weights")
    lin: dict[str, torch.Tensor] | None
    if lin_file is not None:
        lin = _load_state(lin_file, "LPIPS linear weights")
    else:  # one combined file may carry the linear layers next to the backbone
        lin = {k: v for k, v in backbone.items() if k.startswith("lin")} or None
    return LPIPS(backbone, lin, net)
