"""Probability models of the latents used in training, and their export to integer CDF tables.

Training uses continuous relaxations (additive uniform noise); the bitstream uses integer CDF tables built
once at export time and stored with the weights, so no decoder ever recomputes a float CDF.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LIKELIHOOD_BOUND = 1e-9
SCALE_MIN = 0.11


def _std_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(-x * (2 ** -0.5))


def gaussian_likelihood(values: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """P(v - 0.5 < V < v + 0.5) for V ~ N(0, scale^2), values already mean-removed (symbol units)."""
    scales = scales.clamp(min=SCALE_MIN)
    v = values.abs()
    upper = _std_normal_cdf((0.5 - v) / scales)
    lower = _std_normal_cdf((-0.5 - v) / scales)
    return (upper - lower).clamp(min=LIKELIHOOD_BOUND)


class FactorizedDensity(nn.Module):
    """Ballé's non-parametric per-channel density for the hyper-latent z (the 'factorised prior').

    The cumulative is a monotone function built from softplus-positive matrices; the likelihood of an
    integer bin is the difference of the cumulative at its edges.
    """

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0):
        super().__init__()
        dims = (1, *filters, 1)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))

    def logits_cumulative(self, x: torch.Tensor) -> torch.Tensor:
        """x: (C, 1, B) -> logits of the cumulative, same shape."""
        for i, matrix in enumerate(self.matrices):
            x = torch.matmul(F.softplus(matrix), x) + self.biases[i]
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i]) * torch.tanh(x)
        return x

    def bin_likelihood(self, flat: torch.Tensor) -> torch.Tensor:
        """flat: (C, 1, N) values per channel -> likelihood of the unit bin around each, same shape."""
        lower = self.logits_cumulative(flat - 0.5)
        upper = self.logits_cumulative(flat + 0.5)
        sign = -torch.sign(lower + upper).detach()
        return (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs().clamp(min=LIKELIHOOD_BOUND)

    def likelihood(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, C, H, W) -> likelihood of the unit bin around each value."""
        b, c, h, w = z.shape
        lik = self.bin_likelihood(z.permute(1, 0, 2, 3).reshape(c, 1, -1))
        return lik.reshape(c, b, h, w).permute(1, 0, 2, 3)

    @staticmethod
    def _pmf_grid(pmfs: list[np.ndarray], offsets: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel pmfs on integer supports starting at ``offsets``, laid on one shared grid:
        (target probabilities (C, 1, N), grid values (C, 1, N))."""
        lo = int(np.min(offsets))
        hi = max(int(o) + len(p) for o, p in zip(offsets, pmfs))
        target = torch.zeros(len(pmfs), 1, hi - lo)
        for ch, (p, o) in enumerate(zip(pmfs, offsets)):
            target[ch, 0, int(o) - lo:int(o) - lo + len(p)] = torch.from_numpy(p / p.sum())
        return target, torch.arange(lo, hi, dtype=torch.float32).expand(len(pmfs), 1, -1)

    def _bits(self, target: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        return -(target * torch.log2(self.bin_likelihood(grid))).sum(dim=2).mean()

    def cross_entropy(self, pmfs: list[np.ndarray], offsets: np.ndarray) -> float:
        """Bits per value (mean over channels) this density spends on values drawn from the pmfs."""
        with torch.no_grad():
            return float(self._bits(*self._pmf_grid(pmfs, offsets)))

    def fit_pmfs(self, pmfs: list[np.ndarray], offsets: np.ndarray, steps: int = 2000, lr: float = 1e-2) -> float:
        """Fit the density to per-channel pmfs by minimising their cross-entropy; returns it.

        Shipped weights keep only the density's CDF tables, and z's density learns slowly at the small
        learning rates of a long run: training resumed from shipped weights with a fresh density spent
        2.3x the bits on z after 28,000 steps (docs/MODEL_CARD.md).  Fitting restores it first."""
        target, grid = self._pmf_grid(pmfs, offsets)
        optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        for _ in range(steps):
            optimizer.zero_grad()
            self._bits(target, grid).backward()
            optimizer.step()
        return self.cross_entropy(pmfs, offsets)

    @torch.no_grad()
    def pmf_tables(self, max_abs: int = 64, tail: float = 1e-6) -> tuple[list[np.ndarray], np.ndarray]:
        """Per-channel pmfs over a trimmed integer support, and each support's lowest value (offset)."""
        c = self.matrices[0].shape[0]
        grid = torch.arange(-max_abs, max_abs + 1, dtype=torch.float32)
        lik = self.bin_likelihood(grid.view(1, 1, -1).expand(c, 1, -1))
        pmfs, offsets = [], []
        for ch in range(c):
            p = lik[ch, 0].double().numpy()
            keep = np.nonzero(p > tail)[0]
            lo, hi = (keep[0], keep[-1]) if keep.size else (max_abs, max_abs)
            pmfs.append(p[lo:hi + 1])
            offsets.append(int(grid[lo]))
        return pmfs, np.asarray(offsets, dtype=np.int32)
