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
so predict() (one mode) and predict_all_modes() (one gather for all 33) read the same tables.
The ``*_unchecked`` variants skip argument validation for the codec's own hot paths.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from bitstream.errors import InputError
from host.cclm import CCLM_MODES

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
    if plane.ndim != 2:
        raise InputError(f"plane must be 2-D, got shape {plane.shape}")
    height, width = plane.shape
    if avail.shape != (-(-height // 4), -(-width // 4)):
        raise InputError(f"availability map {avail.shape} does not match plane {plane.shape}")
    if not (0 <= x < width and 0 <= y < height and x % 4 == 0 and y % 4 == 0):
        raise InputError(f"block position ({x}, {y}) must be inside the plane on the 4x4 grid")
    return reference_samples_unchecked(plane, avail, x, y, size, bit_depth)


def reference_samples_unchecked(plane: np.ndarray, avail: np.ndarray, x: int, y: int, size: int,
                                bit_depth: int) -> np.ndarray:
    """``reference_samples`` for trusted callers (reconstruction, RD search): arguments as validated
    there.  Same result, no validation; reads the left column, corner and top row as slices."""
    n2 = 2 * size
    height, width = plane.shape
    ux, uy = x >> 2, y >> 2
    if (x and y and y + n2 <= height and x + n2 <= width and avail[uy - 1, ux - 1]
            and avail[uy:uy + (n2 >> 2), ux - 1].all() and avail[uy - 1, ux:ux + (n2 >> 2)].all()):
        # Every reference available (the common case): two slices.
        return np.concatenate((plane[y + n2 - 1:y - 1:-1, x - 1], plane[y - 1, x - 1:x + n2])).astype(
            np.int32, copy=False)
    ref = np.empty(2 * n2 + 1, dtype=np.int32)
    ok = np.zeros(2 * n2 + 1, dtype=bool)
    if x:
        bottom = min(y + n2, height)
        count = bottom - y
        ref[n2 - count:n2] = plane[y:bottom, x - 1][::-1]
        ok[n2 - count:n2] = avail[uy:(bottom + 3) >> 2, ux - 1].repeat(4)[count - 1::-1]
        if y:
            ref[n2] = plane[y - 1, x - 1]
            ok[n2] = avail[uy - 1, ux - 1]
    if y:
        right = min(x + n2, width)
        count = right - x
        ref[n2 + 1:n2 + 1 + count] = plane[y - 1, x:right]
        ok[n2 + 1:n2 + 1 + count] = avail[uy - 1, ux:(right + 3) >> 2].repeat(4)[:count]
    if ok.all():
        return ref
    if not ok.any():
        ref.fill(1 << (bit_depth - 1))
        return ref
    source = np.where(ok, _positions(size), -1)
    source = np.maximum.accumulate(source)
    source[source < 0] = ok.argmax()
    return ref[source]


@lru_cache(maxsize=None)
def _positions(size: int) -> np.ndarray:
    positions = np.arange(4 * size + 1)
    positions.setflags(write=False)
    return positions


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


_FILTER_FLAG_LISTS = {size: [bool(f) for f in _filter_flags(size)] for size in INTRA_BLOCK_SIZES}


def filter_reference(ref: np.ndarray, size: int, is_luma: bool, bit_depth: int) -> np.ndarray:
    """HEVC 8.4.4.2.3 smoothing: bi-linear strong smoothing for flat luma >= 32, else [1 2 1]."""
    return _filter_unchecked(_check_ref(ref, size).astype(np.int32), size, is_luma, bit_depth)


def _filter_unchecked(ref: np.ndarray, size: int, is_luma: bool, bit_depth: int) -> np.ndarray:
    """filter_reference of an int32 reference array of the right length."""
    n2 = 2 * size
    if is_luma and size >= 32:
        corner, left_end, top_end = int(ref[n2]), int(ref[0]), int(ref[2 * n2])
        flat_threshold = 1 << (bit_depth - 5)
        if (abs(corner + top_end - 2 * int(ref[n2 + size])) < flat_threshold
                and abs(corner + left_end - 2 * int(ref[size])) < flat_threshold):
            far, near, shift = _strong_weights(size)      # k = 1..2N-1 from the corner: 2N - k, k
            rounding = 1 << (shift - 1)
            out = ref.copy()
            out[n2 + 1:2 * n2] = (near * corner + far * top_end + rounding) >> shift
            out[1:n2] = (far * corner + near * left_end + rounding) >> shift
            return out
    out = ref.copy()
    out[1:-1] = (ref[:-2] + 2 * ref[1:-1] + ref[2:] + 2) >> 2
    return out


@lru_cache(maxsize=None)
def _strong_weights(size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Weights of the strong smoothing: 2N - k and k for k = 1..2N-1, and the shift log2(2N)."""
    n2 = 2 * size
    k = np.arange(1, n2, dtype=np.int32)
    far, near = k, n2 - k
    far.setflags(write=False)
    near.setflags(write=False)
    return far, near, n2.bit_length() - 1


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


@lru_cache(maxsize=None)
def _angular_modes(size: int) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool], ...]:
    """Per mode 2..34 (index mode - 2): a, b, f, 32 - f, and whether every f is 0 (a pure copy)."""
    a, b, f = _angular_tables(size)
    return tuple((a[i], b[i], f[i], (32 - f[i]).astype(np.int32), not f[i].any()) for i in range(len(a)))


@lru_cache(maxsize=None)
def _planar_weights(size: int) -> tuple[np.ndarray, np.ndarray]:
    """N-1-k and k+1 for k = 0..N-1, the planar weights along a row or column."""
    k = np.arange(size, dtype=np.int32)
    return size - 1 - k, k + 1


def _planar(ref: np.ndarray, size: int) -> np.ndarray:
    """HEVC 8.4.4.2.5 for one reference array (4N+1,) -> (N, N)."""
    n2 = 2 * size
    top = ref[n2 + 1:n2 + 1 + size]                    # p[x][-1]
    left = ref[n2 - 1:n2 - 1 - size:-1]                # p[-1][y]
    top_right = int(ref[n2 + 1 + size])                # p[N][-1]
    bottom_left = int(ref[n2 - 1 - size])              # p[-1][N]
    falling, rising = _planar_weights(size)
    value = (np.multiply.outer(left, falling) + np.multiply.outer(falling, top)
             + (rising * top_right)[None, :] + (rising * bottom_left + size)[:, None])
    return value >> size.bit_length()


def _dc_value(ref: np.ndarray, size: int) -> int:
    n2 = 2 * size
    total = int(ref[n2 + 1:n2 + 1 + size].sum()) + int(ref[size:n2].sum())
    return (total + size) >> size.bit_length()


def _boundary_filter(pred: np.ndarray, ref: np.ndarray, size: int, mode: int, bit_depth: int) -> None:
    """HEVC edge filters for luma blocks < 32, in place: DC corner/edges, first column (26) / row (10).
    ``ref`` is the unfiltered reference (these modes never use the smoothed one)."""
    n2 = 2 * size
    top = ref[n2 + 1:n2 + 1 + size]
    left = ref[n2 - 1:n2 - 1 - size:-1]
    corner = int(ref[n2])
    if mode == INTRA_DC:
        dc = int(pred[-1, -1])  # the DC value: interior samples are not filtered
        pred[0, 1:] = (top[1:] + (3 * dc + 2)) >> 2
        pred[1:, 0] = (left[1:] + (3 * dc + 2)) >> 2
        pred[0, 0] = (int(left[0]) + 2 * dc + int(top[0]) + 2) >> 2
    elif mode == INTRA_VERTICAL:
        pred[:, 0] = np.minimum(np.maximum(int(top[0]) + ((left - corner) >> 1), 0), (1 << bit_depth) - 1)
    elif mode == INTRA_HORIZONTAL:
        pred[0, :] = np.minimum(np.maximum(int(left[0]) + ((top - corner) >> 1), 0), (1 << bit_depth) - 1)


def _validated_ref(ref: np.ndarray, size: int, bit_depth: int) -> np.ndarray:
    _check_size(size)
    _check_bit_depth(bit_depth)
    ref = _check_ref(ref, size)
    if ref.min() < 0 or ref.max() >= 1 << bit_depth:
        raise InputError(f"reference samples must lie in [0, {1 << bit_depth})")
    return ref.astype(np.int32)


def predict(ref: np.ndarray, size: int, mode: int, is_luma: bool, bit_depth: int,
            filter_enabled: bool | None = None) -> np.ndarray:
    """Intra prediction (N, N) int32 of one mode from unfiltered references ``ref`` (4N+1,).

    Reference smoothing is applied internally when ``filter_enabled`` (default: ``is_luma``, as HEVC
    4:2:0; pass True for 4:4:4 chroma as in HEVC RExt) and the mode/size rules ask for it; the strong
    bi-linear smoothing and the DC/horizontal/vertical boundary filters are luma-only.
    """
    if not 0 <= mode < NUM_INTRA_MODES:
        raise InputError(f"intra mode must be 0..34, got {mode}")
    return predict_unchecked(_validated_ref(ref, size, bit_depth), size, mode, is_luma, bit_depth,
                             filter_enabled)


def predict_unchecked(ref: np.ndarray, size: int, mode: int, is_luma: bool, bit_depth: int,
                      filter_enabled: bool | None = None) -> np.ndarray:
    """``predict`` for trusted callers (reconstruction): ``ref`` an int32 array (4N+1,) of samples in
    range, as ``reference_samples`` returns it; size, mode and bit depth valid.  Same result."""
    if filter_enabled is None:
        filter_enabled = is_luma
    src = ref
    if filter_enabled and _FILTER_FLAG_LISTS[size][mode]:
        src = _filter_unchecked(ref, size, is_luma, bit_depth)
    if mode >= 2:
        a, b, f, g, copy = _angular_modes(size)[mode - 2]
        pred = src[a] if copy else (g * src[a] + f * src[b] + 16) >> 5
        if is_luma and size <= _BOUNDARY_FILTER_MAX_SIZE and (mode == INTRA_HORIZONTAL or mode == INTRA_VERTICAL):
            _boundary_filter(pred, ref, size, mode, bit_depth)
        return pred
    if mode == INTRA_PLANAR:
        return _planar(src, size)
    pred = np.full((size, size), _dc_value(src, size), dtype=np.int32)
    if is_luma and size <= _BOUNDARY_FILTER_MAX_SIZE:
        _boundary_filter(pred, ref, size, INTRA_DC, bit_depth)
    return pred


def predict_all_modes(ref: np.ndarray, size: int, is_luma: bool, bit_depth: int,
                      filter_enabled: bool | None = None) -> np.ndarray:
    """All 35 predictions (35, N, N) int32; entry m equals predict(ref, size, m, ...)."""
    return predict_all_modes_unchecked(_validated_ref(ref, size, bit_depth), size, is_luma, bit_depth,
                                       filter_enabled)


def predict_all_modes_unchecked(ref: np.ndarray, size: int, is_luma: bool, bit_depth: int,
                                filter_enabled: bool | None = None) -> np.ndarray:
    """``predict_all_modes`` for trusted callers (the RD search), arguments as for
    ``predict_unchecked``.  The angular modes run as one gather from the unfiltered references
    followed by the filtered ones, through per-size index tables."""
    if filter_enabled is None:
        filter_enabled = is_luma
    pred = np.empty((NUM_INTRA_MODES, size, size), dtype=np.int32)
    filtered = ref
    if filter_enabled and size > 4:
        filtered = _filter_unchecked(ref, size, is_luma, bit_depth)
    both = np.concatenate([ref, filtered])
    a, b, f, g = _all_mode_tables(size, filter_enabled)
    pred[2:] = (g * both[a] + f * both[b] + 16) >> 5
    pred[INTRA_PLANAR] = _planar(filtered if _FILTER_FLAG_LISTS[size][INTRA_PLANAR] else ref, size)
    pred[INTRA_DC] = _dc_value(ref, size)
    if is_luma and size <= _BOUNDARY_FILTER_MAX_SIZE:
        for mode in (INTRA_DC, INTRA_HORIZONTAL, INTRA_VERTICAL):
            _boundary_filter(pred[mode], ref, size, mode, bit_depth)
    return pred


@lru_cache(maxsize=None)
def _all_mode_tables(size: int, filter_enabled: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """a, b, f, 32 - f of modes 2..34 with a and b indexing [ref, filtered ref] (4N+1 each): modes
    whose filterFlag is set read the second half."""
    a, b, f = _angular_tables(size)
    offset = np.zeros((NUM_INTRA_MODES - 2, 1, 1), dtype=np.int32)
    if filter_enabled:
        offset[:, 0, 0] = _filter_flags(size)[2:] * (4 * size + 1)
    tables = (a + offset, b + offset, f, (32 - f).astype(np.int32))
    for t in tables:
        t.setflags(write=False)
    return tables


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




def chroma_candidate_modes(luma_mode: int, cclm: bool = False) -> list[int]:
    """Chroma modes by chroma mode index (HEVC Table 8-2/8-3, 4:2:0 and 4:4:4; CCLM appended).

    Indices 0..3 are planar, vertical, horizontal, DC, replaced by mode 34 when equal to the luma mode;
    index 4 (derived, DM) is the luma mode itself; with ``cclm`` indices 5..7 are the CCLM modes
    LM, LM-L, LM-T (``host.cclm``).
    """
    if not 0 <= luma_mode < NUM_INTRA_MODES:
        raise InputError(f"intra mode must be 0..34, got {luma_mode}")
    fixed = [INTRA_PLANAR, INTRA_VERTICAL, INTRA_HORIZONTAL, INTRA_DC]
    modes = [INTRA_VDIAGONAL if m == luma_mode else m for m in fixed] + [luma_mode]
    return modes + list(CCLM_MODES) if cclm else modes
