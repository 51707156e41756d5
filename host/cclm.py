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


def _neighbours(luma: np.ndarray, chroma: np.ndarray, avail: np.ndarray, x: int, y: int, n: int,
                mode: int, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """(Y', C) of the available neighbours the mode uses, above (left to right) then left (top down)."""
    height, width = chroma.shape
    ys, cs = [], []
    above = {INTRA_LT_CCLM: n, INTRA_T_CCLM: 2 * n}.get(mode, 0)
    left = {INTRA_LT_CCLM: n, INTRA_L_CCLM: 2 * n}.get(mode, 0)
    if y > 0 and above:
        count = min(above, width - x)
        ok = avail[(y - 1) >> 2, x >> 2:(x + count + 3) >> 2].repeat(4)[:count]
        count = int(ok.argmin()) if not ok.all() else count          # the available prefix
        if count:
            ys.append(luma_at_chroma(luma, x, y - 1, count, 1, shift)[0])
            cs.append(chroma[y - 1, x:x + count].astype(np.int64))
    if x > 0 and left:
        count = min(left, height - y)
        ok = avail[y >> 2:(y + count + 3) >> 2, (x - 1) >> 2].repeat(4)[:count]
        count = int(ok.argmin()) if not ok.all() else count
        if count:
            ys.append(luma_at_chroma(luma, x - 1, y, 1, count, shift)[:, 0])
            cs.append(chroma[y:y + count, x - 1].astype(np.int64))
    if not ys:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(ys), np.concatenate(cs)


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
    ys, cs = _neighbours(luma, chroma, avail, x, y, n, mode, shift)
    if len(ys) == 0:
        return np.full((n, n), 1 << (bit_depth - 1), dtype=np.int32)
    a, b = linear_model(ys, cs)
    pred = ((a * luma_at_chroma(luma, x, y, n, n, shift)) >> _SHIFT) + b
    return np.clip(pred, 0, (1 << bit_depth) - 1).astype(np.int32)
