"""unmask3d networks: gated convolution, N3D, generator, PatchGAN, the deployable container."""

from __future__ import annotations

import pytest
import torch

from thzface.models.unmask3d import Noise, Unmask3D, Unmask3DModelConfig, build_discriminator, composite
from thzface.models.unmask3d_nets import N3D, GatedConv2d, Generator, PatchDiscriminator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


SMALL = dict(n3d_widths=(4, 8), n3d_hidden=8, gen_widths=(4, 8), gen_res_blocks=1, disc_widths=(4, 8))


def all_params_get_grad(module: torch.nn.Module) -> list[str]:
    return [n for n, p in module.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]


def test_gated_conv_shapes_gradients_and_gate():
    torch.manual_seed(0)
    conv = GatedConv2d(3, 5, kernel=3, stride=2)
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    y = conv(x)
    assert y.shape == (2, 5, 8, 8)
    y.square().sum().backward()
    assert not all_params_get_grad(conv)
    g = conv.conv.weight.grad  # (10, 3, 3, 3): feature half and gate half both receive gradient
    assert g[:5].abs().sum() > 0 and g[5:].abs().sum() > 0
    assert x.grad is not None and x.grad.abs().sum() > 0
    with torch.no_grad():  # a closed gate (sigmoid(-inf)) silences the output whatever the features
        conv.conv.weight[5:].zero_()
        conv.conv.bias[5:].fill_(-50.0)
    assert conv(torch.rand(1, 3, 16, 16)).abs().max() < 1e-12


def test_gated_conv_rejects_bad_sizes():
    with pytest.raises(ValueError, match="GatedConv2d: sizes must be positive"):
        GatedConv2d(3, 0)


def test_n3d_shapes_and_every_parameter_gets_gradient():
    torch.manual_seed(0)
    net = N3D(3, (4, 8, 16), hidden=8, n_coeffs=11, norm="instance")
    out = net(torch.rand(2, 3, 16, 16))
    assert out.mask_logits.shape == (2, 1, 16, 16) and out.coeffs.shape == (2, 11)
    (out.mask_logits.mean() + out.coeffs.square().mean()).backward()
    assert not all_params_get_grad(net)
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.rand(1, 3, 18, 18))


def test_generator_noise_controls_output():
    torch.manual_seed(0)
    gen = Generator(7, 3, (4, 8), res_blocks=2, z_dim=4, norm="instance").eval()
    x = torch.rand(2, 7, 16, 16)
    z1, z2 = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    y1 = gen(x, z1)
    assert y1.shape == (2, 3, 16, 16) and torch.isfinite(y1).all()
    assert torch.equal(y1, gen(x, z1.clone()))  # same noise, same output
    assert (y1 - gen(x, z2)).abs().mean() > 1e-4  # other noise, other output
    with pytest.raises(ValueError, match=r"z must have shape \(2, 4, 8, 8\)"):
        gen(x, None)
    gen.train()
    gen(x, z1).square().mean().backward()
    assert not all_params_get_grad(gen)


def test_patch_discriminator_map():
    d = PatchDiscriminator(3, (4, 8, 16))
    out = d(torch.rand(2, 3, 32, 32), torch.ones(2, 1, 32, 32))
    assert out.shape == (2, 1, 4, 4)
    out.mean().backward()
    assert not all_params_get_grad(d)


def test_seven_channel_rgb_generator_input_and_hole_fill():
    cfg = Unmask3DModelConfig(modality="visible", image_channels=3, hole_fill="zeros", z_dim=2, **SMALL)
    assert cfg.generator_in_channels == 7
    model = Unmask3D(cfg, n_coeffs=5).eval()
    image, render = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1
    noise = model.draw_noise(image, torch.Generator().manual_seed(0))
    assert model.generator_input(image, mask, render, noise).shape == (1, 7, 16, 16)
    other = image.clone()
    other[..., 4:12, 4:12] = 0.123  # different pixels under the hole: hidden, so the output is the same
    assert torch.allclose(model.generate(image, mask, render, noise), model.generate(other, mask, render, noise))
    out = composite(model.generate(image, mask, render, noise), image, mask)
    assert torch.equal(out[..., :4, :], image[..., :4, :])  # known pixels copied


def test_no_prior_ablation_ignores_the_render():
    cfg = Unmask3DModelConfig(use_render=False, hole_fill="keep", residual=True, z_dim=0, **SMALL)
    model = Unmask3D(cfg, n_coeffs=5).eval()
    image, mask = torch.rand(1, 1, 16, 16), torch.ones(1, 1, 16, 16)
    noise = Noise(fill=torch.zeros_like(image), z=torch.zeros(1, 0, 8, 8))
    a = model.generate(image, mask, torch.rand(1, 3, 16, 16), noise)
    assert torch.equal(a, model.generate(image, mask, torch.rand(1, 3, 16, 16), noise))
    assert (a - image).abs().max() < 0.25  # residual mode starts near the seen pixels


def test_coefficient_statistics_round_trip():
    model = Unmask3D(Unmask3DModelConfig(**SMALL), n_coeffs=3)
    model.set_coef_stats(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 0.5, 0.0]))
    c = torch.tensor([[3.0, 2.5, 3.0]])
    assert torch.allclose(model.standardise(c), torch.tensor([[1.0, 1.0, 0.0]]))
    assert torch.allclose(model.destandardise(model.standardise(c)), c)
    assert bool(model.coef_stats_set) and float(model.coef_std[2]) == pytest.approx(1e-3)  # floored


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        (dict(modality="thz", image_channels=3), "image_channels"),
        (dict(hole_fill="noise", residual=True), "residual: needs hole_fill 'keep'"),
        (dict(norm="layer"), "norm"),
        (dict(face_model="flame"), "face_model"),
    ],
)
def test_model_config_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        Unmask3DModelConfig(**kw)


def test_discriminator_sees_image_and_mask():
    d = build_discriminator(Unmask3DModelConfig(image_channels=1, **SMALL))
    assert d.net[0].in_channels == 2
