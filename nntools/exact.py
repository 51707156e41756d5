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
from torch import nn

from nntools.layers import GDN

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


def weight_frac(w: np.ndarray) -> int:
    """Finest grid (≤ 2^-WEIGHT_FRAC) on which the tensor's integers fit in int16."""
    peak = float(np.abs(w).max(initial=0.0))
    if peak >= WEIGHT_LIMIT:
        raise ValueError(f"weight magnitude {peak:.3f} exceeds the fixed-point limit {WEIGHT_LIMIT}")
    frac = WEIGHT_FRAC
    while peak * 2 ** frac >= 32767:
        frac -= 1
    return frac


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


def _relu(x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x)


class ExactSequential:
    """A fixed-point copy of an nn.Sequential made of convolutions, GDN and ReLU."""

    def __init__(self, layers: list):
        self.layers = layers

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def quantized_parameters(module: nn.Module) -> dict[str, np.ndarray]:
    """Integer parameters of a float module, as stored in the weights file (``name`` -> int array).

    Per convolution: ``.w`` (int16 mantissas), ``.wf`` (their grid exponent), ``.b`` (int64 on the
    product grid 2^-(wf + ACT_FRAC)).  Per GDN: ``.gamma`` (grid 2^-GAMMA_FRAC), ``.beta`` (grid 2^-BETA_FRAC).
    """
    out: dict[str, np.ndarray] = {}
    for name, layer in module.named_modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            w = layer.weight.detach().double().numpy()
            frac = weight_frac(w)
            out[f"{name}.w"] = np.round(w * 2.0 ** frac).astype(np.int16)
            out[f"{name}.wf"] = np.asarray(frac, dtype=np.int64)
            b = layer.bias.detach().double().numpy()
            out[f"{name}.b"] = np.round(b * 2.0 ** (frac + ACT_FRAC)).astype(np.int64)
        elif isinstance(layer, GDN):
            out[f"{name}.gamma"] = np.round(layer.gamma().detach().double().numpy() * 2.0 ** GAMMA_FRAC
                                            ).astype(np.int32)
            out[f"{name}.beta"] = np.round(layer.beta().detach().double().numpy() * 2.0 ** BETA_FRAC
                                           ).astype(np.int64)
    return out


def build_exact(module: nn.Module, params: dict[str, np.ndarray], prefix: str) -> ExactSequential:
    """Fixed-point network with the structure of ``module`` and the integer ``params``."""
    layers = []
    for name, layer in list(module.named_children()) or [("", module)]:
        key = ".".join(part for part in (prefix, name) if part)
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            frac = int(params[f"{key}.wf"])
            w = torch.from_numpy(params[f"{key}.w"].astype(np.float64)) / 2.0 ** frac
            b = torch.from_numpy(params[f"{key}.b"].astype(np.float64)) / 2.0 ** (frac + ACT_FRAC)
            transposed = isinstance(layer, nn.ConvTranspose2d)
            layers.append(ExactConv(w, b, layer.stride[0], layer.padding[0],
                                    layer.output_padding[0] if transposed else None))
        elif isinstance(layer, GDN):
            gamma = torch.from_numpy(params[f"{key}.gamma"].astype(np.float64)) / 2.0 ** GAMMA_FRAC
            beta = torch.from_numpy(params[f"{key}.beta"].astype(np.float64)) / 2.0 ** BETA_FRAC
            layers.append(ExactGDN(gamma, beta, layer.inverse))
        elif isinstance(layer, nn.ReLU):
            layers.append(_relu)
        else:
            raise TypeError(f"no fixed-point form for layer {key} ({type(layer).__name__})")
    return ExactSequential(layers)
