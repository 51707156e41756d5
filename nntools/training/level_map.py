"""Level_Map: the neural-tool level that runs at the host's λ for each QP (seed 002 ¶155, ¶158).

Host and NN blocks compete on J = SSE + λ·bits, so the NN should code a block at the level whose own
RD slope -dSSE/dbits equals the host λ of the QP.  The slope of each level is measured from operating
points of any block codec plugin (``fit_level_map``; benchmarks/fit_level_map.py fits the built-in
model on the dev set, separately for 8-bit and 10-bit input);
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


def operating_points(codec, images: list[np.ndarray], bit_depth: int) -> list[dict]:
    """Total bits and SSE (Y + Cb + Cr, in units of ``bit_depth`` samples) per level of a block codec
    plugin coding the pictures whole (8-bit input; for 10 bits the same pictures scaled by 257)."""
    from hybridcodec.config import EncoderConfig
    from hybridcodec.encoder.source import prepare_source
    from nntools.encoder.plugin import PictureContext
    points = []
    for level in range(codec.levels):
        bits = sse = 0.0
        for image in images:
            src = prepare_source(image if bit_depth == 8 else image.astype(np.uint16) * 257, EncoderConfig())
            context = PictureContext(src.planes, src.chroma_format, src.bit_depth, 0.0, EncoderConfig())
            payload, planes = codec.encoder(context).code_picture(level)
            bits += 8 * len(payload)
            sse += sum(float(np.sum((o.astype(np.int64) - r) ** 2)) for o, r in zip(src.planes, planes))
        points.append({"level": level, "bits": bits, "sse": sse})
    return points


def fit_slopes(points: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(levels with a measured slope, their log slopes, fitted log slope of every level): the slope of
    level L is the geometric mean of the secant slopes to its neighbours, and a line log(slope) = a + b·L
    is fitted to them (least squares)."""
    bits = np.array([p["bits"] for p in points])
    sse = np.array([p["sse"] for p in points])
    secant = (sse[:-1] - sse[1:]) / np.maximum(bits[1:] - bits[:-1], 1e-9)     # between L and L + 1
    levels, logs = [], []
    for level in range(len(points)):
        around = [secant[i] for i in (level - 1, level) if 0 <= i < len(secant) and secant[i] > 0]
        if around:
            levels.append(level)
            logs.append(float(np.mean(np.log(around))))
    if len(levels) < 2:
        raise ValueError("fewer than two levels with a measurable RD slope: the codec's levels do not trade "
                         "bits for distortion on these pictures")
    b, a = np.polyfit(levels, logs, 1)
    return np.array(levels), np.array(logs), a + b * np.arange(len(points))


def fit_level_map(codec, images: list[np.ndarray]) -> tuple[np.ndarray, dict]:
    """Level_Map (2, 52) of a block codec plugin from its operating points on ``images`` (8-bit RGB),
    and a report of the points and fits."""
    table, report = [], {}
    for bit_depth in BIT_DEPTHS:
        points = operating_points(codec, images, bit_depth)
        levels, logs, fitted = fit_slopes(points)
        table.append(level_map_row(fitted, bit_depth))
        report[f"{bit_depth}bit"] = {"points": points, "measured_levels": levels.tolist(),
                                     "measured_log_slopes": logs.tolist(), "fitted_log_slopes": fitted.tolist(),
                                     "level_map": table[-1].tolist()}
    return np.stack(table).astype(np.int16), report
