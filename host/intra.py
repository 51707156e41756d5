"""HEVC intra prediction (8.4.4.2) for square blocks 4..64, plus MPM and chroma-mode derivation.

Reference layout (one fixed order, used everywhere): ``ref`` holds the 4N+1 neighbouring samples of an
N x N block at (x, y), walking from the bottom-left end of the left column up to the corner and then
right along the top row:

    ref[2N - 1 - j] = p[-1][j]   left column, j = 0..2N-1 (ref[0] = p[-1][2N-1], bottom-most)
    ref[2N]         = p[-1][-1]  top-left corner
    ref[2N + 1 + i] = p[i][-1]   top row, i = 0..2N-1 (ref[4N] = p[2N-1][-1], right-most)

(p[i][j] is HEVC notation: i = column, j = row, relative to the block's top-left sample.)  In this
order HEVC's substitution process (8.4.4.2.2) and the [1 2 1] smoothing (8.4.4.2.3) are plain 1-D
operations.  Predictions are returned as [row, column] arrays.

Extension beyond HEVC for 64x64 blocks (HEVC stops at 32): the filtering threshold is 0 as for 32,
and the strong bi-linear smoothing of luma uses the 2N-sample span (shift 7).

Angular prediction is evaluated from per-size index tables: sample (row, col) of mode m is
((32 - f) * ref[a] + f * ref[b] + 16) >> 5 with (a, b, f) precomputed by the HEVC projection rules,
so predict() and predict_all_modes() run the same vectorised code.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from bitstream.errors import InputError

INTRA_PLANAR = 0
INTRA_DC = 1
INTRA_HORIZONTAL = 10
INTRA_DIAGONAL = 18
INTRA_VERTICAL = 26
INTRA_VDIAGONAL = 34
NUM_INTRA_MODES = 35
INTRA_BLOCK_SIZES = (4, 8, 16, 32, 64)

# HEVC Table 8-4 (intraPredAngle, modes 2..34) and Table 8-5 (invAngle, modes 11..25).
_INTRA_PRED_ANGLE = (None, None, 32, 26, 21, 17, 13, 9, 5, 2, 0, -2, -5, -9, -13, -17, -21, -26,
                     -32, -26, -21, -17, -13, -9, -5, -2, 0, 2, 5, 9, 13, 17, 21, 26, 32)
_INV_ANGLE = {11: -4096, 12: -1638, 13: -910, 14: -630, 15: -482, 16: -390, 17: -315, 18: -256,
              19: -315, 20: -390, 21: -482, 22: -630, 23: -910, 24: -1638, 25: -4096}
# intraHorVerDistThres[nTbS] (8.4.4.2.3); size 64 follows size 32.
_FILTER_DISTANCE_THRESHOLD = {8: 7, 16: 1, 32: 0, 64: 0}
_BOUNDARY_FILTER_MAX_SIZE = 16  # DC / horizontal / vertical edge filters: luma blocks < 32


def _check_size(size: int) -> None:
    if size not in INTRA_BLOCK_SIZES:
        raise InputError(f"intra block size must be one of {INTRA_BLOCK_SIZES}, got {size}")


def _check_bit_depth(bit_depth: int) -> None:
    if bit_depth not in (8, 10):
        raise InputError(f"bit depth must be 8 or 10, got {bit_depth}")


def _check_ref(ref: np.ndarray, size: int) -> np.ndarray:
    ref = np.asarray(ref)
    if ref.shape != (4 * size + 1,) or not np.issubdtype(ref.dtype, np.integer):
        raise InputError(f"reference must be {4 * size + 1} integer samples, got {ref.shape} {ref.dtype}")
    return ref.astype(np.int64)


# --------------------------------------------------------------------------------------------------
# Reference samples: availability, substitution, filtering
# --------------------------------------------------------------------------------------------------

def reference_sample_positions(x: int, y: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Plane coordinates (columns, rows) of the 4N+1 reference samples, in the module's order."""
    k = np.arange(2 * size)
    cols = np.concatenate([np.full(2 * size, x - 1), [x - 1], x + k])
    rows = np.concatenate([y + 2 * size - 1 - k, [y - 1], np.full(2 * size, y - 1)])
    return cols, rows


def reference_samples(plane: np.ndarray, avail: np.ndarray, x: int, y: int, size: int,
                      bit_depth: int) -> np.ndarray:
    """Neighbouring samples of the N x N block at column x, row y, after HEVC substitution.

    ``avail[r, c]`` tells whether the 4x4 block at rows 4r.., columns 4c.. of this plane is already
    reconstructed; samples outside the plane are unavailable.  With no sample available every
    reference is 1 << (bit_depth - 1); otherwise each unavailable sample copies the nearest available
    one before it in the reference order (the first ones copy the first available sample).
    """
    _check_size(size)
    _check_bit_depth(bit_depth)
    plane = np.asarray(plane)
    avail = np.asarray(avail, dtype=bool)
    height, width = plane.shape
    if avail.shape != (-(-height // 4), -(-width // 4)):
        raise InputError(f"availability map {avail.shape} does not match plane {plane.shape}")
    if not (0 <= x < width and 0 <= y < height and x % 4 == 0 and y % 4 == 0):
        raise InputError(f"block position ({x}, {y}) must be inside the plane on the 4x4 grid")
    cols, rows = reference_sample_positions(x, y, size)
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    cols_c = np.clip(cols, 0, width - 1)
    rows_c = np.clip(rows, 0, height - 1)
    available = inside & avail[rows_c // 4, cols_c // 4]
    if not available.any():
        return np.full(4 * size + 1, 1 << (bit_depth - 1), dtype=np.int32)
    source = np.where(available, np.arange(4 * size + 1), -1)
    source = np.maximum.accumulate(source)
    source[source < 0] = np.argmax(available)
    return plane[rows_c[source], cols_c[source]].astype(np.int32)


def _filter_flag(mode: int, size: int) -> bool:
    """HEVC filterFlag: smooth the references for this mode and block size?"""
    if mode == INTRA_DC or size == 4:
        return False
    distance = min(abs(mode - INTRA_VERTICAL), abs(mode - INTRA_HORIZONTAL))
    return distance > _FILTER_DISTANCE_THRESHOLD[size]


@lru_cache(maxsize=None)
def _filter_flags(size: int) -> np.ndarray:
    flags = np.array([_filter_flag(mode, size) for mode in range(NUM_INTRA_MODES)])
    flags.setflags(write=False)
    return flags


def filter_reference(ref: np.ndarray, size: int, is_luma: bool, bit_depth: int) -> np.ndarray:
    """HEVC 8.4.4.2.3 smoothing: bi-linear strong smoothing for flat luma >= 32, else [1 2 1]."""
    ref = _check_ref(ref, size)
    n2 = 2 * size
    corner, left_end, top_end = ref[n2], ref[0], ref[2 * n2]
    flat_threshold = 1 << (bit_depth - 5)
    strong = (is_luma and size >= 32
              and abs(corner + top_end - 2 * ref[n2 + size]) < flat_threshold
              and abs(corner + left_end - 2 * ref[size]) < flat_threshold)
    if strong:
        shift = n2.bit_length() - 1
        k = np.arange(1, n2)                                  # distance from the corner, 1..2N-1
        out = ref.copy()
        out[n2 + k] = ((n2 - k) * corner + k * top_end + (1 << (shift - 1))) >> shift
        out[n2 - k] = ((n2 - k) * corner + k * left_end + (1 << (shift - 1))) >> shift
        return out.astype(np.int32)
    out = ref.copy()
    out[1:-1] = (ref[:-2] + 2 * ref[1:-1] + ref[2:] + 2) >> 2
    return out.astype(np.int32)


# --------------------------------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _angular_tables(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, f) index/weight tables of shape (33, N, N) for modes 2..34 into the reference array.

    Vertical modes (>= 18) project rows onto the top reference; horizontal modes are the transposed
    mirror image (the left column plays the top row's role), so both share one construction.
    """
    n = size
    center = 2 * n
    r = np.arange(-n, 2 * n + 2)                      # extended reference positions ref[r]
    offsets = np.arange(n)
    a_all, b_all, f_all = [], [], []
    for mode in range(2, NUM_INTRA_MODES):
        angle = _INTRA_PRED_ANGLE[mode]
        vertical = mode >= INTRA_DIAGONAL
        direction = 1 if vertical else -1
        main = center + direction * r                  # ref[r] for r >= 0 (main side)
        if angle < 0:                                  # r < 0 projects onto the side reference
            projected = (r * _INV_ANGLE[mode] + 128) >> 8
            main = np.where(r < 0, center - direction * projected, main)
        main = np.clip(main, 0, 4 * n)                 # unused positions only; keeps indices valid
        position = (offsets + 1) * angle               # per line along the prediction direction
        idx, frac = position >> 5, position & 31
        along = offsets[None, :] + idx[:, None]        # [line, sample]
        a = main[along + 1 + n]
        b = main[along + 2 + n]
        f = np.broadcast_to(frac[:, None], (n, n))
        if not vertical:
            a, b, f = a.T, b.T, f.T
        a_all.append(a)
        b_all.append(b)
        f_all.append(f)
    tables = tuple(np.ascontiguousarray(np.stack(t), dtype=np.int32) for t in (a_all, b_all, f_all))
    for t in tables:
        t.setflags(write=False)
    return tables


def _planar(ref: np.ndarray, size: int) -> np.ndarray:
    """HEVC 8.4.4.2.5 for references of shape (..., 4N+1) -> (..., N, N)."""
    n2 = 2 * size
    k = np.arange(size)
    top = ref[..., n2 + 1 + k]                         # p[x][-1]
    left = ref[..., n2 - 1 - k]                        # p[-1][y]
    top_right = ref[..., n2 + 1 + size, None, None]    # p[N][-1]
    bottom_left = ref[..., n2 - 1 - size, None, None]  # p[-1][N]
    col = k[None, :]
    row = k[:, None]
    value = ((size - 1 - col) * left[..., :, None] + (col + 1) * top_right
             + (size - 1 - row) * top[..., None, :] + (row + 1) * bottom_left + size)
    return value >> (size.bit_length())


def _dc_value(ref: np.ndarray, size: int) -> np.ndarray:
    n2 = 2 * size
    total = ref[..., n2 + 1:n2 + 1 + size].sum(axis=-1) + ref[..., size:n2].sum(axis=-1)
    return (total + size) >> size.bit_length()


def _boundary_filter(pred: np.ndarray, ref: np.ndarray, size: int, mode: int,
                     bit_depth: int) -> np.ndarray:
    """HEVC edge filters for luma blocks < 32: DC corner/edges, first column (26) / row (10)."""
    n2 = 2 * size
    top = ref[n2 + 1:n2 + 1 + size]
    left = ref[n2 - 1::-1][:size]
    corner = ref[n2]
    pred = pred.copy()
    if mode == INTRA_DC:
        dc = pred[-1, -1]  # the DC value: interior samples are not filtered
        pred[0, 1:] = (top[1:] + 3 * dc + 2) >> 2
        pred[1:, 0] = (left[1:] + 3 * dc + 2) >> 2
        pred[0, 0] = (left[0] + 2 * dc + top[0] + 2) >> 2
    elif mode == INTRA_VERTICAL:
        pred[:, 0] = np.clip(top[0] + ((left - corner) >> 1), 0, (1 << bit_depth) - 1)
    elif mode == INTRA_HORIZONTAL:
        pred[0, :] = np.clip(left[0] + ((top - corner) >> 1), 0, (1 << bit_depth) - 1)
    return pred


def _predict_modes(ref: np.ndarray, size: int, modes: np.ndarray, is_luma: bool, bit_depth: int,
                   filter_enabled: bool | None) -> np.ndarray:
    _check_size(size)
    _check_bit_depth(bit_depth)
    ref = _check_ref(ref, size).astype(np.int32)
    if ref.min() < 0 or ref.max() >= 1 << bit_depth:
        raise InputError(f"reference samples must lie in [0, {1 << bit_depth})")
    if filter_enabled is None:
        filter_enabled = is_luma
    if filter_enabled:
        filtered = filter_reference(ref, size, is_luma, bit_depth)
        sources = np.where(_filter_flags(size)[modes][:, None], filtered, ref)
    else:
        sources = np.broadcast_to(ref, (len(modes), ref.size))
    pred = np.empty((len(modes), size, size), dtype=np.int32)
    angular = modes >= 2
    if angular.any():
        a, b, f = (t[modes[angular] - 2] for t in _angular_tables(size))
        src = sources[angular]
        rows = np.arange(len(src))[:, None, None]
        pred[angular] = ((32 - f) * src[rows, a] + f * src[rows, b] + 16) >> 5
    planar = modes == INTRA_PLANAR
    if planar.any():
        pred[planar] = _planar(sources[planar], size)
    dc = modes == INTRA_DC
    if dc.any():
        pred[dc] = _dc_value(sources[dc], size)[:, None, None]
    if is_luma and size <= _BOUNDARY_FILTER_MAX_SIZE:
        for i in np.flatnonzero(np.isin(modes, (INTRA_DC, INTRA_HORIZONTAL, INTRA_VERTICAL))):
            pred[i] = _boundary_filter(pred[i], sources[i], size, int(modes[i]), bit_depth)
    return pred


def predict(ref: np.ndarray, size: int, mode: int, is_luma: bool, bit_depth: int,
            filter_enabled: bool | None = None) -> np.ndarray:
    """Intra prediction (N, N) int32 of one mode from unfiltered references ``ref`` (4N+1,).

    Reference smoothing is applied internally when ``filter_enabled`` (default: ``is_luma``, as HEVC
    4:2:0; pass True for 4:4:4 chroma as in HEVC RExt) and the mode/size rules ask for it; the strong
    bi-linear smoothing and the DC/horizontal/vertical boundary filters are luma-only.
    """
    if not 0 <= mode < NUM_INTRA_MODES:
        raise InputError(f"intra mode must be 0..34, got {mode}")
    return _predict_modes(ref, size, np.array([mode]), is_luma, bit_depth, filter_enabled)[0]


def predict_all_modes(ref: np.ndarray, size: int, is_luma: bool, bit_depth: int,
                      filter_enabled: bool | None = None) -> np.ndarray:
    """All 35 predictions (35, N, N) int32; entry m equals predict(ref, size, m, ...)."""
    return _predict_modes(ref, size, np.arange(NUM_INTRA_MODES), is_luma, bit_depth, filter_enabled)


# --------------------------------------------------------------------------------------------------
# Mode derivation
# --------------------------------------------------------------------------------------------------

def most_probable_modes(left_mode: int | None, above_mode: int | None) -> tuple[int, int, int]:
    """HEVC 8.4.2 candModeList.  Pass None for a neighbour that is unavailable, not intra, or (above)
    outside the current CTU: it counts as DC."""
    left = INTRA_DC if left_mode is None else left_mode
    above = INTRA_DC if above_mode is None else above_mode
    for mode in (left, above):
        if not 0 <= mode < NUM_INTRA_MODES:
            raise InputError(f"intra mode must be 0..34, got {mode}")
    if left == above:
        if left < 2:
            return INTRA_PLANAR, INTRA_DC, INTRA_VERTICAL
        return left, 2 + ((left + 29) % 32), 2 + ((left - 2 + 1) % 32)
    if INTRA_PLANAR not in (left, above):
        third = INTRA_PLANAR
    elif INTRA_DC not in (left, above):
        third = INTRA_DC
    else:
        third = INTRA_VERTICAL
    return left, above, third


def luma_mode_to_syntax(mode: int, mpms: tuple[int, int, int]) -> tuple[int | None, int | None]:
    """(mpm_idx, rem_intra_luma_pred_mode) coding ``mode``: exactly one of the two is None."""
    if mode in mpms:
        return mpms.index(mode), None
    return None, mode - sum(1 for m in mpms if m < mode)


def luma_mode_from_syntax(mpm_idx: int | None, rem_mode: int | None, mpms: tuple[int, int, int]) -> int:
    """HEVC 8.4.2: the luma mode from mpm_idx, or from rem_intra_luma_pred_mode (0..31)."""
    if mpm_idx is not None:
        return mpms[mpm_idx]
    mode = rem_mode
    for candidate in sorted(mpms):
        if mode >= candidate:
            mode += 1
    return mode


def chroma_candidate_modes(luma_mode: int) -> list[int]:
    """Chroma modes for intra_chroma_pred_mode 0..4 (HEVC Table 8-2/8-3, 4:2:0 and 4:4:4).

    Modes 0..3 are planar, vertical, horizontal, DC, replaced by mode 34 when equal to the luma mode;
    mode 4 (derived, DM) is the luma mode itself.
    """
    if not 0 <= luma_mode < NUM_INTRA_MODES:
        raise InputError(f"intra mode must be 0..34, got {luma_mode}")
    fixed = [INTRA_PLANAR, INTRA_VERTICAL, INTRA_HORIZONTAL, INTRA_DC]
    return [INTRA_VDIAGONAL if m == luma_mode else m for m in fixed] + [luma_mode]
