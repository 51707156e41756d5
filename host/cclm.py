"""Cross-component linear model chroma prediction (normative; VVC's CCLM, H.266 8.4.5.2.13, simplified).

A chroma block is predicted from the co-located luma reconstruction, pred = ((a · Y') >> 16) + b,
with (a, b) fitted to neighbouring reconstructed (luma, chroma) pairs, so chroma that follows the
luma texture costs no residual and no side information.  Three modes choose the neighbours: LM
(above and left, n each), LM-L (left, 2n) and LM-T (above, 2n); only neighbours whose chroma is
available count (the chroma availability map of intra prediction).

Y' is the luma at chroma resolution: in 4:2:0 the 6-tap filter [1 2 1; 1 2 1] / 8 over the two luma
rows of a chroma row (the left tap repeats column 0 at the picture's left edge); in 4:4:4 the luma
itself.  Of the N available neighbour pairs, four at positions (2k + 1)·N / 8 are taken (all of them,
repeated, when N < 4); the two with the smallest Y' and the two with the largest are averaged into
(Y_min, C_min) and (Y_max, C_max); a = floor(((C_max − C_min) << 16) / (Y_max − Y_min)) (0 when the
luma range is 0), b = C_min − ((a · Y_min) >> 16).  VVC replaces the division by a 16-entry table for
hardware; an exact integer division is as deterministic and simpler to state.  No neighbour: the
prediction is 1 << (BitDepth − 1).
"""
from __future__ import annotations

import numpy as np

INTRA_LT_CCLM, INTRA_L_CCLM, INTRA_T_CCLM = 81, 82, 83      # chroma modes (VVC's numbers)
CCLM_MODES = (INTRA_LT_CCLM, INTRA_L_CCLM, INTRA_T_CCLM)
_SHIFT = 16


def luma_at_chroma(luma: np.ndarray, x: int, y: int, width: int, height: int, shift: int) -> np.ndarray:
    """Y' of the chroma samples [y, y + height) x [x, x + width) (chroma coordinates)."""
    if shift == 0:
        return luma[y:y + height, x:x + width].astype(np.int64)
    lx, ly = 2 * x, 2 * y
    rows = luma[ly:ly + 2 * height].astype(np.int64)
    left_col = lx - 1 if lx > 0 else lx
    centre = rows[:, lx:lx + 2 * width:2]
    right = rows[:, lx + 1:lx + 2 * width:2]
    left = np.concatenate((rows[:, left_col:left_col + 1], right[:, :-1]), axis=1)
    taps = left + 2 * centre + right                    # (2·height, width)
    return (taps[0::2] + taps[1::2] + 4) >> 3


def _available_prefix(ok: np.ndarray) -> int:
    """Length of the leading run of True in ``ok``."""
    return len(ok) if ok.all() else int(ok.argmin())


def _neighbour_counts(avail: np.ndarray, x: int, y: int, n: int, width: int, height: int) -> tuple[int, int]:
    """How many of the up to 2n chroma neighbours above (from x rightwards) and left (from y down)
    are available: the leading available run, inside the plane."""
    above = left = 0
    if y > 0:
        count = min(2 * n, width - x)
        above = _available_prefix(avail[(y - 1) >> 2, x >> 2:(x + count + 3) >> 2].repeat(4)[:count])
    if x > 0:
        count = min(2 * n, height - y)
        left = _available_prefix(avail[y >> 2:(y + count + 3) >> 2, (x - 1) >> 2].repeat(4)[:count])
    return above, left


def linear_model(ys: np.ndarray, cs: np.ndarray) -> tuple[int, int]:
    """(a, b) of the module docstring from the neighbour pairs (at least one)."""
    count = len(ys)
    picks = [(2 * k + 1) * count // 8 for k in range(4)] if count >= 4 else [k % count for k in range(4)]
    order = sorted(picks, key=lambda i: (int(ys[i]), i))
    y_min = (int(ys[order[0]]) + int(ys[order[1]]) + 1) >> 1
    c_min = (int(cs[order[0]]) + int(cs[order[1]]) + 1) >> 1
    y_max = (int(ys[order[2]]) + int(ys[order[3]]) + 1) >> 1
    c_max = (int(cs[order[2]]) + int(cs[order[3]]) + 1) >> 1
    a = ((c_max - c_min) << _SHIFT) // (y_max - y_min) if y_max > y_min else 0
    return a, c_min - ((a * y_min) >> _SHIFT)


def predict_cclm(luma: np.ndarray, chroma: np.ndarray, avail: np.ndarray, x: int, y: int, n: int, mode: int,
                 shift: int, bit_depth: int) -> np.ndarray:
    """CCLM prediction (n, n) int32 of the chroma block at (x, y) of ``chroma`` (its plane, with
    ``avail`` its 4x4 availability) from the reconstructed ``luma`` plane; ``shift`` 1 in 4:2:0."""
    return predict_cclm_modes(luma, [(chroma, avail)], x, y, n, (mode,), shift, bit_depth)[0, 0]


def predict_cclm_modes(luma: np.ndarray, chromas: list[tuple[np.ndarray, np.ndarray]], x: int, y: int, n: int,
                       modes: tuple[int, ...], shift: int, bit_depth: int) -> np.ndarray:
    """``predict_cclm`` for several (chroma plane, availability) pairs of one block position and
    several modes, (len(chromas), len(modes), n, n): the filtered luma of the block and of its
    neighbours is computed once.  A mode's neighbours are the first n (LM) or 2n (LM-L, LM-T) of the
    available ones above (left to right), then left (top down)."""
    height, width = chromas[0][0].shape
    block_luma = luma_at_chroma(luma, x, y, n, n, shift)
    none = np.zeros(0, dtype=np.int64)
    above_luma = luma_at_chroma(luma, x, y - 1, min(2 * n, width - x), 1, shift)[0] if y > 0 else none
    left_luma = luma_at_chroma(luma, x - 1, y, 1, min(2 * n, height - y), shift)[:, 0] if x > 0 else none
    out = np.empty((len(chromas), len(modes), n, n), dtype=np.int32)
    for c, (chroma, avail) in enumerate(chromas):
        n_above, n_left = _neighbour_counts(avail, x, y, n, width, height)
        for m, mode in enumerate(modes):
            na = min(n_above, {INTRA_LT_CCLM: n, INTRA_T_CCLM: 2 * n}.get(mode, 0))
            nl = min(n_left, {INTRA_LT_CCLM: n, INTRA_L_CCLM: 2 * n}.get(mode, 0))
            if na + nl == 0:
                out[c, m] = 1 << (bit_depth - 1)
                continue
            ys = np.concatenate((above_luma[:na], left_luma[:nl]))
            cs = np.concatenate((chroma[y - 1, x:x + na], chroma[y:y + nl, x - 1])).astype(np.int64)
            a, b = linear_model(ys, cs)
            out[c, m] = np.clip(((a * block_luma) >> _SHIFT) + b, 0, (1 << bit_depth) - 1)
    return out
