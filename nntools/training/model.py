"""The neural tool: a mean-scale hyperprior codec with a multi-pass context model and learned rate levels.

Input is the codec's own 4:2:0 YCbCr: luma pixel-unshuffled to 4 channels at half resolution, stacked
with Cb and Cr, 6 channels (seed 002 ¶99).  One model serves every rate: an integer level selects a
learned per-channel quantisation step for the latent (the "learned pool of scales" of ¶103), trained
jointly with one λ per level.  The context model is the two-pass checkerboard (¶105) or the four-stage
variant (¶106).

This module holds the float model used for training, built from the layer lists of
``nntools.architecture``; the decoder never imports it (its fixed-point networks are built from the
same lists by ``nntools.exact``).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nntools.architecture import Layer, ModelConfig, networks, stage_masks
from nntools.training.entropy_models import FactorizedDensity, gaussian_likelihood
from nntools.training.layers import GDN, conv, deconv


def float_layer(layer: Layer) -> nn.Module:
    """The trainable module of one layer of ``nntools.architecture``."""
    if layer.kind == "conv":
        return conv(layer.cin, layer.cout, layer.kernel, layer.stride, layer.full_precision)
    if layer.kind == "deconv":
        return deconv(layer.cin, layer.cout, layer.kernel, layer.stride)
    if layer.kind in ("gdn", "igdn"):
        return GDN(layer.cout, inverse=layer.kind == "igdn")
    return nn.ReLU()


def float_network(layers: list[Layer]) -> nn.Sequential:
    return nn.Sequential(*(float_layer(layer) for layer in layers))


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
        nets = networks(cfg)
        for name in ("g_a", "g_s", "h_a", "h_s"):
            setattr(self, name, float_network(nets[name]))
        self.context = nn.ModuleList(float_network(nets[f"context.{k}"])[0] for k in range(cfg.context_stages))
        self.entropy_parameters = float_network(nets["entropy_parameters"])
        self.z_density = FactorizedDensity(cfg.hyper)
        lo, hi = torch.log(torch.tensor(3.0)), torch.log(torch.tensor(0.3))
        steps = torch.linspace(0, 1, cfg.levels).view(-1, 1)
        self.log_delta = nn.Parameter((lo + (hi - lo) * steps).repeat(1, cfg.latent))

    def stage_masks(self, height: int, width: int, device=None) -> list[torch.Tensor]:
        return stage_masks(self.cfg.context, height, width, device)

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
