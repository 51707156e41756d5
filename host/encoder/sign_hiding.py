"""Sign data hiding on the encoder side (encoder only): make every sub-block's parity carry its sign.

With sign_data_hiding_enabled_flag the decoder infers the sign of the first significant coefficient
of a sub-block (in scan order) from the parity of the sub-block's sum of absolute levels, wherever
its first and last significant scan positions are more than 3 apart (``host.residual_coding``).
Where quantisation left the wrong parity, one level of the sub-block moves by one, the move of least
cost: the change in quantisation error, from the unrounded magnitude as HM's ``signBitHidingHDQ``
measures it, plus lambda times a rough change in bits (``_SIG_BITS`` for a new or removed significant
coefficient, ``_GREATER1_BITS`` for a level crossing between 1 and 2; tuned on dev crops).  Moves that would change the sub-block's first or last
significant position (and so whether, or which, sign is hidden) are not candidates; raising a level
always is, so every sub-block can be fixed.  Vectorised over sub-blocks and over a batch of blocks.
"""
from __future__ import annotations

import numpy as np

from host.encoder.quant import _quant_params
from host.residual_coding import LEVEL_MAX, SIGN_HIDING_DISTANCE, scan_plan
from host.scan import coded_log2_size

_SIG_BITS = 3.5              # sig_coeff_flag + coeff_sign_flag of a coefficient that appears or vanishes
_GREATER1_BITS = 1.5         # a level crossing between 1 and 2


def hide_signs(levels: np.ndarray, coeffs: np.ndarray, qp: int, log2_size: int, c_idx: int, scan_idx: int,
               bit_depth: int, lam: float) -> np.ndarray:
    """Levels (..., N, N) adjusted so that every sub-block that hides a sign has the parity of it.

    ``coeffs`` are the transform coefficients the levels quantise (same shape), ``qp`` the
    component's QP and ``lam`` the Lagrange multiplier for pixel-domain SSE.  Returns a new array
    (or ``levels`` itself when nothing needs to change)."""
    log2c = coded_log2_size(log2_size)
    coded = 1 << log2c
    plan = scan_plan(log2c, c_idx, scan_idx)
    lead = levels.shape[:-2]
    flat_levels = levels[..., :coded, :coded].reshape(*lead, coded * coded)[..., plan.scan]
    lv = flat_levels.reshape(*lead, -1, 16).astype(np.int64)
    nz = lv != 0
    count = nz.sum(axis=-1)
    idx = np.arange(16)
    first = np.where(nz, idx, 16).min(axis=-1)
    last = np.where(nz, idx, -1).max(axis=-1)
    active = (count > 1) & (last - first > SIGN_HIDING_DISTANCE)
    if not active.any():
        return levels
    mag = np.abs(lv)
    first_negative = np.take_along_axis(lv, np.minimum(first, 15)[..., None], axis=-1)[..., 0] < 0
    fix = active & ((mag.sum(axis=-1) & 1).astype(bool) != first_negative)
    if not fix.any():
        return levels

    scale, _, q_bits, _ = _quant_params(qp, log2_size, bit_depth, 0)
    c = coeffs[..., :coded, :coded].reshape(*lead, coded * coded)[..., plan.scan].reshape(lv.shape)
    u = np.abs(c.astype(np.int64)) * scale / float(1 << q_bits)      # unrounded magnitude
    step = float(1 << (q_bits - (15 - bit_depth - log2_size))) / scale   # level step in pixel-domain units
    bit_cost = lam / (step * step)                                         # one bit, in squared level steps
    err = mag - u
    up = 1.0 + 2.0 * err + bit_cost * np.where(mag == 0, _SIG_BITS, np.where(mag == 1, _GREATER1_BITS, 0.0))
    down = 1.0 - 2.0 * err - bit_cost * np.where(mag == 1, _SIG_BITS, np.where(mag == 2, _GREATER1_BITS, 0.0))
    inside = (idx > first[..., None]) & (idx < last[..., None])
    up = np.where((mag > 0) | inside, up, np.inf)
    up = np.where(mag >= LEVEL_MAX, np.inf, up)
    edge = (idx == first[..., None]) | (idx == last[..., None])
    down = np.where((mag == 0) | ((mag == 1) & edge), np.inf, down)
    best_up, best_down = up.min(axis=-1), down.min(axis=-1)
    use_up = best_up <= best_down
    pos = np.where(use_up, up.argmin(axis=-1), down.argmin(axis=-1))

    sel = np.nonzero(fix)
    p = pos[sel]
    old = lv[sel + (p,)]
    sign = np.where(old != 0, np.sign(old), np.where(c[sel + (p,)] < 0, -1, 1))
    lv[sel + (p,)] = old + np.where(use_up[sel], sign, -sign)

    region = np.empty((*lead, coded * coded), dtype=levels.dtype)
    region[..., plan.scan] = lv.reshape(flat_levels.shape)
    out = levels.copy()
    out[..., :coded, :coded] = region.reshape(*lead, coded, coded)
    return out
