"""A scale-hyperprior image codec with CompressAI's structure (Ballé et al. 2018), in plain PyTorch.

``ScaleHyperprior`` has CompressAI's parts and names: analysis ``g_a`` / synthesis ``g_s`` with GDN,
hyper-analysis ``h_a`` / hyper-synthesis ``h_s``, an ``EntropyBottleneck`` (non-parametric factorized
density) for the hyper-latent z and a ``GaussianConditional`` for the latent y.  One model covers
several rates with per-level gain vectors on y (Cui et al. 2021's gain units), so a level is a pair of
gains rather than a separate network.  CompressAI itself pulls torchvision and a CUDA build of torch
beside this project's CPU build (docs/PLUGINS.md), so its classes are re-stated here, not imported (the
two entropy models on hybridcodec's own training implementations of the same densities).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from nntools.training.entropy_models import SCALE_MIN, FactorizedDensity, gaussian_likelihood

LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483)   # CompressAI's MSE operating points q1..q6


@dataclass(frozen=True)
class Config:
    N: int = 48            # channels of the transforms and of z
    M: int = 64            # channels of y
    levels: int = len(LAMBDAS)

    def to_dict(self) -> dict:
        return asdict(self)


class GDN(nn.Module):
    """Generalised divisive normalisation (inverse for the synthesis), parameters kept positive."""

    def __init__(self, channels: int, inverse: bool = False):
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(channels))
        self.gamma = nn.Parameter(0.1 * torch.eye(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = F.softplus(self.beta) + 1e-6
        gamma = F.softplus(self.gamma)
        norm = torch.sqrt(F.conv2d(x * x, gamma[:, :, None, None], beta))
        return x * norm if self.inverse else x / norm


def conv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def deconv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=k // 2, output_padding=stride - 1)


class EntropyBottleneck(FactorizedDensity):
    """CompressAI's name for Ballé's factorized density of z (hybridcodec's own implementation)."""

    def pmfs(self, support: int) -> torch.Tensor:
        """(C, 2 * support + 1) probabilities of the integers -support .. support."""
        with torch.no_grad():
            v = torch.arange(-support, support + 1, dtype=torch.float32)
            c = self.matrices[0].shape[0]
            return self.likelihood(v.view(1, 1, 1, -1).expand(1, c, 1, -1))[0, :, 0]


class GaussianConditional(nn.Module):
    """y given its scale: a zero-mean Gaussian convolved with a unit box (CompressAI's name)."""

    @staticmethod
    def likelihood(y: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return gaussian_likelihood(y, scale)


class ScaleHyperprior(nn.Module):
    def __init__(self, cfg: Config = Config()):
        super().__init__()
        n, m = cfg.N, cfg.M
        self.cfg = cfg
        self.g_a = nn.Sequential(conv(3, n), GDN(n), conv(n, n), GDN(n), conv(n, n), GDN(n), conv(n, m))
        self.g_s = nn.Sequential(deconv(m, n), GDN(n, True), deconv(n, n), GDN(n, True), deconv(n, n),
                                 GDN(n, True), deconv(n, 3))
        self.h_a = nn.Sequential(conv(m, n, 3, 1), nn.ReLU(), conv(n, n, 3), nn.ReLU(), conv(n, n, 3))
        self.h_s = nn.Sequential(deconv(n, n, 3), nn.ReLU(), deconv(n, n, 3), nn.ReLU(), conv(n, m, 3, 1))
        self.entropy_bottleneck = EntropyBottleneck(n)
        self.gaussian_conditional = GaussianConditional()
        self.gain = nn.Parameter(torch.ones(cfg.levels, m))          # y * gain[level] before rounding
        with torch.no_grad():                                        # start the levels apart
            self.gain.mul_(torch.tensor([2.0 ** (k / 2 - 1.5) for k in range(cfg.levels)])[:, None])

    def scales(self, z_hat: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        """The scale of every latent (in gained units), from the decoded hyper-latent."""
        return F.softplus(self.h_s(z_hat))[:, :, :shape[0], :shape[1]] + SCALE_MIN

    def forward(self, x: torch.Tensor, level: torch.Tensor) -> dict:
        """Training: additive uniform noise for rounding; ``level`` (B,) picks each item's gain."""
        gain = torch.abs(self.gain[level])[:, :, None, None]
        y = self.g_a(x) * gain
        z = self.h_a(torch.abs(y))
        z_tilde = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        y_tilde = y + torch.empty_like(y).uniform_(-0.5, 0.5)
        scale = self.scales(z_tilde, y.shape[2:])
        return {"x_hat": self.g_s(y_tilde / gain),
                "likelihoods": {"y": self.gaussian_conditional.likelihood(y_tilde, scale),
                                "z": self.entropy_bottleneck.likelihood(z_tilde)}}
