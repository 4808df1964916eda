"""Eigenface prior: the gappy completion recovers a hidden face of its own subspace; unfitted = the border fill;
the joint (face, render) prior fills the hole from the render alone; the inpainting fills built on it."""

from __future__ import annotations

import pytest
import torch

from thzface.models.eigenface import EigenFace, seamless
from thzface.models.inpaint import diffusion_fill
from thzface.models.unmask3d import Unmask3D, Unmask3DModelConfig
from thzface.recipes.inpaint.baselines import fitted_baselines, mean_face_fill

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SIZE = 8


def subspace_faces(n: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images mean + c·v (one direction, mirror-symmetric so the mirrored copies share it): (n, 1, S, S)."""
    g = torch.Generator().manual_seed(seed)
    mean = torch.full((1, SIZE, SIZE), 0.4)
    v = torch.rand(1, SIZE, SIZE, generator=g)
    v = 0.1 * (v + v.flip(-1))  # (1, S, S) symmetric direction
    c = torch.randn(n, generator=g)  # (n,)
    return mean + c.view(-1, 1, 1, 1) * v, mean, v


def hole() -> torch.Tensor:
    m = torch.zeros(1, 1, SIZE, SIZE)
    m[..., 2:6, 1:5] = 1.0
    return m


def test_gappy_completion_recovers_a_face_of_the_subspace() -> None:
    faces, mean, v = subspace_faces()
    prior = EigenFace(SIZE * SIZE, k=3, ridge=1e-6)
    prior.fit(faces)
    assert bool(prior.fitted)
    face = mean + 2.5 * v  # unseen coefficient, in the subspace
    out = prior.complete(face[None], hole(), diffusion_fill)
    assert torch.allclose(out, face[None], atol=1e-4)  # the hidden pixels come back from the visible ones
    assert not torch.allclose(diffusion_fill(face[None], hole()), face[None], atol=1e-3)  # the border fill cannot


def test_unfitted_prior_is_the_border_fill_and_known_pixels_stay() -> None:
    image = torch.rand(2, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    mask = hole().expand(2, -1, -1, -1)
    out = EigenFace(SIZE * SIZE, k=2, ridge=1.0).complete(image, mask, diffusion_fill)
    assert torch.allclose(out, diffusion_fill(image, mask), atol=1e-6)
    assert torch.equal(seamless(torch.zeros_like(image), image, mask, diffusion_fill)[mask.expand_as(image) == 0],
                       image[mask.expand_as(image) == 0])  # fmt: skip


def test_fit_rejects_other_sizes_and_bad_settings() -> None:
    with pytest.raises(ValueError, match="need k >= 1"):
        EigenFace(16, k=0, ridge=1.0)
    with pytest.raises(ValueError, match="images have 64 pixels, the prior 16"):
        EigenFace(16, k=1, ridge=1.0).fit(torch.rand(3, 1, 8, 8))


def test_joint_prior_fills_the_hole_from_the_render() -> None:
    """A face whose render determines it: with the render the prior recovers the hole even when the whole face
    is hidden; the no-render ablation (render zeroed) can only give the training mean there."""
    faces, mean, v = subspace_faces(seed=2)
    renders = (faces - 0.4).expand(-1, 3, -1, -1) * 3.0  # (n, 3, S, S) a render that carries the face
    cfg = dict(n3d_widths=(4, 8), n3d_hidden=8, gen_widths=(4, 8), gen_res_blocks=1, disc_widths=(4, 8))
    found = {}
    for use_render in (True, False):
        model = Unmask3D(Unmask3DModelConfig(**cfg, hole_fill="keep", residual=True, start="eigen",
                                             eigen_k=2, eigen_ridge=1e-6, use_render=use_render), 3, SIZE)  # fmt: skip
        assert model.prior is not None
        model.prior.fit(model.prior_input(faces, renders))
        face = mean[None] + 1.7 * v[None]  # (1, 1, S, S)
        render = (face - 0.4).expand(-1, 3, -1, -1) * 3.0
        everything = torch.ones(1, 1, SIZE, SIZE)
        found[use_render] = model.start(torch.zeros_like(face), everything, render)  # nothing of the face seen
    face = mean[None] + 1.7 * v[None]
    assert torch.allclose(found[True], face, atol=1e-3)
    assert torch.allclose(found[False], faces.mean(0, keepdim=True), atol=1e-3)


def test_mean_face_fill_takes_the_posture_that_fits_the_known_pixels() -> None:
    means = torch.stack([torch.full((1, SIZE, SIZE), 0.2), torch.full((1, SIZE, SIZE), 0.7)])  # two postures
    image = torch.full((1, 1, SIZE, SIZE), 0.68)
    out = mean_face_fill(means)(image, hole())
    assert torch.allclose(out, image, atol=1e-5)  # 0.7's face + the diffusion of the constant -0.02 residual
    names = [f"p-00{i}_n{1 + i % 2}n_1.png" for i in range(4)]
    images = torch.stack([torch.full((1, SIZE, SIZE), 0.2 + 0.5 * (i % 2)) for i in range(4)])
    fills = fitted_baselines(images, names, eigen_k=2, eigen_ridge=1.0)
    assert set(fills) == {"mean-face-fill", "eigen-fill"}
    assert torch.allclose(fills["mean-face-fill"](image, hole()), out)
