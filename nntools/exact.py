"""The normative neural decoder: the trained networks in exactly reproducible fixed-point arithmetic.

Every tensor lives on a dyadic grid with bounded magnitude and is held in float64:

* activations on the grid 2^-ACT_FRAC, clamped to ±ACT_LIMIT;
* weights on a per-tensor grid 2^-frac (frac ≤ WEIGHT_FRAC), |w| < 8; biases on the product grid;
* GDN squares are rounded to 2^-XSQ_FRAC from inputs clamped to ±GDN_INPUT_LIMIT.

With these bounds every product and every partial sum of a convolution is an integer multiple of the
product grid below 2^53, so float64 represents it exactly and the result does not depend on the order
of summation — i.e. not on BLAS blocking, thread count or batch size.  The only non-linear operations
(sqrt and division in GDN) are correctly rounded IEEE-754 operations, identical on every machine.  Each
layer's output is rounded back onto the activation grid.  Decisions that pick probabilities (scale
indices) are integer arithmetic on these exact values.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from bitstream.errors import BitstreamError
from nntools.architecture import Layer

ACT_FRAC = 10
ACT_LIMIT = 2.0 ** 10
WEIGHT_FRAC = 14
WEIGHT_LIMIT = 8.0
GAMMA_FRAC = 12
XSQ_FRAC = 8
GDN_INPUT_LIMIT = 2.0 ** 9
BETA_FRAC = XSQ_FRAC + GAMMA_FRAC

_ACT_SCALE = 2.0 ** ACT_FRAC


def to_grid(x: torch.Tensor, frac: int) -> torch.Tensor:
    """Round onto the grid 2^-frac (exact: scaling by powers of two and rounding are exact)."""
    s = 2.0 ** frac
    return torch.round(x * s) / s


def activation(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(torch.round(x * _ACT_SCALE) / _ACT_SCALE, -ACT_LIMIT, ACT_LIMIT)


class ExactConv:
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, stride: int, padding: int,
                 output_padding: int | None):
        self.weight, self.bias = weight, bias
        self.stride, self.padding, self.output_padding = stride, padding, output_padding

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.output_padding is None:
            y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        else:
            y = F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding)
        return activation(y)


class ExactGDN:
    def __init__(self, gamma: torch.Tensor, beta: torch.Tensor, inverse: bool):
        c = gamma.shape[0]
        self.gamma, self.beta, self.inverse = gamma.view(c, c, 1, 1), beta, inverse

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        xc = torch.clamp(x, -GDN_INPUT_LIMIT, GDN_INPUT_LIMIT)
        norm = torch.sqrt(F.conv2d(to_grid(xc * xc, XSQ_FRAC), self.gamma, self.beta))
        return activation(x * norm if self.inverse else x / norm)


class ExactSequential:
    """A fixed-point network: convolutions, (inverse) GDN and ReLU in sequence."""

    def __init__(self, layers: list):
        self.layers = layers

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def build_exact(layers: list[Layer], params: dict[str, np.ndarray], prefix: str) -> ExactSequential:
    """Fixed-point network of the layer list ``layers`` (``nntools.architecture``) with the integer
    parameters stored under ``<prefix>.<index>`` (under ``<prefix>`` for a one-layer network)."""
    out = []
    for i, layer in enumerate(layers):
        key = prefix if len(layers) == 1 else f"{prefix}.{i}"
        try:
            if layer.kind in ("conv", "deconv"):
                frac = int(params[f"{key}.wf"])
                w = torch.from_numpy(params[f"{key}.w"].astype(np.float64)) / 2.0 ** frac
                b = torch.from_numpy(params[f"{key}.b"].astype(np.float64)) / 2.0 ** (frac + ACT_FRAC)
                out.append(ExactConv(w, b, layer.stride, layer.padding,
                                     layer.stride - 1 if layer.kind == "deconv" else None))
            elif layer.kind in ("gdn", "igdn"):
                gamma = torch.from_numpy(params[f"{key}.gamma"].astype(np.float64)) / 2.0 ** GAMMA_FRAC
                beta = torch.from_numpy(params[f"{key}.beta"].astype(np.float64)) / 2.0 ** BETA_FRAC
                out.append(ExactGDN(gamma, beta, layer.kind == "igdn"))
            else:
                out.append(torch.relu)
        except KeyError as e:
            raise BitstreamError(f"weights file lacks the parameters {e} of layer {key}") from None
    return ExactSequential(out)
