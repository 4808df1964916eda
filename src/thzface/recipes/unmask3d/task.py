"""Two-phase GAN training of ``unmask3d`` with Lightning manual optimisation.

Phase 1 (progress < ``loss.n3d_frac``): the N3D alone, ``w_bce·BCE(mask) + w_coef·L1(standardised coefficients)
+ w_lm·landmark reprojection + w_id3d·(1 - cos of identity-shape coefficients)``. Phase 2: the N3D frozen (no
gradient, eval mode), its mask and the render of its coefficients feed the generator; per step one
discriminator update (hinge/non-saturating + gradient penalty) then one generator update ``w_pix·L1 + w_tv·TV +
w_adv·adversarial + w_id·identity + w_ms·mode seeking``. Exactly one Lightning optimizer step per batch, so
``global_step`` counts batches (the discriminator steps its raw optimizer). Learning rates follow
``train.schedule`` (cosine with warmup, or constant) inside each phase, times ``loss.mid_lr_factor`` in each
phase's second half. Every loss is checked for NaN/Inf before its backward pass. ``val/score`` = mean(mask IoU,
1 / (1 + standardised coefficient L1), SSIM of the completion) + 1 in the generator phase, so the exported best
model always has a trained generator (the N3D is frozen there, so the generator's SSIM decides among them).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
import torch.nn.functional as F

from thzface import losses as Ls
from thzface.config import Config
from thzface.data.datasets import sample_seed
from thzface.engine.task import NonFiniteLossError, Task
from thzface.losses.reduce import weighted_mean
from thzface.losses.unmask3d import mode_seeking_loss
from thzface.metrics import reconstruction as R
from thzface.metrics.unmask3d import mask_iou
from thzface.models.unmask3d import Unmask3D, build_discriminator, composite
from thzface.recipes.unmask3d.config import build_model
from thzface.recipes.unmask3d.pipeline import analyse, complete
from thzface.recipes.unmask3d.render import Renderer, project

log = logging.getLogger(__name__)
VAL_SEED = 7  # noise seed of the validation completions
PRIOR_ROWS = 2000  # training rows (at most, the first) the joint eigen prior is fitted to


class Unmask3DTask(Task):
    """N3D phase, then generator + PatchGAN phase; ``model`` (N3D + generator) is what gets exported."""

    model: Unmask3D

    def __init__(self, cfg: Config, model: Unmask3D) -> None:
        if cfg.train.grad_clip > 0:
            raise ValueError(
                "train.grad_clip: unmask3d trains with manual (GAN) optimisation, where Lightning cannot clip; "
                "set train.grad_clip=0 and use loss.clip"
            )
        if cfg.train.schedule not in ("cosine", "constant"):
            raise ValueError(f"train.schedule: unmask3d supports cosine | constant, got {cfg.train.schedule!r}")
        super().__init__(cfg, model)
        self.automatic_optimization = False
        m, lc = cfg.model, cfg.loss
        self.disc = build_discriminator(m)
        self.renderer = Renderer(m.face_model, m.face_model_path, m.render_grid_deg, cfg.data.image_size)
        self.groups = self.renderer.layout.groups()
        self.embedder = None
        if lc.identity_run:
            from thzface.embedder import load_embedder

            self.embedder = load_embedder(lc.identity_run)
        elif lc.w_id > 0:
            log.warning("unmask3d: identity loss off (loss.identity_run is empty)")

    # -- progress and phases ---------------------------------------------------------------------

    def phase(self) -> tuple[str, float]:
        """Current phase (n3d | generator) and the progress inside it."""
        p, f = self.progress(), self.cfg.loss.n3d_frac
        if p < f:
            return "n3d", p / f
        return "generator", (p - f) / max(1e-9, 1.0 - f)

    def lr_factor(self, within: float) -> float:
        t = self.cfg.train
        f = 1.0
        if t.schedule == "cosine":
            w = t.warmup_frac
            f = within / w if within < w else 0.5 * (1.0 + math.cos(math.pi * (within - w) / max(1e-9, 1.0 - w)))
            f = max(f, 1e-3)
        return f * (self.cfg.loss.mid_lr_factor if within >= 0.5 else 1.0)

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if not bool(self.model.coef_stats_set):
            mean, std = self.trainer.datamodule.coef_stats()  # type: ignore[attr-defined]
            self.model.set_coef_stats(mean.to(self.device), std.to(self.device))

    def export_extra(self) -> dict:
        name, within = self.phase()
        return {"phase": name, "phase_progress": round(within, 4), "n3d_frac": self.cfg.loss.n3d_frac}

    # -- losses ----------------------------------------------------------------------------------
    def n3d_losses(self, batch: dict) -> dict[str, torch.Tensor]:
        lc, size = self.cfg.loss, batch["image"].shape[-1]
        out = self.model.analyse(batch["image"])
        has_m, has_c = batch["has_mask"].float(), batch["has_coeffs"].float()  # (B,) each
        bce = F.binary_cross_entropy_with_logits(out.mask_logits, batch["mask"], reduction="none").mean((1, 2, 3))
        target = self.model.standardise(batch["coeffs"])  # (B, K)
        err = (out.coeffs - target).abs()  # (B, K)
        coef = torch.stack([err[:, sl].mean(dim=1) for sl in self.groups.values()]).mean(dim=0)  # (B,) groups equal
        phys = self.model.destandardise(out.coeffs)  # (B, K)
        lm = project(batch["lm3d"], phys[:, self.groups["pose"]], phys[:, self.groups["placement"]])  # (B, 68, 2)
        lm_err = (lm - batch["lm2d"]).abs().mean(dim=(1, 2)) / size  # (B,)
        sh = self.groups["shape"]
        ident = 1.0 - F.cosine_similarity(out.coeffs[:, sh], target[:, sh], dim=1)  # (B,)
        terms = {
            "bce": weighted_mean(bce, has_m),
            "coef": weighted_mean(coef, has_c),
            "lm": weighted_mean(lm_err, has_c),
            "id3d": weighted_mean(ident, has_c),
        }
        terms["loss"] = lc.w_bce * terms["bce"] + lc.w_coef * terms["coef"] + lc.w_lm * terms["lm"]
        terms["loss"] = terms["loss"] + lc.w_id3d * terms["id3d"]
        return terms

    def _frozen_analysis(self, batch: dict):
        self.model.n3d.eval()
        self.model.n3d.requires_grad_(False)
        return analyse(self.model, self.renderer, batch["image"])

    @torch.no_grad()
    def fit_prior(self) -> None:
        """Fit the joint eigen prior (``model.start: eigen``) to (target, render of the frozen N3D's coefficients)
        of the training rows: the relation between a face and its render as the generator will see it."""
        from torch.utils.data import DataLoader

        xs: list[torch.Tensor] = []
        for b in DataLoader(self.trainer.datamodule.train_set, batch_size=64, shuffle=False):  # type: ignore[attr-defined]
            image, target = b["image"].to(self.device), b["target"].to(self.device)
            xs.append(self.model.prior_input(target, analyse(self.model, self.renderer, image).render))
            if sum(len(x) for x in xs) >= PRIOR_ROWS:
                break
        assert self.model.prior is not None
        self.model.prior.fit(torch.cat(xs)[:PRIOR_ROWS])  # (N, C + 3, H, W)

    def generate(self, batch: dict, a, gen: torch.Generator):
        """One noise draw from ``gen`` → (noise, raw output, composite) with gradient to the generator."""
        image = batch["image"]
        noise = self.model.draw_noise(image, gen)
        raw = self.model.generate(image, a.mask, a.render, noise)  # (B, C, H, W)
        return noise, raw, composite(raw, image, a.mask)

    def generator_losses(self, batch: dict, a, gen: torch.Generator, first=None) -> dict[str, torch.Tensor]:
        """Generator terms for analysis ``a``; ``first`` = a :meth:`generate` result to reuse, else drawn here."""
        lc = self.cfg.loss
        n1, raw, comp = first if first is not None else self.generate(batch, a, gen)
        self.disc.requires_grad_(False)
        terms = {
            "pix": (raw - batch["target"]).abs().mean(),
            "tv": Ls.tv_loss(comp),
            "adv": Ls.gan_g_loss(self.disc(comp, a.mask), kind=lc.gan),
        }
        self.disc.requires_grad_(True)
        total = lc.w_pix * terms["pix"] + lc.w_tv * terms["tv"] + lc.w_adv * terms["adv"]
        if self.embedder is not None:
            terms["id"] = Ls.identity_loss(self.embedder(comp), self.embedder(batch["target"]))
            total = total + lc.w_id * terms["id"]
        if lc.w_ms > 0:
            n2, raw2, _ = self.generate(batch, a, gen)
            terms["ms"] = mode_seeking_loss(raw, raw2, n1.flat(), n2.flat(), mask=a.mask, tau=lc.ms_tau)
            total = total + lc.w_ms * terms["ms"]
        terms["loss"] = total
        return terms

    def discriminator_losses(self, target: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor) -> dict:
        lc = self.cfg.loss
        g = torch.Generator(device=target.device).manual_seed(sample_seed(self.cfg.train.seed, self.global_step, 3))
        d = Ls.gan_d_loss(self.disc(target, mask), self.disc(fake, mask), kind=lc.gan)
        gp = Ls.gradient_penalty(lambda x: self.disc(x, mask), target, fake, generator=g, kind=lc.penalty)
        return {"d": d, "gp": gp, "d_loss": d + lc.w_gp * gp}

    def _noise_gen(self) -> torch.Generator:
        return torch.Generator().manual_seed(sample_seed(self.cfg.train.seed, self.global_step, 1))

    def compute_losses(self, batch: dict) -> dict[str, torch.Tensor]:
        """The current phase's objective (N3D terms, or generator terms against the current discriminator)."""
        if self.phase()[0] == "n3d":
            return self.n3d_losses(batch)
        return self.generator_losses(batch, self._frozen_analysis(batch), self._noise_gen())

    # -- optimisation ----------------------------------------------------------------------------
    def configure_optimizers(self):
        t, lc = self.cfg.train, self.cfg.loss

        def adam(params, beta1: float) -> torch.optim.Optimizer:
            return torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay, betas=(beta1, 0.999))

        return [
            adam(self.model.n3d.parameters(), 0.9),
            adam(self.model.generator.parameters(), lc.gan_beta1),
            adam(self.disc.parameters(), lc.gan_beta1),
        ]

    def _check(self, terms: dict[str, torch.Tensor], key: str) -> None:
        if not torch.isfinite(terms[key]):
            vals = {k: float(v.detach()) for k, v in terms.items()}
            raise NonFiniteLossError(f"non-finite loss at step {self.global_step}: {vals}")

    def _step(self, opt, loss: torch.Tensor, lightning_step: bool) -> None:
        opt.zero_grad()
        self.manual_backward(loss)
        if self.cfg.loss.clip > 0:
            self.clip_gradients(opt, gradient_clip_val=self.cfg.loss.clip, gradient_clip_algorithm="norm")
        if lightning_step:
            opt.step()  # counts as the batch's global step
        else:
            opt.optimizer.step()

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        opt_n3d, opt_g, opt_d = self.optimizers()  # type: ignore[misc, attr-defined]
        name, within = self.phase()
        lr = self.cfg.train.lr * self.lr_factor(within)
        for opt in (opt_n3d, opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
        if name == "n3d":
            self.model.n3d.requires_grad_(True)
            terms = self.n3d_losses(batch)
            self._check(terms, "loss")
            self._step(opt_n3d, terms["loss"], lightning_step=True)
        else:
            a = self._frozen_analysis(batch)
            if self.model.prior is not None and not bool(self.model.prior.fitted):
                self.fit_prior()  # once, when the generator phase begins (the N3D is frozen from here on)
            gen = self._noise_gen()
            first = self.generate(batch, a, gen)
            d_terms = self.discriminator_losses(batch["target"], first[2].detach(), a.mask)
            self._check(d_terms, "d_loss")
            self._step(opt_d, d_terms["d_loss"], lightning_step=False)
            terms = self.generator_losses(batch, a, gen, first)
            self._check(terms, "loss")
            self._step(opt_g, terms["loss"], lightning_step=True)
            terms.update(d_terms)
        bs = batch["image"].shape[0]
        logged: dict[str, torch.Tensor | float] = {f"train/{k}": v.detach() for k, v in terms.items()}
        logged.update({"train/phase": float(name == "generator"), "lr": lr})
        self.log_dict(logged, batch_size=bs, on_step=True)
        return terms["loss"].detach()

    # -- validation ------------------------------------------------------------------------------
    @torch.no_grad()
    def validation_outputs(self, batch: dict) -> dict[str, torch.Tensor]:
        image, target = batch["image"], batch["target"]
        a = analyse(self.model, self.renderer, image)
        coef = (self.model.standardise(a.coeffs) - self.model.standardise(batch["coeffs"])).abs().mean(dim=1)  # (B,)
        comp = complete(self.model, image, a, [VAL_SEED] * image.shape[0])  # (B, C, H, W)
        return {
            "iou": torch.from_numpy(mask_iou(a.mask_prob, batch["mask"])),
            "has_mask": batch["has_mask"],
            "coef": coef.cpu(),
            "has_coeffs": batch["has_coeffs"],
            "ssim": torch.from_numpy(R.ssim(comp, target)),
            "psnr": torch.from_numpy(R.psnr(comp, target)),
        }

    def validation_metrics(self, c: dict[str, torch.Tensor]) -> dict[str, float]:
        hm, hc = c["has_mask"].bool().numpy(), c["has_coeffs"].bool().numpy()
        iou = float(c["iou"].numpy()[hm].mean()) if hm.any() else float("nan")
        coef = float(c["coef"].numpy()[hc].mean()) if hc.any() else float("nan")
        ssim = float(c["ssim"].mean())
        parts = [iou, 1.0 / (1.0 + coef) if np.isfinite(coef) else float("nan"), ssim]
        generator_phase = float(self.phase()[0] == "generator")
        score = generator_phase + float(np.nanmean(parts))  # any generator-phase model outranks N3D-phase ones
        return {"iou": iou, "coef_l1": coef, "ssim": ssim, "psnr": float(c["psnr"].mean()), "score": score}


def build_task(cfg: Config) -> Unmask3DTask:
    return Unmask3DTask(cfg, build_model(cfg))
