"""Integer separable 2-D transforms: DCT-II (4..64) and DST-VII (4x4), HEVC/VVC style.

The matrices are the HEVC/VVC integer approximations of the orthonormal transforms scaled by
64*sqrt(N) (DST-VII: 128*2/3*sin), built here from their quarter-wave values so the tables stay short
and every machine builds identical integers.  The inverse transform is normative (HEVC 8.6.4.2 with
the VVC 64-point extension): first stage vertical, rounding shift 7 and clipping to 16 bits, second
stage horizontal with shift 20 - bit_depth.  The forward transform is the matching HM-style
encoder transform (shifts log2(N) + bit_depth - 9 and log2(N) + 6), so that forward followed by
inverse reproduces the residual up to coefficient rounding.

The matrix products run as float64 BLAS calls: every operand and partial sum is an integer below
2**31 in magnitude (coefficients are clipped to 16 bits, matrix entries are below 2**7, N <= 64), so
float64 represents every intermediate exactly and the result cannot depend on summation order,
threads or CPU.  Size 64 keeps only the low-frequency 32x32 coefficients (VVC zero-out).

Transform skip (kind ``SKIP``, sizes 4..32, HEVC RExt 8.6.4.2): the residual is the scaled coefficient
itself, ``(d << (5 + log2 N) + round) >> (20 - bit_depth)``; the encoder's forward "transform" is
``r << (15 - bit_depth - log2 N)``, the same scale as the DCT's coefficients, so quantiser and RDOQ
distortion units are unchanged.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from bitstream.errors import InputError
from host.quant import clip16

DCT2 = "dct2"
DST7 = "dst7"
SKIP = "skip"                 # transform skip
MAX_SKIP_SIZE = 32
TRANSFORM_SIZES = (4, 8, 16, 32, 64)
ZERO_OUT_SIZE = 32  # size-64 transforms carry coefficients only in the low 32x32 corner

# Quarter-wave table of the 64-point DCT-II: _QUARTER_WAVE[a] ~ 64*sqrt(2)*cos(pi*a/128), a = 1..63.
# The values are those of HEVC (a even: 4/8/16/32-point odd rows) and VVC (a odd: 64-point odd rows).
_VALUES_BY_STEP = {
    32: (64,),                                    # a = 32
    16: (83, 36),                                 # a = 16, 48
    8: (89, 75, 50, 18),                          # a = 8, 24, 40, 56
    4: (90, 87, 80, 70, 57, 43, 25, 9),           # a = 4, 12, ..., 60
    2: (90, 90, 88, 85, 82, 78, 73, 67, 61, 54, 46, 38, 31, 22, 13, 4),  # a = 2, 6, ..., 62
    1: (91, 90, 90, 90, 88, 87, 86, 84, 83, 81, 79, 77, 73, 71, 69, 65,
        62, 59, 56, 52, 48, 44, 41, 37, 33, 28, 24, 20, 15, 11, 7, 2),   # a = 1, 3, ..., 63
}

# HEVC DST-VII 4x4 matrix (rows = basis functions): round(128 * 2/3 * sin(pi*(2k+1)*(n+1)/9)).
_DST7_4 = ((29, 55, 74, 84),
           (74, 74, 0, -74),
           (84, -29, -74, 55),
           (55, -84, 74, -29))


def _quarter_wave() -> list[int]:
    table = [0] * 65
    for step, values in _VALUES_BY_STEP.items():
        for i, v in enumerate(values):
            table[step * (2 * i + 1)] = v
    return table


@lru_cache(maxsize=None)
def transform_matrix(size: int, kind: str = DCT2) -> np.ndarray:
    """Integer basis matrix (rows = basis functions), int64, read-only.

    DCT-II entry (m, n) is the 64-point entry (m*64/N, n); the 64-point entry folds the angle
    m*(2n+1) (in units of pi/128) into the first quadrant of the quarter-wave table.
    """
    _check_size_kind(size, kind)
    if kind == SKIP:
        raise InputError("transform skip has no basis matrix")
    if kind == DST7:
        matrix = np.array(_DST7_4, dtype=np.int64)
    else:
        quarter = _quarter_wave()
        step = 64 // size
        matrix = np.empty((size, size), dtype=np.int64)
        for m in range(size):
            for n in range(size):
                if m == 0:
                    matrix[m, n] = 64
                    continue
                a = (m * step * (2 * n + 1)) % 256
                if a > 128:
                    a = 256 - a
                matrix[m, n] = quarter[a] if a < 64 else -quarter[128 - a]
    matrix.setflags(write=False)
    return matrix


def _check_size_kind(size: int, kind: str) -> None:
    if kind == DST7:
        if size != 4:
            raise InputError(f"DST-VII exists for size 4 only, got {size}")
    elif kind == DCT2:
        if size not in TRANSFORM_SIZES:
            raise InputError(f"transform size must be one of {TRANSFORM_SIZES}, got {size}")
    elif kind == SKIP:
        if size not in TRANSFORM_SIZES or size > MAX_SKIP_SIZE:
            raise InputError(f"transform skip exists for sizes 4..{MAX_SKIP_SIZE}, got {size}")
    else:
        raise InputError(f"unknown transform kind {kind!r}")


def _check_bit_depth(bit_depth: int) -> None:
    if bit_depth not in (8, 10):
        raise InputError(f"bit depth must be 8 or 10, got {bit_depth}")


def _as_blocks(array: np.ndarray, size: int, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim < 2 or array.shape[-2:] != (size, size):
        raise InputError(f"{what} must have shape (..., {size}, {size}), got {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise InputError(f"{what} must be an integer array, got {array.dtype}")
    return array


def _round_shift(values: np.ndarray, shift: int) -> np.ndarray:
    """Exact int64 (values + 2**(shift-1)) >> shift of a float64 array holding integers."""
    return (values.astype(np.int64) + (1 << (shift - 1))) >> shift


@lru_cache(maxsize=None)
def _float_matrices(size: int, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(T, T transposed, inverse first-stage matrix, inverse second-stage matrix) as float64.

    The inverse matrices are cut to the 32 low-frequency rows for size 64 (VVC zero-out).
    """
    t = transform_matrix(size, kind).astype(np.float64)
    t_inv = t[:ZERO_OUT_SIZE] if size == 64 else t
    mats = (t, np.ascontiguousarray(t.T), np.ascontiguousarray(t_inv.T), np.ascontiguousarray(t_inv))
    for m in mats:
        m.setflags(write=False)
    return mats


def forward_transform(residual: np.ndarray, size: int, kind: str = DCT2,
                      bit_depth: int = 8) -> np.ndarray:
    """Encoder forward transform of residual blocks (..., N, N) -> int32 coefficients (..., N, N).

    Horizontal stage with shift log2(N) + bit_depth - 9, vertical stage with shift log2(N) + 6,
    clipping to 16 bits; size 64 zeroes every coefficient outside the low 32x32 block.
    """
    _check_size_kind(size, kind)
    _check_bit_depth(bit_depth)
    return forward_transform_unchecked(clip16(_as_blocks(residual, size, "residual")), size, kind,
                                       bit_depth)


def forward_transform_unchecked(residual: np.ndarray, size: int, kind: str, bit_depth: int) -> np.ndarray:
    """``forward_transform`` for trusted callers (the RD search): the residual must already be an
    integer array within 16 bits, and size/kind/bit depth valid.  Same result, no validation."""
    log2_size = size.bit_length() - 1
    if kind == SKIP:
        return clip16(residual.astype(np.int64) << (15 - bit_depth - log2_size)).astype(np.int32)
    t, t_t, _, _ = _float_matrices(size, kind)
    tmp = _round_shift(residual @ t_t, log2_size + bit_depth - 9).astype(np.float64)
    coeffs = clip16(_round_shift(t @ tmp, log2_size + 6))
    if size == 64:
        coeffs[..., ZERO_OUT_SIZE:, :] = 0
        coeffs[..., :, ZERO_OUT_SIZE:] = 0
    return coeffs.astype(np.int32)


def inverse_transform(coeffs: np.ndarray, size: int, kind: str = DCT2,
                      bit_depth: int = 8) -> np.ndarray:
    """Normative inverse transform of coefficient blocks (..., N, N) -> int32 residual (..., N, N).

    Input coefficients are clipped to 16 bits (the dequantiser guarantees this range).  For size 64
    only the low 32x32 coefficients are read; the others are taken as zero.
    """
    _check_size_kind(size, kind)
    _check_bit_depth(bit_depth)
    c = _as_blocks(coeffs, size, "coefficients")
    if size == 64:
        c = c[..., :ZERO_OUT_SIZE, :ZERO_OUT_SIZE]
    return inverse_transform_unchecked(clip16(c), size, kind, bit_depth)


def inverse_transform_unchecked(coeffs: np.ndarray, size: int, kind: str, bit_depth: int) -> np.ndarray:
    """``inverse_transform`` for trusted callers (reconstruction): ``coeffs`` must be integers within
    16 bits (as ``dequantize`` returns them), of shape (..., N, N) or, for size 64, either
    (..., 64, 64) or just the low-frequency (..., 32, 32); size/kind/bit depth valid."""
    if kind == SKIP:
        shifted = coeffs.astype(np.int64) << (5 + size.bit_length() - 1)
        return _round_shift(shifted, 20 - bit_depth).astype(np.int32)
    _, _, t_first, t_second = _float_matrices(size, kind)
    if coeffs.shape[-1] != t_first.shape[-1]:
        coeffs = coeffs[..., :ZERO_OUT_SIZE, :ZERO_OUT_SIZE]
    intermediate = clip16(_round_shift(t_first @ coeffs, 7)).astype(np.float64)
    return _round_shift(intermediate @ t_second, 20 - bit_depth).astype(np.int32)
