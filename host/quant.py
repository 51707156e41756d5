"""HEVC scalar quantisation as the decoder needs it: dequantiser and chroma QP (normative).

The encoder's quantiser and λ are in ``host.encoder.quant``.

QP convention: ``qp`` is the HEVC QpY / QpC value (range -6*(bit_depth-8) .. 51).  The functions add
QpBdOffset = 6*(bit_depth-8) themselves (HEVC Qp' = Qp + QpBdOffset), so one QP means the same
relative step size at 8 and 10 bits.  The step size doubles every 6 QP; flat scaling lists (m = 16).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from bitstream.errors import InputError

LEVEL_SCALE = (40, 45, 51, 57, 64, 72)                     # HEVC levelScale[qP % 6] (dequantiser)
QP_MAX = 51
COEFF_MIN = -(1 << 15)
COEFF_MAX = (1 << 15) - 1
FLAT_SCALING_FACTOR = 16

# HEVC Table 8-10: QpC as a function of qPi for ChromaArrayType == 1, qPi = 30..43.
_CHROMA_QP_TABLE_420 = (29, 30, 31, 32, 33, 33, 34, 34, 35, 35, 36, 36, 37, 37)


def qp_bd_offset(bit_depth: int) -> int:
    """HEVC QpBdOffset = 6 * (bit_depth - 8)."""
    if bit_depth not in (8, 10):
        raise InputError(f"bit depth must be 8 or 10, got {bit_depth}")
    return 6 * (bit_depth - 8)


def qp_prime_of(qp: int | np.ndarray, bit_depth: int, batch_ndim: int) -> np.ndarray:
    """qP' = qp + QpBdOffset, validated and shaped to broadcast over (..., N, N) blocks."""
    offset = qp_bd_offset(bit_depth)
    qp = np.asarray(qp)
    if not np.issubdtype(qp.dtype, np.integer):
        raise InputError(f"qp must be integer, got {qp.dtype}")
    if qp.size and (qp.min() < -offset or qp.max() > QP_MAX):
        raise InputError(f"qp must lie in [{-offset}, {QP_MAX}] at bit depth {bit_depth}")
    if qp.ndim > batch_ndim:
        raise InputError(f"qp has shape {qp.shape}; expected a scalar or one value per block")
    return (qp.astype(np.int64) + offset)[..., None, None]


def log2_size_of(levels: np.ndarray, size: int) -> int:
    if size not in (4, 8, 16, 32, 64):
        raise InputError(f"block size must be 4..64 and a power of two, got {size}")
    if levels.ndim < 2 or levels.shape[-2:] != (size, size):
        raise InputError(f"blocks must have shape (..., {size}, {size}), got {levels.shape}")
    if not np.issubdtype(levels.dtype, np.integer):
        raise InputError(f"blocks must be an integer array, got {levels.dtype}")
    return size.bit_length() - 1


def dequantize(levels: np.ndarray, qp: int | np.ndarray, size: int, bit_depth: int) -> np.ndarray:
    """Normative scaling (HEVC 8.6.3) of levels (..., N, N) -> int32 coefficients clipped to 16 bits.

    ``qp`` is a scalar or an array broadcasting against the leading (batch) dimensions.
    """
    levels = np.asarray(levels)
    log2_size = log2_size_of(levels, size)
    qp_prime = qp_prime_of(qp, bit_depth, levels.ndim - 2)
    level_scale = np.asarray(LEVEL_SCALE, dtype=np.int64)[qp_prime % 6]
    bd_shift = bit_depth + log2_size - 5
    scaled = (clip16(levels).astype(np.int64) * (FLAT_SCALING_FACTOR * level_scale) << (qp_prime // 6))
    return clip16((scaled + (1 << (bd_shift - 1))) >> bd_shift).astype(np.int32)


@lru_cache(maxsize=None)
def _dequant_params(qp: int, log2_size: int, bit_depth: int) -> tuple[int, int, int]:
    """(scale, rounding, shift) of dequantize at one scalar qp: level * scale + rounding >> shift."""
    qp_prime = qp + qp_bd_offset(bit_depth)
    bd_shift = bit_depth + log2_size - 5
    scale = (FLAT_SCALING_FACTOR * LEVEL_SCALE[qp_prime % 6]) << (qp_prime // 6)
    return scale, 1 << (bd_shift - 1), bd_shift


def dequantize_unchecked(levels: np.ndarray, qp: int, log2_size: int, bit_depth: int) -> np.ndarray:
    """``dequantize`` for trusted callers (reconstruction): ``levels`` an integer array within 16 bits
    (as parsed or quantised), scalar ``qp`` in range.  Same result, no validation."""
    scale, rounding, shift = _dequant_params(qp, log2_size, bit_depth)
    return clip16((levels.astype(np.int64) * scale + rounding) >> shift).astype(np.int32)


def dependent_quantizers(levels_in_scan: np.ndarray) -> np.ndarray:
    """Quantiser (0: Q0, 1: Q1) of every position of blocks (..., M) of levels in scan order.

    Dependent quantisation (VVC 7.4.12.11 / 8.7.3) walks the positions in coding order, from the last
    significant one down to the DC, with a 4-state machine: state' = (0 2, 2 0, 1 3, 3 1)[state][k & 1],
    starting in state 0; states 2 and 3 use Q1.  Writing state = 2·b1 + b0, a step is b1' = b0 xor
    parity, b0' = b1, so the quantiser of scan position s is the xor of the parities at s + 1, s + 3,
    s + 5, ... (positions after the last significant one have parity 0): two strided suffix xors.
    """
    parity = (np.abs(levels_in_scan) & 1).astype(np.uint8)
    suffix = np.zeros_like(parity)
    for first in (0, 1):
        run = parity[..., first::2][..., ::-1]
        suffix[..., first::2] = np.bitwise_xor.accumulate(run, axis=-1)[..., ::-1]
    quantizer = np.zeros_like(parity)
    quantizer[..., :-1] = suffix[..., 1:]
    return quantizer


def dequantize_dependent_unchecked(levels: np.ndarray, qp: int, log2_size: int, bit_depth: int,
                                   scan: np.ndarray) -> np.ndarray:
    """Dependent-quantisation scaling of levels (..., N, N), ``scan`` the raster index of every coded
    position in scan order (N x N: the coded region).  Q0 reconstructs even multiples 2k of half the
    step of qp + 1, Q1 odd ones 2k - sgn(k): the union of the two quantisers is twice as dense as
    either, and the parity chain makes the encoder's choice among them a trellis path."""
    n = levels.shape[-1]
    flat = levels.reshape(*levels.shape[:-2], n * n).astype(np.int64)
    in_scan = flat[..., scan]
    doubled = 2 * in_scan - dependent_quantizers(in_scan) * np.sign(in_scan)
    values = np.empty_like(flat)
    values[..., scan] = doubled
    scale, rounding, shift = _dequant_params(qp + 1, log2_size, bit_depth)
    coeffs = (values * scale + (rounding << 1)) >> (shift + 1)
    return clip16(coeffs).reshape(levels.shape).astype(np.int32)


def clip16(values: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(values, COEFF_MIN), COEFF_MAX)


def chroma_qp(qp_y: int | np.ndarray, chroma_format: int, qp_offset: int = 0) -> int | np.ndarray:
    """HEVC chroma QP (8.6.1): qPi = min(qp_y + qp_offset, 57), then Table 8-10 for 4:2:0 or
    min(qPi, 51) for 4:4:4.  Works on scalars and arrays; result in the QpC domain (no QpBdOffset).
    """
    if chroma_format not in (1, 3):
        raise InputError(f"chroma QP needs chroma_format 1 (4:2:0) or 3 (4:4:4), got {chroma_format}")
    qpi = np.minimum(np.asarray(qp_y, dtype=np.int64) + qp_offset, 57)
    if chroma_format == 3:
        qpc = np.minimum(qpi, QP_MAX)
    else:
        table = np.asarray(_CHROMA_QP_TABLE_420, dtype=np.int64)
        qpc = np.where(qpi < 30, qpi, np.where(qpi > 43, qpi - 6, table[np.clip(qpi - 30, 0, 13)]))
    return int(qpc) if qpc.ndim == 0 else qpc


