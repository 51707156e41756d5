"""Per-CTU on/off decisions of a loop filter (encoder-only), shared by the neural and adaptive filters.

Both code a CTU flag per component with VVC's alf_ctb_flag contexts (left + above CTU's flag), so
one routine decides them: in coding order, each flag takes the value with the lower
J = -gain * on + lambda * R, R estimated from the adapting context.
"""
from __future__ import annotations

import numpy as np

from bitstream.syntax_coder import RateEstimator


def ctu_sums(values: np.ndarray, block: int) -> np.ndarray:
    """Sum of ``values`` over each block x block tile (partial tiles at the right and bottom)."""
    h, w = values.shape
    rows, cols = -(-h // block), -(-w // block)
    padded = np.zeros((rows * block, cols * block), dtype=np.float64)
    padded[:h, :w] = values
    return padded.reshape(rows, block, cols, block).sum(axis=(1, 3))


def ctu_gains(original: np.ndarray, before: np.ndarray, filtered_rows, block: int) -> np.ndarray:
    """SSE saved by filtering, per CTU; ``filtered_rows(r0, r1)`` gives the filtered rows r0..r1
    (one CTU row at a time, so no picture-sized array is made)."""
    rows = []
    for r0 in range(0, original.shape[0], block):
        r1 = min(r0 + block, original.shape[0])
        o = original[r0:r1].astype(np.int64)
        rows.append(ctu_sums((o - before[r0:r1]) ** 2 - (o - filtered_rows(r0, r1)) ** 2, block)[0])
    return np.array(rows)


def decide_ctb_flags(est: RateEstimator, ctx: int, gain: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    """(flags, their bits) for one component whose contexts start at ``ctx`` (+ left + above); ``gain``
    is each CTU's SSE saved by filtering it.  ``est`` is left as it was."""
    rows, cols = gain.shape
    snap = est.snapshot()
    chosen = np.zeros((rows, cols), dtype=np.uint8)
    flag_bits = 0.0
    for r in range(rows):
        for c in range(cols):
            k = ctx + (int(chosen[r, c - 1]) if c else 0) + (int(chosen[r - 1, c]) if r else 0)
            before, s = est.bits, est.snapshot()
            bits = []
            for value in (0, 1):
                est.decision(k, value)
                bits.append(est.bits - before)
                est.restore(s)
            chosen[r, c] = int(lam * bits[1] - gain[r, c] < lam * bits[0])
            est.decision(k, int(chosen[r, c]))
            flag_bits += est.bits - before
    est.restore(snap)
    return chosen, flag_bits
