"""HEVC deblocking filter (8.7.2) on the 8x8 luma grid, vectorised over all edge segments.

Inputs use luma-sample units.  ``bs_ver[i, j]`` is the boundary strength (0, 1, 2) of the vertical edge
at column 8j, rows 4i..4i+3 (shape (H/4, W/8)); ``bs_hor[i, j]`` is that of the horizontal edge at row
8i, columns 4j..4j+3 (shape (H/8, W/4)).  Column 0 of ``bs_ver`` and row 0 of ``bs_hor`` are picture
boundaries and are never filtered.  ``qp_map`` holds QpY per 4x4 luma block (shape (H/4, W/4)).

All vertical edges of the picture are filtered first, then all horizontal edges on the result (as in
HEVC).  Edges are 8 samples apart and a filter reads at most 4 and writes at most 3 samples on each
side, so within one direction every edge segment reads unfiltered samples and the order of
segments is irrelevant: each direction is one vectorised pass per band of lines.  Horizontal edges
reuse the vertical code on transposed arrays.

Chroma (bS == 2 only) is filtered on the 8x8 chroma-sample grid: 16 luma samples apart for 4:2:0,
the luma edges for 4:4:4.  Each chroma line takes bS and QPs from the luma line it is co-sited with.
Slice beta/tc offsets and chroma QP offsets are 0.
"""
from __future__ import annotations

import numpy as np

from bitstream.errors import InputError
from host.color import CHROMA_400, CHROMA_420, chroma_plane_shape
from host.quant import chroma_qp

# HEVC Table 8-12: beta' for Q = 0..51 and tC' for Q = 0..53.
BETA_TABLE = np.array([0] * 16 + [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 22, 24, 26, 28,
                                  30, 32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62, 64],
                      dtype=np.int64)
TC_TABLE = np.array([0] * 18 + [1] * 9 + [2] * 4 + [3] * 4 + [4] * 3 + [5, 5, 6, 6, 7, 8, 9, 10, 11,
                                                                         13, 14, 16, 18, 20, 22, 24],
                    dtype=np.int64)
DEBLOCK_GRID = 8
EDGE_SEGMENT = 4
BAND = 64             # lines deblocked at a time (a multiple of 8): bounds the temporaries


def beta_tc(qp: np.ndarray, bs: np.ndarray, bit_depth: int) -> tuple[np.ndarray, np.ndarray]:
    """HEVC beta and tC for average QP ``qp`` (qPL) and boundary strength ``bs`` (arrays)."""
    scale = 1 << (bit_depth - 8)
    beta = BETA_TABLE[np.clip(qp, 0, 51)] * scale
    tc = TC_TABLE[np.clip(qp + 2 * (bs - 1), 0, 53)] * scale
    return beta, tc


def _filter_luma_vertical_edges(plane: np.ndarray, bs: np.ndarray, qp_map: np.ndarray,
                                bit_depth: int) -> np.ndarray:
    """Filter every vertical luma edge x = 8, 16, ... of ``plane`` (int64, filtered in place)."""
    height, width = plane.shape
    n_edges = width // DEBLOCK_GRID - 1
    if n_edges <= 0:
        return plane
    # samples p3..p0 q0..q3 around each edge: [segment row, line in segment, edge, 8 samples]
    seg = plane[:, 4:width - 4].reshape(height // 4, 4, n_edges, 8)
    p3, p2, p1, p0, q0, q1, q2, q3 = (seg[..., k] for k in range(8))
    strength = bs[:, 1:]
    qp_p = qp_map[:, 1:2 * n_edges:2]
    qp_q = qp_map[:, 2:2 * n_edges + 1:2]
    beta, tc = beta_tc((qp_p + qp_q + 1) >> 1, strength, bit_depth)

    dp = np.abs(p2 - 2 * p1 + p0)                     # per line
    dq = np.abs(q2 - 2 * q1 + q0)
    dp_seg = dp[:, 0] + dp[:, 3]                      # lines 0 and 3 decide for the segment
    dq_seg = dq[:, 0] + dq[:, 3]
    filtered = (strength > 0) & (dp_seg + dq_seg < beta)

    def strong_line(k: int) -> np.ndarray:
        return ((2 * (dp[:, k] + dq[:, k]) < (beta >> 2))
                & (np.abs(p3[:, k] - p0[:, k]) + np.abs(q0[:, k] - q3[:, k]) < (beta >> 3))
                & (np.abs(p0[:, k] - q0[:, k]) < ((5 * tc + 1) >> 1)))

    strong = filtered & strong_line(0) & strong_line(3)
    normal = filtered & ~strong
    side_threshold = (beta + (beta >> 1)) >> 3
    filter_p1 = (dp_seg < side_threshold)[:, None]
    filter_q1 = (dq_seg < side_threshold)[:, None]
    strong, normal = strong[:, None], normal[:, None]
    tc = tc[:, None]
    max_value = (1 << bit_depth) - 1

    # strong filter (dE = 2): three samples each side, each clipped to +-2tC around its input
    tc2 = 2 * tc
    sp0 = np.clip((p2 + 2 * p1 + 2 * p0 + 2 * q0 + q1 + 4) >> 3, p0 - tc2, p0 + tc2)
    sp1 = np.clip((p2 + p1 + p0 + q0 + 2) >> 2, p1 - tc2, p1 + tc2)
    sp2 = np.clip((2 * p3 + 3 * p2 + p1 + p0 + q0 + 4) >> 3, p2 - tc2, p2 + tc2)
    sq0 = np.clip((p1 + 2 * p0 + 2 * q0 + 2 * q1 + q2 + 4) >> 3, q0 - tc2, q0 + tc2)
    sq1 = np.clip((p0 + q0 + q1 + q2 + 2) >> 2, q1 - tc2, q1 + tc2)
    sq2 = np.clip((p0 + q0 + q1 + 3 * q2 + 2 * q3 + 4) >> 3, q2 - tc2, q2 + tc2)

    # normal filter (dE = 1): per line, skipped where the step looks like a natural edge
    delta = (9 * (q0 - p0) - 3 * (q1 - p1) + 8) >> 4
    line_on = normal & (np.abs(delta) < 10 * tc)
    delta = np.clip(delta, -tc, tc)
    half_tc = tc >> 1
    np0 = np.clip(p0 + delta, 0, max_value)
    nq0 = np.clip(q0 - delta, 0, max_value)
    np1 = np.clip(p1 + np.clip((((p2 + p0 + 1) >> 1) - p1 + delta) >> 1, -half_tc, half_tc), 0, max_value)
    nq1 = np.clip(q1 + np.clip((((q2 + q0 + 1) >> 1) - q1 - delta) >> 1, -half_tc, half_tc), 0, max_value)

    out = seg.copy()
    out[..., 3] = np.where(strong, sp0, np.where(line_on, np0, p0))
    out[..., 4] = np.where(strong, sq0, np.where(line_on, nq0, q0))
    out[..., 2] = np.where(strong, sp1, np.where(line_on & filter_p1, np1, p1))
    out[..., 5] = np.where(strong, sq1, np.where(line_on & filter_q1, nq1, q1))
    out[..., 1] = np.where(strong, sp2, p2)
    out[..., 6] = np.where(strong, sq2, q2)
    plane[:, 4:width - 4] = out.reshape(height, width - 8)
    return plane


def _filter_chroma_vertical_edges(plane: np.ndarray, bs: np.ndarray, qp_map: np.ndarray,
                                  subsampling: int, chroma_format: int, bit_depth: int) -> np.ndarray:
    """Filter vertical chroma edges every 8 chroma samples where the co-sited luma bS is 2."""
    height, width = plane.shape
    edges = np.arange(DEBLOCK_GRID, width, DEBLOCK_GRID)
    if edges.size == 0:
        return plane
    luma_x = edges * subsampling
    luma_block_row = (np.arange(height) * subsampling) // EDGE_SEGMENT
    strength = bs[luma_block_row][:, luma_x // DEBLOCK_GRID]
    qp_rows = qp_map[luma_block_row]
    qp_i = (qp_rows[:, (luma_x - 1) // 4] + qp_rows[:, luma_x // 4] + 1) >> 1
    qp_c = chroma_qp(qp_i, chroma_format)
    tc = TC_TABLE[np.clip(qp_c + 2, 0, 53)] * (1 << (bit_depth - 8))
    p1, p0, q0, q1 = (plane[:, edges + k] for k in (-2, -1, 0, 1))
    delta = np.clip((((q0 - p0) << 2) + p1 - q1 + 4) >> 3, -tc, tc)
    on = strength == 2
    max_value = (1 << bit_depth) - 1
    plane[:, edges - 1] = np.where(on, np.clip(p0 + delta, 0, max_value), p0)
    plane[:, edges] = np.where(on, np.clip(q0 - delta, 0, max_value), q0)
    return plane


def _validate(planes: list[np.ndarray], bs_ver: np.ndarray, bs_hor: np.ndarray, qp_map: np.ndarray,
              chroma_format: int, bit_depth: int) -> tuple[int, int]:
    if bit_depth not in (8, 10):
        raise InputError(f"bit depth must be 8 or 10, got {bit_depth}")
    if not isinstance(planes, (list, tuple)) or not planes:
        raise InputError("planes must be a non-empty list of 2-D arrays")
    luma = np.asarray(planes[0])
    if luma.ndim != 2 or luma.shape[0] % DEBLOCK_GRID or luma.shape[1] % DEBLOCK_GRID or luma.size == 0:
        raise InputError(f"luma plane must be 2-D with sizes multiple of 8, got {luma.shape}")
    height, width = luma.shape
    chroma_shape = chroma_plane_shape(height, width, chroma_format)
    expected_planes = 1 if chroma_shape is None else 3
    if len(planes) != expected_planes or any(np.asarray(p).shape != chroma_shape for p in planes[1:]):
        raise InputError(f"planes do not form a {width}x{height} picture of chroma_format {chroma_format}")
    for name, array, shape in (("bs_ver", bs_ver, (height // 4, width // 8)),
                               ("bs_hor", bs_hor, (height // 8, width // 4)),
                               ("qp_map", qp_map, (height // 4, width // 4))):
        array = np.asarray(array)
        if array.shape != shape or not np.issubdtype(array.dtype, np.integer):
            raise InputError(f"{name} must be an integer array of shape {shape}, got {array.shape}")
    for name, array in (("bs_ver", bs_ver), ("bs_hor", bs_hor)):
        if np.asarray(array).min() < 0 or np.asarray(array).max() > 2:
            raise InputError(f"{name} values must be 0, 1 or 2")
    return height, width


def deblock_picture(planes: list[np.ndarray], bs_ver: np.ndarray, bs_hor: np.ndarray,
                    qp_map: np.ndarray, chroma_format: int, bit_depth: int, band: int = BAND,
                    in_place: bool = False) -> list[np.ndarray]:
    """Deblocked copy of ``planes`` (list of int32 planes; the input is not modified), or with
    ``in_place`` the int32 ``planes`` themselves, deblocked.

    Each direction runs in bands of ``band`` lines across its edges (rows for vertical edges, columns
    for horizontal ones): a segment's filter reads and writes its own lines only, so the bands give
    the samples of one whole-picture pass while the int64 temporaries stay one band's."""
    _validate(planes, bs_ver, bs_hor, qp_map, chroma_format, bit_depth)
    bs_ver = np.asarray(bs_ver, dtype=np.int64)
    bs_hor = np.asarray(bs_hor, dtype=np.int64)
    qp_map = np.asarray(qp_map, dtype=np.int64)
    copy = np.asarray if in_place else np.array
    luma = copy(planes[0], dtype=np.int32)
    filter_luma = lambda lines, bs, qp: _filter_luma_vertical_edges(lines, bs, qp, bit_depth)  # noqa: E731
    _in_bands(luma, filter_luma, bs_ver, qp_map, 1, band)
    _in_bands(luma.T, filter_luma, bs_hor.T, qp_map.T, 1, band)
    out = [luma]
    if chroma_format != CHROMA_400:
        subsampling = 2 if chroma_format == CHROMA_420 else 1
        def filter_chroma(lines, bs, qp):
            return _filter_chroma_vertical_edges(lines, bs, qp, subsampling, chroma_format, bit_depth)
        for plane in planes[1:]:
            c = copy(plane, dtype=np.int32)
            _in_bands(c, filter_chroma, bs_ver, qp_map, subsampling, band)
            _in_bands(c.T, filter_chroma, bs_hor.T, qp_map.T, subsampling, band)
            out.append(c)
    return out


def _in_bands(plane: np.ndarray, filter_lines, bs: np.ndarray, qp_map: np.ndarray, subsampling: int,
              band: int) -> None:
    """Filter the vertical edges of ``plane`` (an int32 array or its transpose, written in place) band
    by band; row r of the plane takes the bS and QP rows of luma row r * subsampling."""
    for r0 in range(0, plane.shape[0], band):
        r1 = min(r0 + band, plane.shape[0])
        lo, hi = r0 * subsampling // EDGE_SEGMENT, -(-r1 * subsampling // EDGE_SEGMENT)
        plane[r0:r1] = filter_lines(plane[r0:r1].astype(np.int64), bs[lo:hi], qp_map[lo:hi])
