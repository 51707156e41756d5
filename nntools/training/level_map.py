"""Level_Map: the neural-tool level that runs at the host's λ for each QP (seed 002 ¶155, ¶158).

Host and NN blocks compete on J = SSE + λ·bits, so the NN should code a block at the level whose own
RD slope -dSSE/dbits equals the host λ of the QP.  The slope of each level is measured from operating
points (benchmarks/fit_level_map.py fits it on the dev set, separately for 8-bit and 10-bit input);
before a fit, it follows from the training λ: the loss λ_L·255²·MSE + bpp over the 6 half-resolution
channels equals (λ_L / 1.5)·SSE(Y+Cb+Cr) + bits per picture, a slope of 1.5 / λ_L in 8-bit units.
The table is stored in the weights file (one row per bit depth), so the model id covers it.
"""
from __future__ import annotations

import numpy as np

from host.encoder.quant import qp_to_lambda

QPS = 52
BIT_DEPTHS = (8, 10)


def level_map_row(log_slopes: np.ndarray, bit_depth: int) -> np.ndarray:
    """Level per QP: the level whose slope (natural log, SSE in units of ``bit_depth`` samples per
    bit, one entry per level) is nearest the host λ in the log domain."""
    log_lambda = np.log(qp_to_lambda(np.arange(QPS), bit_depth))
    return np.argmin(np.abs(log_lambda[:, None] - np.asarray(log_slopes)[None, :]), axis=1).astype(np.int16)


def training_slopes(lambdas: tuple[float, ...], bit_depth: int) -> np.ndarray:
    """The λ of J = SSE + λ·bits (SSE in ``bit_depth`` sample units) each level was trained for."""
    return 1.5 / np.asarray(lambdas) * 4.0 ** (bit_depth - 8)


def training_level_map(lambdas: tuple[float, ...]) -> np.ndarray:
    """(2, 52) table from the training λ ladder (the default until fit_level_map has measured one)."""
    return np.stack([level_map_row(np.log(training_slopes(lambdas, bd)), bd) for bd in BIT_DEPTHS])
