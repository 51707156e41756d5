"""Encoder quantisation (encoder-only): HM's dead-zone quantiser and the all-intra Lagrange multiplier.

The decoder only dequantises (``host.quant``); how levels are chosen is the encoder's business.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from bitstream.errors import InputError
from host.quant import COEFF_MAX, COEFF_MIN, clip16, log2_size_of, qp_bd_offset, qp_prime_of

QUANT_SCALE = (26214, 23302, 20560, 18396, 16384, 14564)  # HM quantScale[qP % 6]; * LEVEL_SCALE ~ 2**20


INTRA_ROUNDING_OFFSET = 171    # HM intra dead-zone offset, in units of 1/512


LAMBDA_INTRA_FACTOR = 0.57     # HM all-intra lambda factor (no B-frame reduction applies to I slices)


def quantize(coeffs: np.ndarray, qp: int | np.ndarray, size: int, bit_depth: int,
             rounding_offset: int = INTRA_ROUNDING_OFFSET) -> np.ndarray:
    """Encoder dead-zone quantiser (HM): |level| = (|c| * quantScale + offset) >> qBits.

    ``rounding_offset`` is the dead-zone rounding in units of 1/512 (171 = HM intra, 256 = plain
    rounding).  Levels are clipped to 16 bits.  Returns int32 levels (..., N, N).
    """
    coeffs = np.asarray(coeffs)
    log2_size = log2_size_of(coeffs, size)
    qp_prime = qp_prime_of(qp, bit_depth, coeffs.ndim - 2)
    if not 0 <= rounding_offset < 512:
        raise InputError(f"rounding_offset must be in [0, 512), got {rounding_offset}")
    transform_shift = 15 - bit_depth - log2_size
    q_bits = 14 + qp_prime // 6 + transform_shift
    quant_scale = np.asarray(QUANT_SCALE, dtype=np.int64)[qp_prime % 6]
    offset = np.int64(rounding_offset) << (q_bits - 9)
    c = clip16(coeffs).astype(np.int64)
    magnitude = (np.abs(c) * quant_scale + offset) >> q_bits
    return clip16(np.sign(c) * magnitude).astype(np.int32)


@lru_cache(maxsize=None)
def _quant_params(qp: int, log2_size: int, bit_depth: int, rounding_offset: int) -> tuple[int, int, int, bool]:
    """(quantScale, offset, qBits, whether a 16-bit coefficient can give a level beyond 16 bits)."""
    qp_prime = qp + qp_bd_offset(bit_depth)
    q_bits = 14 + qp_prime // 6 + 15 - bit_depth - log2_size
    scale, offset = QUANT_SCALE[qp_prime % 6], rounding_offset << (q_bits - 9)
    return scale, offset, q_bits, (-COEFF_MIN * scale + offset) >> q_bits > COEFF_MAX


def quantize_unchecked(coeffs: np.ndarray, qp: int, log2_size: int, bit_depth: int,
                       rounding_offset: int = INTRA_ROUNDING_OFFSET) -> np.ndarray:
    """``quantize`` for trusted callers (the RD search): ``coeffs`` an integer array within 16 bits
    (as ``forward_transform`` returns them), scalar ``qp`` in range.  Same result, no validation."""
    scale, offset, q_bits, may_overflow = _quant_params(qp, log2_size, bit_depth, rounding_offset)
    c = coeffs.astype(np.int64)
    levels = ((np.abs(c) * scale + offset) >> q_bits) * np.sign(c)
    return (clip16(levels) if may_overflow else levels).astype(np.int32)


def qp_to_lambda(qp: float | np.ndarray, bit_depth: int) -> float | np.ndarray:
    """Encoder Lagrange multiplier for SSE-based RD cost, HM all-intra style.

    lambda = 0.57 * 2**((qp + QpBdOffset - 12) / 3) = 0.57 * 2**((qp - 12)/3) * 4**(bit_depth - 8):
    at 10 bits SSE is measured in 10-bit units (16x the 8-bit SSE), so lambda scales by 16 too.
    """
    exponent = (np.asarray(qp, dtype=np.float64) + qp_bd_offset(bit_depth) - 12) / 3
    lam = LAMBDA_INTRA_FACTOR * np.exp2(exponent)
    return float(lam) if lam.ndim == 0 else lam
