"""Attention U-Net for inpainting: shapes, gates, gradients, compositing, the seed's parameter count, baselines."""

from __future__ import annotations

import pytest
import torch

from thzface.models.inpaint import AttentionGate, AttentionUNet, InpaintModelConfig, hide_holes, inpaint_preset
from thzface.models.profile import count_parameters, flops_per_sample
from thzface.recipes.inpaint.baselines import diffusion_fill, mean_fill

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def cancelled_by_batchnorm(model: torch.nn.Module) -> set[str]:
    """Names of conv biases right before a BatchNorm: its mean subtraction cancels them, so their gradient is zero
    up to float32 rounding (sometimes exactly zero: asserting it > 0 failed at about 1 draw in 20)."""
    out = set()
    for prefix, m in model.named_modules():
        if isinstance(m, torch.nn.Sequential):
            for i, (a, b) in enumerate(zip(list(m)[:-1], list(m)[1:], strict=True)):
                if isinstance(a, torch.nn.Conv2d) and a.bias is not None and isinstance(b, torch.nn.BatchNorm2d):
                    out.add(f"{prefix}.{i}.bias".lstrip("."))
    return out


def batch(channels: int = 1, n: int = 2, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(n, channels, size, size, generator=g)  # (n, C, S, S)
    mask = torch.zeros(n, 1, size, size)
    mask[:, :, 8:20, 6:24] = 1.0
    return image, mask


@pytest.mark.parametrize("channels,modality", [(1, "thz"), (3, "visible")])
def test_shapes_gates_and_range(channels, modality):
    model = AttentionUNet(inpaint_preset("tiny", image_channels=channels, modality=modality))
    image, mask = batch(channels)
    out = model.inpaint(image, mask)
    assert out.raw.shape == out.output.shape == image.shape
    assert [tuple(g.shape) for g in out.gates] == [(2, 1, 16, 16), (2, 1, 32, 32)]  # coarsest first
    for t in (out.raw, *out.gates):
        assert torch.isfinite(t).all() and t.min() >= 0 and t.max() <= 1
    assert torch.equal(model(torch.cat([image, mask], 1)), out.output)  # forward(x) = composite of cat input


def test_attention_gate_shapes_and_gradient():
    torch.manual_seed(0)
    gate = AttentionGate(gate_ch=8, skip_ch=6, inner_ch=3, norm="batch")
    g = torch.randn(2, 8, 5, 5, requires_grad=True)
    x = torch.randn(2, 6, 5, 5, requires_grad=True)
    gated, alpha = gate(g, x)
    assert gated.shape == x.shape and alpha.shape == (2, 1, 5, 5)
    assert torch.allclose(gated, x * alpha)
    gated.square().sum().backward()
    assert g.grad is not None and g.grad.abs().sum() > 0 and x.grad is not None
    before_bn = cancelled_by_batchnorm(gate)
    assert before_bn == {"w_g.0.bias", "w_x.0.bias", "psi.0.bias"}
    grads = {n: float(p.grad.abs().sum()) for n, p in gate.named_parameters() if p.grad is not None}
    assert set(grads) == {n for n, _ in gate.named_parameters()}
    assert all(grads[n] < 1e-5 * grads[n.replace("bias", "weight")] for n in before_bn)
    assert all(v > 0 for n, v in grads.items() if n not in before_bn)


@pytest.mark.parametrize("norm,up", [("batch", "transpose"), ("group", "bilinear")])
def test_every_parameter_receives_a_gradient(norm, up):
    torch.manual_seed(0)
    model = AttentionUNet(inpaint_preset("tiny", norm=norm, up=up, fill="mean"))
    image, mask = batch()
    out = model.inpaint(image, mask)
    (out.raw - image).abs().mean().backward()
    exempt = cancelled_by_batchnorm(model)  # the gates' conv biases with BatchNorm; none with GroupNorm
    assert bool(exempt) == (norm == "batch")
    missing = [
        n for n, p in model.named_parameters() if n not in exempt and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    assert missing == []
    assert all(p.grad is not None for n, p in model.named_parameters() if n in exempt)


def test_composite_keeps_known_pixels_and_never_sees_the_hole():
    model = AttentionUNet(inpaint_preset("tiny")).eval()
    image, mask = batch()
    out = model.inpaint(image, mask).output
    known = mask == 0
    assert torch.equal(out.expand_as(image)[known.expand_as(image)], image[known.expand_as(image)])
    tampered = image.clone()
    tampered[mask.expand_as(image) > 0] = 0.123  # change only the hidden pixels
    assert torch.equal(model.inpaint(tampered, mask).output, out)


def test_hide_holes_fills():
    image = torch.tensor([[[[0.2, 0.4], [0.6, 1.0]]]])  # (1, 1, 2, 2)
    mask = torch.tensor([[[[0.0, 0.0], [0.0, 1.0]]]])
    assert torch.allclose(hide_holes(image, mask, "zero"), torch.tensor([[[[0.2, 0.4], [0.6, 0.0]]]]))
    assert torch.allclose(hide_holes(image, mask, "mean"), torch.tensor([[[[0.2, 0.4], [0.6, 0.4]]]]))
    assert torch.equal(mean_fill(image, mask), hide_holes(image, mask, "mean"))


@pytest.mark.parametrize("signed", [False, True])
def test_residual_head_starts_at_the_fill_and_learns(signed):
    torch.manual_seed(0)
    model = AttentionUNet(inpaint_preset("tiny", fill="diffusion", residual=True, signed=signed))
    image, mask = batch()
    out = model.inpaint(image, mask)
    assert torch.allclose(out.output, diffusion_fill(image, mask), atol=1e-5)  # untrained: the fill itself
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):  # step 1 moves the zero head, step 2 reaches every layer
        opt.zero_grad()
        (model.inpaint(image, mask).raw - image).abs().mean().backward()
        opt.step()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_gates_off_is_a_plain_unet():
    with_gates = AttentionUNet(inpaint_preset("tiny"))
    plain = AttentionUNet(inpaint_preset("tiny", gates=False))
    image, mask = batch()
    assert plain.inpaint(image, mask).gates == []
    assert count_parameters(plain) < count_parameters(with_gates)


def test_paper_preset_has_the_seeds_31_9_m_parameters_at_512():
    cfg = inpaint_preset("paper")
    assert (cfg.image_size, cfg.in_channels, cfg.widths) == (512, 4, (64, 128, 256, 512, 1024))
    model = AttentionUNet(cfg)
    assert round(count_parameters(model) / 1e6, 1) == 31.9
    image, mask = batch(channels=3, n=1, size=32)  # runs at the dataset's size too (multiple of 16)
    assert model.eval().inpaint(image, mask).output.shape == (1, 3, 32, 32)


def test_default_preset_is_cpu_sized():
    model = AttentionUNet(inpaint_preset("default"))
    assert count_parameters(model) < 1_000_000
    assert flops_per_sample(model, 32) > 0  # forward(x) with image + mask channels


def test_config_errors():
    with pytest.raises(ValueError, match="modality 'thz' images have 1 channel"):
        InpaintModelConfig(image_channels=3)
    with pytest.raises(ValueError, match=r"image_size 60 is not a positive multiple of 2\^3"):
        InpaintModelConfig(image_size=60)
    with pytest.raises(ValueError, match="fill 'noise' is not one of"):
        InpaintModelConfig(fill="noise")
    model = AttentionUNet(inpaint_preset("tiny"))
    image, mask = batch()
    with pytest.raises(ValueError, match=r"mask must be \(B, 1, H, W\)"):
        model.inpaint(image, mask[:, :, :16])
    with pytest.raises(ValueError, match=r"H, W must be multiples of 2\^2"):
        model.inpaint(image[..., :30, :30], mask[..., :30, :30])


def test_diffusion_fill_is_harmonic():
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    ramp = (0.1 + 0.8 * (xx + yy) / 62)[None, None]  # a linear ramp is harmonic: filled exactly
    _, mask = batch(n=1)
    filled = diffusion_fill(ramp, mask)
    assert torch.allclose(filled, ramp, atol=1e-4)
    assert torch.equal(filled[mask.expand_as(ramp) == 0], ramp[mask.expand_as(ramp) == 0])
    assert (mean_fill(ramp, mask) - ramp).abs().max() > 0.1  # the mean fill is not
