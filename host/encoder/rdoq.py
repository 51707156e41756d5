"""Rate-distortion optimised quantisation (encoder only), in the spirit of HM's RDOQ.

For each coefficient the level is chosen among 0 and the floor/ceiling of its unrounded quantised
magnitude by D + lambda * R, where R comes from the current context states of a ``RateEstimator``
(read through ``snapshot``, never modified) with the context selection of ``host.residual_coding``
(sig_coeff_flag pattern, greater1 sets, Rice parameter), then each coded sub-block may be zeroed
(coded_sub_block_flag = 0) and the last significant position is moved to where the total cost is
lowest.  The decisions are greedy in reverse scan order, like HM; bins are not adapted within the
block.  The distortion is measured in the transform domain, scaled so that it equals the
pixel-domain SSE of the orthonormal transform at the codec's bit depth (the unit of ``lam``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bitstream.cabac import FRAC_ONE, LPS_COST, MPS_COST
from bitstream.errors import InputError
from bitstream.syntax_coder import RateEstimator
from host.encoder.quant import QUANT_SCALE
from host.quant import qp_bd_offset
from host.residual_coding import (CHROMA_GREATER1_OFFSET, CHROMA_GREATER2_OFFSET, LEVEL_MAX,
                                  ResidualContexts, ScanPlan, last_position_binarization,
                                  remaining_length, residual_context_bases, scan_plan)
from host.scan import SCAN_DIAG, SCAN_VER, coded_log2_size

_MPS_COST = np.asarray(MPS_COST, dtype=np.float64) / FRAC_ONE
_LPS_COST = np.asarray(LPS_COST, dtype=np.float64) / FRAC_ONE
SIGN_BITS = 1.0
_REM_TABLE_SIZE = 64
_REMAINING_BITS = [[float(remaining_length(v, rice)) for v in range(_REM_TABLE_SIZE)] for rice in range(5)]


def remaining_bits(value: int, rice: int) -> float:
    return _REMAINING_BITS[rice][value] if value < _REM_TABLE_SIZE else float(remaining_length(value, rice))


@lru_cache(maxsize=None)
def position_tables(log2_size: int, c_idx: int, scan_idx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                         np.ndarray]:
    """Per coding-order position: last x / y prefix and suffix length as coded; sig ctx offsets."""
    plan = scan_plan(log2_size, c_idx, scan_idx)
    x, y = (plan.pos_y, plan.pos_x) if scan_idx == SCAN_VER else (plan.pos_x, plan.pos_y)
    bin_x = [last_position_binarization(v) for v in x]
    bin_y = [last_position_binarization(v) for v in y]
    prefix_x = np.array([b[0] for b in bin_x], dtype=np.intp)
    prefix_y = np.array([b[0] for b in bin_y], dtype=np.intp)
    suffix_bits = np.array([bx[2] + by[2] for bx, by in zip(bin_x, bin_y)], dtype=np.float64)
    sig_ctx = np.array(plan.sig_ctx, dtype=np.intp)          # (sub-blocks, 4 patterns, 16)
    return prefix_x, prefix_y, suffix_bits, sig_ctx


def _context_costs(estimator: RateEstimator) -> tuple[np.ndarray, np.ndarray]:
    """Bits of coding 0 and 1 with every context, from the estimator's current states."""
    snap = estimator.snapshot()
    state9 = (np.asarray(snap.prob1, dtype=np.int64) + (np.asarray(snap.prob0, dtype=np.int64) << 4)) >> 9
    mps_is_one = state9 >= 32
    mps, lps = _MPS_COST[state9], _LPS_COST[state9]
    return np.where(mps_is_one, lps, mps), np.where(mps_is_one, mps, lps)


def _unary_prefix_cost(ctxs: np.ndarray, cmax: int, cost0: np.ndarray, cost1: np.ndarray) -> np.ndarray:
    """Cost of every truncated-unary value 0..cmax with per-bin contexts ``ctxs``."""
    ones = np.concatenate([[0.0], np.cumsum(cost1[ctxs[:cmax]])])
    zeros = np.concatenate([cost0[ctxs[:cmax]], [0.0]])
    return ones + zeros


def rdoq(coeffs: np.ndarray, qp: int, size: int, c_idx: int, lam: float, estimator: RateEstimator,
         bit_depth: int = 8, *, scan_idx: int = SCAN_DIAG, cbf_ctx: int | None = None) -> np.ndarray:
    """RD-optimised levels (N, N) int32 of transform coefficients ``coeffs`` (N, N); a drop-in
    replacement for ``host.encoder.quant.quantize`` in the encoder.

    ``qp`` is the component's QP (without QpBdOffset, as in ``host.quant``) and ``lam`` the Lagrange
    multiplier for SSE at ``bit_depth``.  ``scan_idx`` must be the scan the block will be coded with.
    With ``cbf_ctx`` (the coded_block_flag context the caller will use) the all-zero block competes
    including the cbf cost.  The result may be all zero.
    """
    if size not in (4, 8, 16, 32, 64) or c_idx not in (0, 1, 2) or scan_idx not in (0, 1, 2):
        raise InputError(f"unsupported transform block: size {size}, c_idx {c_idx}, scan {scan_idx}")
    log2_size = size.bit_length() - 1
    block = np.asarray(coeffs)
    if block.shape != (size, size) or not np.issubdtype(block.dtype, np.integer):
        raise InputError(f"coefficients must be a {size}x{size} integer array")
    if not lam > 0:
        raise InputError(f"lambda must be positive, got {lam}")
    qp_prime = qp + qp_bd_offset(bit_depth)
    log2c = coded_log2_size(log2_size)
    plan = scan_plan(log2c, c_idx, scan_idx)
    coded = 1 << log2c
    signed = block[:coded, :coded].reshape(-1)[plan.scan].astype(np.int64)

    scale = QUANT_SCALE[qp_prime % 6]
    q_bits = 14 + qp_prime // 6 + 15 - bit_depth - log2_size
    scaled = np.abs(signed) * scale
    level_round = np.minimum((scaled + (1 << (q_bits - 1))) >> q_bits, LEVEL_MAX)
    nonzero = np.flatnonzero(level_round)
    if nonzero.size == 0:
        return np.zeros((size, size), dtype=np.int32)

    step = 2.0 ** (14 + qp_prime // 6) / scale            # quantisation step in pixel-domain units
    u = scaled / float(1 << q_bits)
    floor = np.minimum(scaled >> q_bits, LEVEL_MAX - 1)
    dist_unit = step * step
    d_zero = u * u * dist_unit
    d_floor = (u - floor) ** 2 * dist_unit
    d_ceil = (u - floor - 1) ** 2 * dist_unit

    rates = BlockRates.of(estimator, lam, cbf_ctx)
    chosen, cost, sig_cost, csbf_cost = _greedy_levels(
        plan, c_idx, scan_idx, int(nonzero[-1]), level_round.tolist(), floor.tolist(), d_zero.tolist(),
        d_floor.tolist(), d_ceil.tolist(), rates)
    last = _best_last_position(plan, c_idx, scan_idx, chosen, cost, sig_cost, csbf_cost, d_zero, rates)
    chosen[last + 1:] = 0
    result = np.zeros(coded * coded, dtype=np.int64)
    result[plan.scan] = np.where(signed < 0, -chosen, chosen)
    out = np.zeros((size, size), dtype=np.int32)
    out[:coded, :coded] = result.reshape(coded, coded)
    return out


@dataclass(frozen=True)
class BlockRates:
    """Lambda-scaled bit costs of coding 0 / 1 with every context, plus the cbf costs."""
    lam: float
    zero: np.ndarray
    one: np.ndarray
    cbf: tuple[float, float]
    bases: ResidualContexts

    @classmethod
    def of(cls, estimator: RateEstimator, lam: float, cbf_ctx: int | None) -> "BlockRates":
        cost0, cost1 = _context_costs(estimator)
        zero, one = lam * cost0, lam * cost1
        cbf = (0.0, 0.0) if cbf_ctx is None else (float(zero[cbf_ctx]), float(one[cbf_ctx]))
        return cls(lam, zero, one, cbf, residual_context_bases(estimator.table))


# Context state of the levels coded so far in a sub-block (RDOQ's pass, or one path of the DQ trellis):
# (greater1Ctx, coefficients so far, a greater1 seen, cRiceParam, the previous coded sub-block had a
# greater1) -- HEVC 9.3.4.2.6/7 and 9.3.3.11.
LEVEL_STATE_START = (1, 0, False, 0, False)


def level_state_entering(info: tuple) -> tuple:
    """A path's context state at the start of the next sub-block."""
    _, count, seen, _, previous = info
    return (1, 0, False, 0, seen if count else previous)


def level_state_after(k: int, info: tuple) -> tuple:
    """A path's context state after coding |level| k >= 1 (as host.residual_coding adapts it)."""
    ctx, count, seen, rice, previous = info
    if count >= 8:
        remaining = True
    elif k > 1:
        remaining, seen, ctx = seen or k > 2, True, 0
    else:
        remaining = False
        if 0 < ctx < 3:
            ctx += 1
    if remaining and k > 3 << rice and rice < 4:
        rice += 1
    return (ctx, count + 1, seen, rice, previous)


class LevelRates:
    """Lambda-scaled bits of |level| k >= 1 and its sign in a path's context state."""

    def __init__(self, rates: BlockRates, c_idx: int):
        bases, chroma = rates.bases, c_idx > 0
        sets = 2 if chroma else 4
        g1 = bases.greater1 + (CHROMA_GREATER1_OFFSET if chroma else 0)
        g2 = bases.greater2 + (CHROMA_GREATER2_OFFSET if chroma else 0)
        self.g1_0 = rates.zero[g1:g1 + 4 * sets].reshape(sets, 4).tolist()
        self.g1_1 = rates.one[g1:g1 + 4 * sets].reshape(sets, 4).tolist()
        self.g2_0 = rates.zero[g2:g2 + sets].tolist()
        self.g2_1 = rates.one[g2:g2 + sets].tolist()
        self.lam = rates.lam
        self.sign = rates.lam * SIGN_BITS

    def cost(self, k: int, info: tuple, base_set: int) -> float:
        ctx, count, seen, rice, previous = info
        if count >= 8:
            return self.sign + self.lam * remaining_bits(k - 1, rice)
        ctx_set = base_set + previous
        if k == 1:
            return self.sign + self.g1_0[ctx_set][ctx]
        if seen:
            return self.sign + self.g1_1[ctx_set][ctx] + self.lam * remaining_bits(k - 2, rice)
        if k == 2:
            return self.sign + self.g1_1[ctx_set][ctx] + self.g2_0[ctx_set]
        return self.sign + self.g1_1[ctx_set][ctx] + self.g2_1[ctx_set] + self.lam * remaining_bits(k - 3, rice)


def _greedy_levels(plan: ScanPlan, c_idx: int, scan_idx: int, last0: int, level_round: list[int],
                   floor: list[int], d_zero: list[float], d_floor: list[float], d_ceil: list[float],
                   rates: BlockRates) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reverse-scan greedy level choice and coded_sub_block_flag zeroing.

    Returns per position the chosen level, its cost (D + lambda R including the sig_coeff_flag; D0
    where nothing is coded) and the lambda-scaled sig_coeff_flag cost inside it, and per sub-block
    the lambda-scaled cost of its coded_sub_block_flag (0 where the flag is inferred).
    """
    bases = rates.bases
    zero, one = rates.zero, rates.one
    chroma = c_idx > 0
    last_sb = last0 >> 4
    sig_ctx = position_tables(plan.log2_size, c_idx, scan_idx)[3][:last_sb + 1] + bases.sig
    sig0_tab = zero[sig_ctx].tolist()
    sig1_tab = one[sig_ctx].tolist()
    levels = LevelRates(rates, c_idx)
    g1_0, g1_1, g2_0, g2_1 = levels.g1_0, levels.g1_1, levels.g2_0, levels.g2_1
    csbf_ctx = bases.csbf + (2 if chroma else 0)
    csbf_0 = zero[csbf_ctx:csbf_ctx + 2].tolist()
    csbf_1 = one[csbf_ctx:csbf_ctx + 2].tolist()
    lam_sign = rates.lam * SIGN_BITS
    lam = rates.lam
    rem_bits = remaining_bits

    num = len(level_round)
    chosen = [0] * num
    cost = list(d_zero)
    sig_cost = [0.0] * num
    csbf_cost = [0.0] * (last_sb + 1)
    stride = plan.grid_stride
    csbf = [0] * (stride * stride)
    prev_had_greater1 = False
    inf = float("inf")

    for i in range(last_sb, -1, -1):
        base = i << 4
        cell = plan.sb_cell[i]
        right, below = csbf[cell + 1], csbf[cell + stride]
        csbf_coded = 0 < i < last_sb
        if csbf_coded and not any(level_round[base:base + 16]):
            csbf_cost[i] = csbf_0[right | below]
            continue
        sig0 = sig0_tab[i][right + 2 * below]
        sig1 = sig1_tab[i][right + 2 * below]
        ctx_set = (0 if (i == 0 or chroma) else 2) + prev_had_greater1
        g1c0, g1c1 = g1_0[ctx_set], g1_1[ctx_set]
        g2c0, g2c1 = g2_0[ctx_set], g2_1[ctx_set]
        state = LEVEL_STATE_START
        for n in range((last0 & 15) if i == last_sb else 15, -1, -1):
            pos = base + n
            rounded = level_round[pos]
            if not rounded:
                cost[pos] += sig0[n]
                sig_cost[pos] = sig0[n]
                continue
            is_last = pos == last0
            best_level = 0
            best = inf if is_last else d_zero[pos] + sig0[n]
            low = floor[pos]
            greater1_ctx, num_sig, seen_greater1, rice, _ = state
            for level, dist in ((low, d_floor[pos]), (low + 1, d_ceil[pos])):
                if level == 0 or dist >= best:
                    continue
                # rate of |level| >= 1 in the current greater1 / greater2 / Rice state
                if num_sig < 8:
                    if level == 1:
                        r = g1c0[greater1_ctx]
                    elif seen_greater1:
                        r = g1c1[greater1_ctx] + lam * rem_bits(level - 2, rice)
                    elif level == 2:
                        r = g1c1[greater1_ctx] + g2c0
                    else:
                        r = g1c1[greater1_ctx] + g2c1 + lam * rem_bits(level - 3, rice)
                else:
                    r = lam * rem_bits(level - 1, rice)
                total = dist + r + lam_sign + (0.0 if is_last else sig1[n])
                if total < best:
                    best, best_level = total, level
            cost[pos] = best
            chosen[pos] = best_level
            if best_level == 0:
                sig_cost[pos] = sig0[n]
                continue
            sig_cost[pos] = 0.0 if is_last else sig1[n]
            state = level_state_after(best_level, state)
        _, num_sig, seen_greater1, _, _ = state
        block_cost = sum(cost[base:base + 16])
        if csbf_coded:
            flag_ctx = right | below
            uncoded = sum(d_zero[base:base + 16]) + csbf_0[flag_ctx]
            if num_sig == 0 or uncoded <= block_cost + csbf_1[flag_ctx]:
                chosen[base:base + 16] = [0] * 16
                cost[base:base + 16] = d_zero[base:base + 16]
                sig_cost[base:base + 16] = [0.0] * 16
                csbf_cost[i] = csbf_0[flag_ctx]
                continue
            csbf_cost[i] = csbf_1[flag_ctx]
        csbf[cell] = 1
        if num_sig:
            prev_had_greater1 = seen_greater1
    return (np.array(chosen, dtype=np.int64), np.array(cost), np.array(sig_cost), np.array(csbf_cost))


def last_position_costs(plan: ScanPlan, c_idx: int, scan_idx: int, rates: BlockRates) -> np.ndarray:
    """Lambda-scaled bits of the last significant position (prefixes and suffixes), per scan position."""
    bases = rates.bases
    prefix_x, prefix_y, suffix_bits, _ = position_tables(plan.log2_size, c_idx, scan_idx)
    cmax = (plan.log2_size << 1) - 1
    rel = np.asarray(plan.last_ctx, dtype=np.intp)
    cost_x = _unary_prefix_cost(bases.last_x + rel, cmax, rates.zero, rates.one)
    cost_y = _unary_prefix_cost(bases.last_y + rel, cmax, rates.zero, rates.one)
    return cost_x[prefix_x] + cost_y[prefix_y] + rates.lam * suffix_bits


def _best_last_position(plan: ScanPlan, c_idx: int, scan_idx: int, chosen: np.ndarray, cost: np.ndarray,
                        sig_cost: np.ndarray, csbf_cost: np.ndarray, d_zero: np.ndarray,
                        rates: BlockRates) -> int:
    """Scan position of the last significant coefficient minimising the block cost (-1: all zero).

    Ending at p removes the sig_coeff_flag of p, leaves every later coefficient uncoded (D0) and
    drops the coded_sub_block_flags of p's sub-block and all later ones.
    """
    candidates = np.flatnonzero(chosen)
    if candidates.size == 0:
        return -1
    last_cost = last_position_costs(plan, c_idx, scan_idx, rates)[candidates]
    csbf_before = np.concatenate([[0.0], np.cumsum(csbf_cost)])[candidates >> 4]
    d_zero_upto = np.cumsum(d_zero)
    total_d_zero = d_zero_upto[-1]
    block_cost = (np.cumsum(cost)[candidates] - sig_cost[candidates] + (total_d_zero - d_zero_upto[candidates])
                  + last_cost + csbf_before + rates.cbf[1])
    best = int(np.argmin(block_cost))
    if total_d_zero + rates.cbf[0] <= block_cost[best]:
        return -1
    return int(candidates[best])
