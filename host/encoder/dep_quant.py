"""Dependent quantisation (encoder only): a Viterbi trellis over the 4-state parity chain of
``host.quant.dequantize_dependent_unchecked``.

Levels are chosen in coding order (reverse scan) for every state at once: each state keeps its
cheapest path, J = D + lambda R, where a level k taken in state s moves to state (0 2, 2 0, 1 3, 3 1)[s][k & 1]
and is reconstructed by Q0 (even half steps 2k) in states 0 and 1, by Q1 (odd half steps 2k - sgn k)
in states 2 and 3.  A path may start (its last significant coefficient) at any position, in state 0,
paying the last-position bits instead of the sig_coeff_flag, and may pass a whole sub-block with
coded_sub_block_flag = 0 (sixteen zeros leave the state unchanged).  Rates come from the estimator's
current context states as in RDOQ (``host.encoder.rdoq``): sig_coeff_flag and coded_sub_block_flag
contexts from the neighbouring sub-blocks of a first rounding; greater1/greater2 contexts and the Rice
parameter follow each surviving path, as HEVC adapts them (without that the trellis lost ~1% to RDOQ).
"""
from __future__ import annotations

import numpy as np

from bitstream.syntax_coder import RateEstimator
from host.encoder.quant import QUANT_SCALE
from host.encoder.rdoq import (LEVEL_STATE_START, BlockRates, LevelRates, last_position_costs, level_state_after,
                               level_state_entering, position_tables)
from host.quant import LEVEL_SCALE, qp_bd_offset
from host.residual_coding import LEVEL_MAX, scan_plan
from host.scan import coded_log2_size

_NEXT_STATE = ((0, 2), (2, 0), (1, 3), (3, 1))
ZERO_ONLY = 0.3     # half steps; measured: no loss against trying every position, about a third of the time
_INF = float("inf")


def half_step_ratio(qp_prime: int) -> float:
    """Dependent quantisation's half step (that of qP' + 1, halved) in units of the step of qP'."""
    up, here = qp_prime + 1, qp_prime
    return (LEVEL_SCALE[up % 6] << (up // 6)) / (LEVEL_SCALE[here % 6] << (here // 6)) / 2


def dep_quant(coeffs: np.ndarray, qp: int, size: int, c_idx: int, lam: float, estimator: RateEstimator,
              bit_depth: int, *, scan_idx: int, cbf_ctx: int | None = None) -> np.ndarray:
    """Levels (N, N) int32 for dependent dequantisation of transform coefficients ``coeffs`` (N, N),
    coded with ``scan_idx``; arguments as ``host.encoder.rdoq.rdoq``.  The result may be all zero."""
    log2_size = size.bit_length() - 1
    qp_prime = qp + qp_bd_offset(bit_depth)
    log2c = coded_log2_size(log2_size)
    plan = scan_plan(log2c, c_idx, scan_idx)
    coded = 1 << log2c
    signed = np.asarray(coeffs)[:coded, :coded].reshape(-1)[plan.scan].astype(np.int64)
    scale = QUANT_SCALE[qp_prime % 6]
    q_bits = 14 + qp_prime // 6 + 15 - bit_depth - log2_size
    g = half_step_ratio(qp_prime)
    v = np.abs(signed) * (scale / float(1 << q_bits) / g)       # magnitude in half steps
    codable = np.flatnonzero(v > 0.5)                           # Q1's first level beats zero
    if codable.size == 0:
        return np.zeros((size, size), dtype=np.int32)
    s_max = int(codable[-1])
    unit = (g * 2.0 ** (14 + qp_prime // 6) / scale) ** 2       # D of one half step, pixel-domain SSE
    rates = BlockRates.of(estimator, lam, cbf_ctx)
    patterns = _sub_block_patterns(plan, v, s_max)
    sig0, sig1 = _sig_rates(plan, c_idx, scan_idx, patterns, rates)
    levels = LevelRates(rates, c_idx)
    last_cost = last_position_costs(plan, c_idx, scan_idx, rates).tolist()
    csbf0, csbf1 = _csbf_rates(c_idx, patterns, rates)
    v_list = v[:s_max + 1].tolist()
    chroma = c_idx > 0

    cost = [_INF] * 4
    info: list[tuple] = [LEVEL_STATE_START] * 4           # per state: its path's greater1/Rice context state
    back: list[list[tuple[int, int] | None]] = []
    skipped: dict[int, list[bool]] = {}
    not_started = 0.0
    entry, entry_info, entry_d_zero = cost, info, 0.0
    for s in range(s_max, -1, -1):
        vs = v_list[s]
        d_zero = vs * vs * unit
        if s & 15 == 15:                            # entering a sub-block: HEVC's per-sub-block contexts
            info = [level_state_entering(i) for i in info]
            if s >> 4:                              # its coded_sub_block_flag is coded
                entry, entry_info, entry_d_zero = cost, info, 0.0
                cost = [c + csbf1[s >> 4] for c in cost]
        z0, z1 = sig0[s], sig1[s]
        q0, q1 = _candidates(vs, unit)
        if not q0 and not q1:                       # only zero can win here: a fixed state permutation
            zero = d_zero + z0
            cost = [cost[0] + zero, cost[2] + zero, cost[1] + zero, cost[3] + zero]
            info = [info[0], info[2], info[1], info[3]]
            back.append(_ZERO_STEP)
            not_started += d_zero
            entry_d_zero += d_zero
            if s & 15 == 0 and s:
                cost, info = _skip_sub_block(s, cost, info, entry, entry_info, entry_d_zero + csbf0[s >> 4],
                                             skipped)
            continue
        base_set = 0 if (s < 16 or chroma) else 2
        new = [_INF] * 4
        new_info: list[tuple] = [LEVEL_STATE_START] * 4
        step: list[tuple[int, int] | None] = [None] * 4
        for state in range(4):
            c = cost[state]
            if c == _INF:
                continue
            here = info[state]
            zero = c + d_zero + z0
            target = _NEXT_STATE[state][0]
            if zero < new[target]:
                new[target], step[target], new_info[target] = zero, (state, 0), here
            for k, dist in (q1 if state > 1 else q0):
                total = c + dist + z1 + levels.cost(k, here, base_set)
                target = _NEXT_STATE[state][k & 1]
                if total < new[target]:
                    new[target], step[target], new_info[target] = total, (state, k), level_state_after(k, here)
        start = not_started + last_cost[s]
        for k, dist in q0:                          # this position as the last significant one
            total = start + dist + levels.cost(k, LEVEL_STATE_START, base_set)
            target = _NEXT_STATE[0][k & 1]
            if total < new[target]:
                new[target], step[target], new_info[target] = total, (-1, k), level_state_after(k, LEVEL_STATE_START)
        not_started += d_zero
        entry_d_zero += d_zero
        back.append(step)
        cost, info = new, new_info
        if s & 15 == 0 and s:
            cost, info = _skip_sub_block(s, cost, info, entry, entry_info, entry_d_zero + csbf0[s >> 4], skipped)

    best_state = min(range(4), key=cost.__getitem__)
    if not_started + rates.cbf[0] <= cost[best_state] + rates.cbf[1]:
        return np.zeros((size, size), dtype=np.int32)
    chosen = np.zeros(coded * coded, dtype=np.int64)
    state, s = best_state, 0
    while s <= s_max:                               # backtrack from the DC up to the path's start
        if s & 15 == 0 and skipped.get(s >> 4, (False,) * 4)[state]:
            s += 16                                 # a skipped sub-block: zeros, same state
            continue
        prev, k = back[s_max - s][state]
        chosen[s] = k
        if prev < 0:
            break
        state, s = prev, s + 1
    result = np.zeros(coded * coded, dtype=np.int64)
    result[plan.scan] = np.where(signed < 0, -chosen, chosen)
    out = np.zeros((size, size), dtype=np.int32)
    out[:coded, :coded] = result.reshape(coded, coded)
    return out


def _csbf_rates(c_idx: int, patterns: list[int], rates: BlockRates) -> tuple[list, list]:
    """Lambda-scaled cost of coded_sub_block_flag 0 / 1 per sub-block, context from the right and
    below sub-blocks' ``patterns``."""
    ctx = rates.bases.csbf + (2 if c_idx else 0) + np.minimum(patterns, 1)
    return rates.zero[ctx].tolist(), rates.one[ctx].tolist()


def _sub_block_patterns(plan, v: np.ndarray, s_max: int) -> list[int]:
    """Per sub-block up to s_max's: right + 2 * below, where a sub-block counts as coded when a first
    rounding leaves a level there (one Q0 step or more), and s_max's sub-block always."""
    num_sb = (s_max >> 4) + 1
    stride = plan.grid_stride
    grid = [0] * (stride * stride)
    occupied = (v[:num_sb << 4].reshape(num_sb, 16) >= 1.5).any(axis=1).tolist()
    patterns = [0] * num_sb
    for i in range(num_sb - 1, -1, -1):
        cell = plan.sb_cell[i]
        patterns[i] = grid[cell + 1] + 2 * grid[cell + stride]
        grid[cell] = int(occupied[i] or i == num_sb - 1)
    return patterns


_ZERO_STEP = [(0, 0), (2, 0), (1, 0), (3, 0)]      # the step into each state when every level is 0


def _skip_sub_block(s: int, cost: list, info: list, entry: list, entry_info: list, skip_cost: float,
                    skipped: dict) -> tuple[list, list]:
    """At the end (DC) of sub-block s >> 4: each state may instead have come through the sub-block with
    coded_sub_block_flag = 0 -- sixteen zeros, whose parities leave the state as it was on entry."""
    flags = [e + skip_cost < c for e, c in zip(entry, cost)]
    skipped[s >> 4] = flags
    return ([e + skip_cost if f else c for e, c, f in zip(entry, cost, flags)],
            [ei if f else i for ei, i, f in zip(entry_info, info, flags)])


def _candidates(v: float, unit: float) -> tuple[list, list]:
    """Non-zero candidates (k, D) of Q0 (2k half steps) and Q1 (2k - 1).  None below ZERO_ONLY half
    steps, whose non-zero levels are too far to pay even for a parity change; an even k farther than
    zero is dropped too (zero leads to the same state with fewer bits)."""
    if v < ZERO_ONLY:
        return [], []
    d_zero = v * v
    q0, q1 = [], []
    k0 = int(v) >> 1
    for k in (k0, k0 + 1):
        e = (v - 2 * k) ** 2
        if 0 < k <= LEVEL_MAX and (k & 1 or e < d_zero):
            q0.append((k, e * unit))
    k1 = max(1, int(v + 1) >> 1)
    for k in (k1, k1 + 1):
        e = (v - 2 * k + 1) ** 2
        if k <= LEVEL_MAX and (k & 1 or e < d_zero):
            q1.append((k, e * unit))
    return q0, q1


def _sig_rates(plan, c_idx: int, scan_idx: int, patterns: list[int], rates: BlockRates):
    """Lambda-scaled sig_coeff_flag costs (0, 1) per scan position of the sub-blocks of ``patterns``."""
    num_sb = len(patterns)
    sig_ctx = position_tables(plan.log2_size, c_idx, scan_idx)[3][np.arange(num_sb), patterns] + rates.bases.sig
    return rates.zero[sig_ctx].reshape(-1).tolist(), rates.one[sig_ctx].reshape(-1).tolist()
