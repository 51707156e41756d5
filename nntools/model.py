"""The neural tool: a mean-scale hyperprior codec with a multi-pass context model and learned rate levels.

Input is the codec's own 4:2:0 YCbCr: luma pixel-unshuffled to 4 channels at half resolution, stacked
with Cb and Cr, 6 channels (seed 002 ¶99).  One model serves every rate: an integer level selects a
learned per-channel quantisation step for the latent (the "learned pool of scales" of ¶103), trained
jointly with one λ per level.  The context model is the two-pass checkerboard (¶105) or the four-stage
variant (¶106).

This module holds the float model used for training.  The decoder never runs it: ``nntools.exact``
derives from it the fixed-point network that defines the bitstream.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from nntools.entropy_models import FactorizedDensity, gaussian_likelihood
from nntools.layers import GDN, checkerboard_anchor_mask, conv, deconv, four_pass_masks

# λ per level for D = MSE on [0, 1] samples (CompressAI's MSE ladder), level 0 = lowest rate.
DEFAULT_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)


@dataclass(frozen=True)
class ModelConfig:
    channels: int = 96          # N: width of the analysis/synthesis transforms
    latent: int = 160           # M: channels of y
    hyper: int = 96             # channels of z
    levels: int = 8
    context: str = "checkerboard"   # or "four_pass"
    in_channels: int = 6
    lambdas: tuple[float, ...] = DEFAULT_LAMBDAS

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        d["lambdas"] = tuple(d["lambdas"])
        return cls(**d)


def adapt_context(weights: dict, context: str) -> dict:
    """Weights of a trained model for a model with the given context model: a four-stage model's
    missing context convolutions start as copies of the first one, a checkerboard keeps the first."""
    if context != "four_pass":
        return {k: v for k, v in weights.items() if not k.startswith(("context.1.", "context.2."))}
    weights = dict(weights)
    for k in (1, 2):
        for p in ("weight", "bias"):
            weights.setdefault(f"context.{k}.{p}", weights[f"context.0.{p}"].clone())
    return weights


def ste_round(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


class NNCodecModel(nn.Module):
    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        n, m, h, cin = cfg.channels, cfg.latent, cfg.hyper, cfg.in_channels
        self.g_a = nn.Sequential(
            conv(cin, n, 3, 1), GDN(n),
            conv(n, n), GDN(n),
            conv(n, n), GDN(n),
            conv(n, m, full_precision=True),
        )
        self.g_s = nn.Sequential(
            deconv(m, n), GDN(n, inverse=True),
            deconv(n, n), GDN(n, inverse=True),
            deconv(n, n), GDN(n, inverse=True),
            conv(n, cin, 3, 1, full_precision=True),
        )
        self.h_a = nn.Sequential(
            conv(m, h, 3, 1), nn.ReLU(),
            conv(h, h), nn.ReLU(),
            conv(h, h, full_precision=True),
        )
        self.h_s = nn.Sequential(
            deconv(h, h), nn.ReLU(),
            deconv(h, m * 3 // 2), nn.ReLU(),
            conv(m * 3 // 2, 2 * m, 3, 1, full_precision=True),
        )
        stages = 1 if cfg.context == "checkerboard" else 3
        self.context = nn.ModuleList(conv(m, 2 * m, 5, 1) for _ in range(stages))
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(4 * m, 3 * m, 1), nn.ReLU(),
            nn.Conv2d(3 * m, 2 * m, 1), nn.ReLU(),
            conv(2 * m, 2 * m, 1, 1, full_precision=True),
        )
        self.z_density = FactorizedDensity(h)
        lo, hi = torch.log(torch.tensor(3.0)), torch.log(torch.tensor(0.3))
        steps = torch.linspace(0, 1, cfg.levels).view(-1, 1)
        self.log_delta = nn.Parameter((lo + (hi - lo) * steps).repeat(1, m))

    # -- helpers shared with the exact decoder ------------------------------------------------------
    def stage_masks(self, height: int, width: int, device=None) -> list[torch.Tensor]:
        if self.cfg.context == "checkerboard":
            anchor = checkerboard_anchor_mask(height, width, device)
            return [anchor, 1 - anchor]
        return four_pass_masks(height, width, device)

    def delta(self, levels: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.log_delta[levels]).unsqueeze(-1).unsqueeze(-1)

    def latent_stages(self, y: torch.Tensor, hyper: torch.Tensor, delta: torch.Tensor,
                      rounded_rate: bool = False,
                      quantise: Callable[[torch.Tensor], torch.Tensor] = ste_round
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Multi-pass entropy model: each stage's parameters see the quantised latents of the earlier
        stages only.  Returns (ŷ, likelihood of y).  ``quantise`` maps the symbols (y - μ)/Δ to their
        differentiable stand-ins (straight-through rounding; the encoder's refinement may anneal soft
        rounding instead); the rate of y uses them (``rounded_rate``, the encoder's online refinement)
        or the symbols plus uniform noise (training)."""
        masks = self.stage_masks(y.shape[2], y.shape[3], y.device)
        m = self.cfg.latent
        ctx = torch.zeros_like(hyper)
        seen = torch.zeros_like(masks[0])
        mu = torch.zeros_like(y)
        logsig = torch.zeros_like(y)
        y_hat = torch.zeros_like(y)
        quantised = torch.zeros_like(y)
        for k, mask in enumerate(masks):
            if k > 0:
                conv_k = self.context[min(k - 1, len(self.context) - 1)]
                ctx = conv_k(y_hat * seen)
            params = self.entropy_parameters(torch.cat([hyper, ctx], dim=1))
            mu_k, logsig_k = params[:, :m], params[:, m:]
            q_k = quantise((y - mu_k) / delta)
            y_hat = y_hat + (q_k * delta + mu_k) * mask
            quantised = quantised + q_k * mask
            mu = mu + mu_k * mask
            logsig = logsig + logsig_k * mask
            seen = seen + mask
        symbols = quantised if rounded_rate else (y - mu) / delta + torch.empty_like(y).uniform_(-0.5, 0.5)
        return y_hat, gaussian_likelihood(symbols, torch.exp(logsig) / delta)

    @torch.no_grad()
    def rounded_forward(self, x: torch.Tensor, levels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x̂ clamped to the sample range, bits per sample) with hard-rounded latents: the operating point
        a decoder sees, computed in float, for evaluations between exports (not the normative decoder)."""
        y = self.g_a(x)
        z_hat = torch.round(self.h_a(y))
        y_hat, y_lik = self.latent_stages(y, self.h_s(z_hat), self.delta(levels), rounded_rate=True)
        z_lik = self.z_density.likelihood(z_hat)
        bits = -(torch.log2(y_lik).sum(dim=(1, 2, 3)) + torch.log2(z_lik).sum(dim=(1, 2, 3)))
        return self.g_s(y_hat).clamp(-0.5, 0.5), bits

    # -- training forward ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, levels: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: (B, 6, H, W) in [-0.5, 0.5], H and W multiples of 32; levels: (B,) int64."""
        y = self.g_a(x)
        z = self.h_a(y)
        z_lik = self.z_density.likelihood(z + torch.empty_like(z).uniform_(-0.5, 0.5))
        hyper = self.h_s(ste_round(z))
        y_hat, y_lik = self.latent_stages(y, hyper, self.delta(levels))
        x_hat = self.g_s(y_hat)
        return {"x_hat": x_hat, "y_lik": y_lik, "z_lik": z_lik}
