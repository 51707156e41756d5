"""Encoder-side online optimisation of the neural path (seed 000), encoder-only.

The decoder, hyper-decoder and entropy models stay frozen; for the input at hand the encoder tunes
either the latent y itself ("latents") or a small pre-processing module in front of the analysis
transform ("module", seed 000 Fig. 3, claims 4-6) by gradient descent on λ·D + R; the latents in units
of their quantisation step, so that one learning rate suits every channel and level, and optionally the
hyper-latent z with them.  Rounding is stochastic Gumbel annealing ("sga", Yang et al. 2020: each
symbol a soft, randomly drawn mix of its floor and ceiling, hardening a little as a temperature decays,
which lets a latent cross a rounding boundary that a straight-through gradient never sees) or
straight-through ("ste").  It stops after ``steps`` steps
or once the distortion is under ``stop_mse`` (claims 1-3), and returns the iterate whose hard-rounded
loss is lowest (steps can overshoot).
The result is just a different y to code, so every refined bitstream decodes with the standard decoder.

Several learning rates make the refinement content adaptive: each is run and the one whose exact
coding has the lowest J is kept (``nntools.encoder.code_regions``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nntools.training.model import NNCodecModel, ste_round

ROUNDINGS = ("ste", "sga")
SGA_TAU = (0.5, 0.3)            # temperature at the first and the last step, decaying exponentially


def sga_round(x: torch.Tensor, tau: float, generator: torch.Generator) -> torch.Tensor:
    """A soft sample between floor(x) and floor(x) + 1: Gumbel-softmax at temperature ``tau`` over logits
    -atanh(distance)/tau, so the nearer integer is likelier and the mix is one-hot as tau -> 0."""
    floor = torch.floor(x).detach()
    frac = (x - floor).clamp(1e-5, 1 - 1e-5)
    logits = torch.stack([-torch.atanh(frac), -torch.atanh(1 - frac)], dim=-1) / tau
    gumbel = -torch.log(-torch.log(torch.rand(logits.shape, generator=generator).clamp_min(1e-20)))
    weights = torch.softmax((logits + gumbel) / tau, dim=-1)
    return floor + weights[..., 1]


@dataclass(frozen=True)
class RefineConfig:
    steps: int = 0
    lrs: tuple[float, ...] = (0.02,)     # one: fixed learning rate; several: chosen per region by J (target
                                         # "latents": in units of each channel's quantisation step Δ)
    target: str = "latents"              # "latents" or "module"
    stop_mse: float = 0.0                # stop once the MSE (samples in [0, 1]) falls below this
    rounding: str = "sga"                # "sga": stochastic Gumbel annealing; "ste": straight-through
    hyper: bool = False                  # also tune the hyper-latent z (its bits join the loss)

    def __post_init__(self) -> None:
        if self.target not in ("latents", "module"):
            raise ValueError(f"refinement target must be 'latents' or 'module', got {self.target!r}")
        if self.rounding not in ROUNDINGS:
            raise ValueError(f"refinement rounding must be one of {ROUNDINGS}, got {self.rounding!r}")
        if self.steps < 0 or not self.lrs or min(self.lrs) <= 0:
            raise ValueError("refinement needs steps >= 0 and positive learning rates")

    @property
    def active(self) -> bool:
        return self.steps > 0


class PreprocessModule(nn.Module):
    """x + conv(relu(conv(x))): starts as the identity (last conv zero), a few hundred parameters."""

    def __init__(self, channels: int = 6, hidden: int = 16):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(hidden, channels, 3, padding=1))
        nn.init.zeros_(self.body[2].weight)
        nn.init.zeros_(self.body[2].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


Box = tuple[int, int, int, int]          # top, left, rows, columns in latent positions (8 input samples each)


def region_of(window: torch.Tensor, core: Box | None) -> tuple[torch.Tensor, Box]:
    """The region inside an analysis window (B, 6, H, W), and its box; the whole window if ``core`` is None."""
    box = core or (0, 0, window.shape[2] // 8, window.shape[3] // 8)
    top, left, rows, cols = box
    return window[:, :, 8 * top:8 * (top + rows), 8 * left:8 * (left + cols)], box


def latents_of(y: torch.Tensor, box: Box) -> torch.Tensor:
    """The latents of ``box`` among those of the whole window."""
    top, left, rows, cols = box
    return y[:, :, top:top + rows, left:left + cols]


def refine_latents(model: NNCodecModel, window: torch.Tensor, level: int, lam_sse: float, peak: int, lr: float,
                   cfg: RefineConfig, core: Box | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, z) for the region x (B, 6, H, W) in [-0.5, 0.5], z already rounded: ``window`` is x, or with
    ``core`` (top, left, rows, columns in latent positions, 8 samples each) x and some of its
    surroundings, seen by the analysis only.  ``lam_sse``: the λ of J = SSE + λ·bits in sample units of
    ``peak``; the loss is that J per region, summed over the batch."""
    for p in model.parameters():
        p.requires_grad_(False)
    window = window.float()
    x, box = region_of(window, core)
    hy, wy = box[2:]
    delta = model.delta(torch.full((x.shape[0],), level, dtype=torch.int64))

    def analyse(inp: torch.Tensor) -> torch.Tensor:
        return latents_of(model.g_a(inp), box)

    with torch.no_grad():
        y0 = analyse(window)
        z0 = torch.round(model.h_a(y0))
    if cfg.target == "latents":             # tuned in units of each channel's quantisation step
        u = (y0 / delta).clone().requires_grad_(True)
        params, latent = [u], lambda: u * delta
    else:
        module = PreprocessModule(x.shape[1])
        params, latent = list(module.parameters()), lambda: analyse(module(window))
    z = z0.clone().requires_grad_(cfg.hyper)
    if cfg.hyper:
        params.append(z)
    optimiser = torch.optim.Adam(params, lr=lr)
    generator = torch.Generator().manual_seed(0)       # the same refinement every run

    def loss_of(y: torch.Tensor, quantise) -> tuple[torch.Tensor, torch.Tensor]:
        z_q = quantise(z) if cfg.hyper else z0
        y_hat, y_lik = model.latent_stages(y, model.h_s(z_q)[:, :, :hy, :wy], delta, rounded_rate=True,
                                           quantise=quantise)
        err = (model.g_s(y_hat) - x) ** 2
        bits = -torch.log2(y_lik).sum() - (torch.log2(model.z_density.likelihood(z_q)).sum() if cfg.hyper else 0)
        return peak ** 2 * err.sum() + lam_sse * bits, err

    best_loss, best = float("inf"), (y0, z0)
    for step in range(cfg.steps + 1):                  # the last pass only scores the last iterate
        optimiser.zero_grad()
        y = latent()
        descend = step < cfg.steps
        sga = descend and cfg.rounding == "sga"
        with torch.set_grad_enabled(descend and not sga):
            loss, err = loss_of(y, ste_round)          # its value is the loss with hard rounding
        if loss.item() < best_loss:                    # steps can overshoot: keep the best iterate
            best_loss, best = loss.item(), (y.detach().clone(), torch.round(z.detach()))
        if not descend or (cfg.stop_mse > 0 and float(err.detach().mean()) < cfg.stop_mse):
            break
        if sga:
            tau = SGA_TAU[0] * (SGA_TAU[1] / SGA_TAU[0]) ** (step / max(1, cfg.steps - 1))
            loss = loss_of(y, lambda s: sga_round(s, tau, generator))[0]
        loss.backward()
        optimiser.step()
    return best[0].double(), best[1].double()
