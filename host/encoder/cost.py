"""Distortion measures of the RD search (encoder-only)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.linalg import hadamard

_SPAN = 32   # blocks larger than this are measured as 32x32 quadrants


@lru_cache(maxsize=None)
def _block_hadamard(n: int) -> np.ndarray:
    """Block-diagonal matrix of 8x8 Hadamard tiles (4x4 for n = 4): B @ X @ B transforms every tile."""
    t = 4 if n == 4 else 8
    b = np.kron(np.eye(n // t), hadamard(t)).astype(np.float64)
    b.setflags(write=False)
    return b


def satd(diff: np.ndarray) -> np.ndarray:
    """Sum of absolute Hadamard-transformed differences of (..., n, n) blocks, 8x8 tiles (4x4 for n=4).

    Returns one int64 value per leading index: the usual fast stand-in for the coded cost of a
    residual.  The tiles are transformed together by block-diagonal matrices in float64, exact since
    every partial sum is an integer far below 2**53.
    """
    n = diff.shape[-1]
    span = min(n, _SPAN)
    lead = diff.shape[:-2]
    x = diff.astype(np.float64)
    if n > span:
        x = x.reshape(*lead, n // span, span, n // span, span).swapaxes(-3, -2)
    b = _block_hadamard(span)
    coeffs = np.abs(b @ x @ b)
    total = coeffs.sum(axis=tuple(range(len(lead), coeffs.ndim)))
    return (total // (2 if n == 4 else 4)).astype(np.int64)


def sse(a: np.ndarray, b: np.ndarray) -> int:
    d = (a.astype(np.int64) - b).ravel()
    return int(np.dot(d, d))


def plane_sse(a: np.ndarray, b: np.ndarray, rows: int = 64) -> int:
    """``sse`` of two planes, ``rows`` at a time: the int64 differences stay one band's."""
    return sum(sse(a[r:r + rows], b[r:r + rows]) for r in range(0, a.shape[0], rows))
