"""Tests of the multi-task model on the tiny preset (32×32): shapes, gradients to every parameter, routing,
overfitting a tiny batch, input validation, and input sizes 16..128 for the default arch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from thzface.config import ConfigError, from_dict
from thzface.models import MtlModelConfig, MultiTaskModel, build_model, mtl_preset
from thzface.models.decoders import MixtureDecoder

DECODERS = ["moe_hard", "moe_soft", "film"]


def tiny_batch(n: int = 8, size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    """Smooth random 'unconcealed' targets; inputs add a bright garment band and noise; 4 identities."""
    g = torch.Generator().manual_seed(seed)
    target = F.avg_pool2d(torch.rand(n, 1, size + 6, size + 6, generator=g), 7, stride=1)  # (N, 1, S, S)
    target = (target - target.amin()) / (target.amax() - target.amin())
    x = target.clone()
    x[:, :, size // 2 :, :] = 0.8 + 0.1 * torch.rand(n, 1, size - size // 2, size, generator=g)
    return {
        "x": x.clamp(0, 1),
        "target": target,
        "posture": torch.arange(n) % 5,
        "identity": torch.arange(n) // 2,
    }


def mtl_loss(out, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of the three heads: contrastive-style embedding term + posture CE + reconstruction L1."""
    sim = out.embedding @ out.embedding.T  # (B, B)
    ident = batch["identity"]
    same = (ident[:, None] == ident[None, :]) & ~torch.eye(len(ident), dtype=torch.bool)
    diff = ident[:, None] != ident[None, :]
    emb = sim[diff].mean() - sim[same].mean()
    ce = F.cross_entropy(out.posture_logits, batch["posture"])
    return emb + ce + F.l1_loss(out.reconstruction, batch["target"])


def build(decoder: str, **kw) -> MultiTaskModel:
    torch.manual_seed(0)
    return build_model(mtl_preset("tiny", decoder=decoder, **kw))


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("route", ["predicted", "oracle", "soft"])
def test_output_shapes_ranges_and_routing(decoder: str, route: str) -> None:
    model, batch = build(decoder).eval(), tiny_batch(6)
    with torch.no_grad():
        out = model(batch["x"], batch["posture"], route=route)
    cfg = model.cfg
    assert out.embedding.shape == (6, cfg.embed_dim)
    assert out.posture_logits.shape == (6, 5) and out.routing.shape == (6, 5)
    assert out.reconstruction.shape == (6, 1, 32, 32) and out.latent.shape == (6, cfg.trunk_dim)
    for t in (out.embedding, out.posture_logits, out.reconstruction, out.latent, out.routing):
        assert torch.isfinite(t).all()
    assert torch.allclose(out.embedding.norm(dim=1), torch.ones(6), atol=1e-5)
    assert out.reconstruction.min() >= 0 and out.reconstruction.max() <= 1
    assert torch.allclose(out.routing.sum(dim=1), torch.ones(6), atol=1e-6)
    probs = out.posture_logits.softmax(dim=1)
    if route == "oracle":
        assert torch.equal(out.routing, F.one_hot(batch["posture"], 5).float())
    elif route == "soft" or decoder == "moe_soft":
        assert torch.allclose(out.routing, probs)
    else:
        assert torch.equal(out.routing, F.one_hot(probs.argmax(dim=1), 5).float())


@pytest.mark.parametrize("decoder", DECODERS)
def test_every_parameter_receives_a_gradient(decoder: str) -> None:
    model, batch = build(decoder, dropout=0.2).train(), tiny_batch(8)
    mtl_loss(model(batch["x"], route="soft"), batch).backward()
    params = [(n, p) for n, p in model.named_parameters() if not n.startswith("aligner.")]  # its own loss trains it
    no_grad = [n for n, p in params if p.grad is None or not torch.isfinite(p.grad).all()]
    zero = [n for n, p in params if p.grad is not None and p.grad.abs().sum() == 0]
    assert not no_grad and not zero, (no_grad, zero)
    assert all(p.grad is None for n, p in model.named_parameters() if n.startswith("aligner."))  # the warp reads it
    # detached (tests/recipes/test_mtl_geometry.py: the alignment loss trains it)


def test_gate_grad_lets_reconstruction_train_the_posture_head() -> None:
    batch = tiny_batch(4)
    for gate_grad, expect in [(False, False), (True, True)]:
        model = build("moe_soft", gate_grad=gate_grad)
        out = model(batch["x"])  # moe_soft routes softly by default
        F.l1_loss(out.reconstruction, batch["target"]).backward()
        assert (model.posture_head.weight.grad is not None) is expect


def test_hard_dispatch_equals_dense_blend_of_one_hot_weights() -> None:
    model, batch = build("moe_hard").eval(), tiny_batch(7)
    feats = model.encode(batch["x"])
    assert isinstance(model.decoder, MixtureDecoder)
    weights = F.one_hot(torch.tensor([4, 0, 0, 2, 4, 1, 2]), 5).float()  # (7, 5)
    with torch.no_grad():
        hard = model.decoder(feats.bottleneck, feats.skips, weights, hard=True)
        dense = model.decoder(feats.bottleneck, feats.skips, weights, hard=False)
        expert4 = model.decoder.experts[4](feats.bottleneck[:1], [s[:1] for s in feats.skips])
    assert torch.allclose(hard, dense, atol=1e-6)
    assert torch.allclose(hard[:1], expert4, atol=1e-6)


def test_oracle_route_differs_from_predicted_when_labels_differ() -> None:
    model, batch = build("moe_hard").eval(), tiny_batch(5)
    with torch.no_grad():
        predicted = model(batch["x"]).posture_logits.argmax(dim=1)
        wrong = (predicted + 1) % 5
        a = model(batch["x"], wrong, route="oracle").reconstruction
        b = model(batch["x"], predicted, route="oracle").reconstruction
        c = model(batch["x"]).reconstruction
    assert torch.allclose(b, c, atol=1e-6) and not torch.allclose(a, c, atol=1e-4)


@pytest.mark.parametrize("decoder", DECODERS)
def test_embed_without_flip_test_equals_the_forward_embedding_exactly(decoder: str) -> None:
    model, batch = build(decoder, flip_test=False).eval(), tiny_batch(4)
    with torch.no_grad():
        assert torch.equal(model.embed(batch["x"]), model(batch["x"]).embedding)
        assert torch.equal(model.infer(batch["x"]).embedding, model(batch["x"]).embedding)


def test_flip_test_embedding_is_the_normalised_sum_of_both_views_and_mirror_invariant() -> None:
    model, x = build("film", flip_test=True).eval(), tiny_batch(4)["x"]
    with torch.no_grad():
        one, mirror = model(x).embedding, model(x.flip(-1)).embedding  # (4, D) single views
        fused = model.embed(x)
        want = (one + mirror) / (one + mirror).norm(dim=1, keepdim=True)
        assert torch.allclose(fused, want, atol=1e-5)
        assert not torch.allclose(fused, one, atol=1e-4)  # the flip test changes the embedding (a fresh model: small)
        assert torch.allclose(model.embed(x.flip(-1)), fused, atol=1e-5)  # a mirror image embeds the same
        out, plain = model.infer(x), model(x)  # one encoder pass over the scans and their mirrors
        assert torch.allclose(out.embedding, fused, atol=1e-6)
        assert torch.allclose(out.posture_logits, plain.posture_logits, atol=1e-5)  # only the embedding differs
        assert torch.allclose(out.reconstruction, plain.reconstruction, atol=1e-5)


def test_flip_test_is_on_by_default_and_off_in_the_paper_replica() -> None:
    assert MtlModelConfig().flip_test and mtl_preset("default").flip_test
    assert not mtl_preset("paper").flip_test


@pytest.mark.parametrize("decoder", DECODERS)
def test_overfits_a_tiny_batch(decoder: str) -> None:
    # Judged with batch statistics (train mode, dropout 0): after 40 fast-moving steps BN running averages lag
    # behind the weights, which says nothing about whether the model can fit.
    model, batch = build(decoder, dropout=0.0).train(), tiny_batch(8)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    route = "oracle" if decoder == "moe_hard" else "soft"  # how the reference trained the hard mixture
    with torch.no_grad():
        l1_start = F.l1_loss(model(batch["x"]).reconstruction, batch["target"]).item()
    for _ in range(40):
        opt.zero_grad()
        mtl_loss(model(batch["x"], batch["posture"], route=route), batch).backward()
        opt.step()
    with torch.no_grad():
        out = model(batch["x"])  # inference routing: predicted posture
    l1_end = F.l1_loss(out.reconstruction, batch["target"]).item()
    assert l1_end < 0.6 * l1_start, (l1_start, l1_end)
    assert torch.equal(out.posture_logits.argmax(dim=1), batch["posture"])
    sim = out.embedding @ out.embedding.T
    assert sim[0, 1] > sim[0, 2:].max()  # samples 0 and 1 share identity 0


@pytest.mark.parametrize("size", [16, 64, 128])
def test_default_arch_input_sizes(size: int) -> None:
    torch.manual_seed(0)
    model = build_model(mtl_preset("default", image_size=size)).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, size, size))
    assert out.reconstruction.shape == (2, 1, size, size)
    assert torch.isfinite(out.reconstruction).all()


def test_bad_inputs_raise_clear_errors() -> None:
    model, batch = build("moe_hard").eval(), tiny_batch(3)
    with pytest.raises(ValueError, match="needs the ground-truth posture"):
        model(batch["x"], route="oracle")
    with pytest.raises(ValueError, match="0-based"):
        model(batch["x"], torch.tensor([0, 5, 1]), route="oracle")
    with pytest.raises(ValueError, match="integer labels"):
        model(batch["x"], torch.tensor([0.0, 1.0, 2.0]), route="oracle")
    with pytest.raises(ValueError, match="route 'best'"):
        model(batch["x"], route="best")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"x must be \(B, 1, H, W\)"):
        model(torch.rand(3, 3, 32, 32))
    with pytest.raises(ValueError, match=r"pool=flatten\): input must be 32×32, got 40×40"):
        model(torch.rand(3, 1, 40, 40))
    with pytest.raises(ValueError, match="multiple of 16"):  # a pooled trunk takes any multiple of the reduction
        build("moe_hard", pool="attn").eval()(torch.rand(3, 1, 40, 40))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="decoder_widths"):
        MtlModelConfig(decoder_widths=(8, 8))
    with pytest.raises(ValueError, match="multiple of 2\\^3 · stem_stride 2 = 16"):
        MtlModelConfig(image_size=24)
    with pytest.raises(ValueError, match="decoder 'moe' is not one of"):
        MtlModelConfig(decoder="moe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dropout"):
        MtlModelConfig(dropout=1.0)
    with pytest.raises(ValueError, match="unknown preset"):
        mtl_preset("huge")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="decoder"):
        from_dict(MtlModelConfig, {"decoder": "moe"})
    cfg = from_dict(MtlModelConfig, {"widths": [8, 16], "decoder_widths": [8, 4], "image_size": 16})
    assert cfg.widths == (8, 16) and build_model(cfg).encoder.reduction == 8  # the default stem is stride 2
    with pytest.raises(ValueError, match="expected MtlModelConfig"):
        build_model({"arch": "paper"})  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript exporter (onnxscript not installed)
@pytest.mark.parametrize("decoder", ["moe_hard", "film"])
def test_onnx_export_matches_eager(decoder: str, tmp_path) -> None:
    """Exported graphs replace hard dispatch by the (equal) dense blend; outputs must match eager mode."""
    ort = pytest.importorskip("onnxruntime")

    class Heads(torch.nn.Module):
        def __init__(self, model: MultiTaskModel) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            out = self.model(x)
            return out.embedding, out.posture_logits, out.reconstruction

    wrapped = Heads(build(decoder)).eval()
    path = tmp_path / "mtl.onnx"
    torch.onnx.export(
        wrapped, (tiny_batch(2)["x"],), str(path), dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "b"}}
    )
    x = tiny_batch(5, seed=3)["x"]
    got = ort.InferenceSession(str(path)).run(None, {"x": x.numpy()})
    with torch.no_grad():
        want = wrapped(x)
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(torch.from_numpy(g), w, atol=1e-5)


def test_residual_reconstruction_starts_as_the_input_and_plain_does_not() -> None:
    batch = tiny_batch(4)
    x = batch["x"]
    with torch.no_grad():
        res = build("film").eval()(x).reconstruction
        plain = build("film", residual=False).eval()(x).reconstruction
    assert build("film").cfg.residual and (res - x).abs().max() < 0.05
    assert (plain - x).abs().max() > 0.2  # a sigmoid decoder starts near grey 0.5
    with pytest.raises(ValueError, match="residual"):
        mtl_preset("tiny", out_channels=3)
