"""Building blocks of the learned transforms.

GDN/IGDN (Ballé et al.) is kept as the non-linearity: for the shallow, CPU-trainable transforms used here
it is known to beat ReLU at equal size, and it stays exactly reproducible in the fixed-point decoder
because its only non-linear operations (sqrt, division) are correctly rounded IEEE-754 operations.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GDN(nn.Module):
    """Generalised divisive normalisation: y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2).

    ``inverse=True`` gives IGDN (multiplication instead of division), used in the synthesis transform.
    beta and gamma are kept positive with a softplus re-parametrisation.
    """

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta_raw = nn.Parameter(torch.full((channels,), 0.5413))  # softplus -> 1.0
        gamma = torch.full((channels, channels), -9.0)
        gamma.fill_diagonal_(-2.2522)  # softplus -> 0.1
        self.gamma_raw = nn.Parameter(gamma)

    def beta(self) -> torch.Tensor:
        return F.softplus(self.beta_raw) + 1e-4

    def gamma(self) -> torch.Tensor:
        return F.softplus(self.gamma_raw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        norm = F.conv2d(x * x, self.gamma().view(c, c, 1, 1), self.beta())
        norm = torch.sqrt(norm)
        return x * norm if self.inverse else x / norm


class FullPrecisionConv2d(nn.Conv2d):
    """A convolution that stays float32 under bfloat16 autocast (``--bf16`` training).

    Used for the last layer of each transform: their outputs are rounded to symbols (latent, hyper-latent),
    set the probabilities (entropy parameters) or are scored (reconstruction), and bf16's 8-bit mantissa
    would move those rounding decisions and the distortion.  The same weights as ``nn.Conv2d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.float())


def conv(cin: int, cout: int, kernel: int = 5, stride: int = 2, full_precision: bool = False) -> nn.Conv2d:
    cls = FullPrecisionConv2d if full_precision else nn.Conv2d
    return cls(cin, cout, kernel, stride=stride, padding=kernel // 2)


def deconv(cin: int, cout: int, kernel: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, kernel, stride=stride, padding=kernel // 2,
                              output_padding=stride - 1)
