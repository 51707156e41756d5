"""Coefficient scan orders (HEVC 6.5.3-6.5.5) and the mode-dependent scan choice (HEVC 7.4.9.11).

A transform block is coded as 4x4 sub-blocks; both the sub-blocks and the coefficients inside each
sub-block follow the same scan (up-right diagonal, horizontal or vertical).  Everything here is
precomputed once at import as NumPy arrays, so the coefficient coder only indexes tables.
"""
from __future__ import annotations

import numpy as np

SCAN_DIAG = 0
SCAN_HOR = 1
SCAN_VER = 2

MIN_LOG2_TB = 2
MAX_LOG2_CODED_TB = 5       # coefficients outside the top-left 32x32 of a 64x64 block are zero (not coded)
MAX_LOG2_TB = 6


def _diagonal(size: int) -> list[tuple[int, int]]:
    """Up-right diagonal scan: each anti-diagonal from bottom-left to top-right (HEVC 6.5.3)."""
    order = []
    for d in range(2 * size - 1):
        for y in range(min(d, size - 1), max(-1, d - size), -1):
            order.append((d - y, y))
    return order


def _scan_positions(log2_blk: int, scan_idx: int) -> np.ndarray:
    size = 1 << log2_blk
    if scan_idx == SCAN_DIAG:
        order = _diagonal(size)
    elif scan_idx == SCAN_HOR:
        order = [(x, y) for y in range(size) for x in range(size)]
    else:
        order = [(x, y) for x in range(size) for y in range(size)]
    return np.array(order, dtype=np.int32).reshape(-1, 2)


# SCAN_ORDER[log2_blk][scan_idx]: (size*size, 2) array of (x, y), log2_blk 0..3 (HEVC ScanOrder).
SCAN_ORDER: dict[int, tuple[np.ndarray, ...]] = {
    log2_blk: tuple(_scan_positions(log2_blk, s) for s in (SCAN_DIAG, SCAN_HOR, SCAN_VER))
    for log2_blk in range(0, 4)
}


def _coefficient_scan(log2_size: int, scan_idx: int) -> np.ndarray:
    """Raster index (y * N + x) of every coefficient in coding order (sub-block by sub-block)."""
    size = 1 << log2_size
    sub = SCAN_ORDER[log2_size - 2][scan_idx]
    inner = SCAN_ORDER[2][scan_idx]
    x = (sub[:, None, 0] << 2) + inner[None, :, 0]
    y = (sub[:, None, 1] << 2) + inner[None, :, 1]
    return (y * size + x).reshape(-1).astype(np.intp)


# COEFF_SCAN[(log2_size, scan_idx)]: raster positions in coding order, for 4x4 .. 32x32 blocks.
COEFF_SCAN: dict[tuple[int, int], np.ndarray] = {
    (log2_size, s): _coefficient_scan(log2_size, s)
    for log2_size in range(MIN_LOG2_TB, MAX_LOG2_CODED_TB + 1)
    for s in (SCAN_DIAG, SCAN_HOR, SCAN_VER)
}


def coded_log2_size(log2_size: int) -> int:
    """Log2 size of the coded (low-frequency) region of a transform block."""
    return min(log2_size, MAX_LOG2_CODED_TB)


def scan_idx_for(log2_size: int, c_idx: int, intra_mode: int, chroma_444: bool = False) -> int:
    """Mode-dependent coefficient scan (HEVC 7.4.9.11) for an intra block with HEVC mode numbering.

    Near-horizontal prediction (modes 6..14) leaves vertical structure in the residual, so its energy
    is scanned column-wise; near-vertical prediction (22..30) row-wise.  Only small blocks use it:
    4x4 of any component and 8x8 luma (8x8 chroma too in 4:4:4).
    """
    if not (log2_size == 2 or (log2_size == 3 and (c_idx == 0 or chroma_444))):
        return SCAN_DIAG
    if 6 <= intra_mode <= 14:
        return SCAN_VER
    if 22 <= intra_mode <= 30:
        return SCAN_HOR
    return SCAN_DIAG
