"""Transform-coefficient coding (HEVC 7.3.8.11 residual_coding, contexts of HEVC 9.3.4.2.3-9.3.4.2.7).

Written once against the ``SyntaxCoder``: the same function writes, parses, or estimates the rate of a
block.  The structure is the normative one; for speed all context selections are precomputed per
(block size, component, scan) into plain Python lists, the block is converted to a list once, and the
bypass-coded parts of a sub-block (signs, Rice/Exp-Golomb codewords) go out as one multi-bin call
when writing.  Blocks of 64x64 code only their top-left 32x32 coefficients (the rest must be zero),
with the 32x32 contexts.  Parsing is bounded: a remaining-level prefix longer than 32 bins or a level
outside the 16-bit range raises ``BitstreamError``.  Sign data hiding (HEVC 7.3.8.11, ``sign_hiding``):
in a sub-block whose first and last significant scan positions are more than 3 apart, the sign of the
first one is not coded but inferred from the parity of the sub-block's sum of absolute levels (odd:
negative).  The writer refuses levels that break the parity (``host.encoder.sign_hiding`` makes
them keep it); the estimator rates any levels as if they kept it, for the encoder's fast trials.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bitstream.contexts import ContextTable
from bitstream.errors import BitstreamError, CodecError
from bitstream.syntax_coder import SyntaxCoder
from host.scan import COEFF_SCAN, MAX_LOG2_TB, MIN_LOG2_TB, SCAN_VER, coded_log2_size

LEVEL_MIN = -32768          # TransCoeffLevel range (16-bit, HEVC 7.4.9.11)
LEVEL_MAX = 32767
SIGN_HIDING_DISTANCE = 3    # a sub-block hides a sign when lastSigScanPos - firstSigScanPos > this
MAX_REMAINING_PREFIX = 32   # longest accepted unary prefix of coeff_abs_level_remaining

# Number of contexts per syntax element (luma followed by chroma).
NUM_LAST_PREFIX_CTX = 18            # 15 luma + 3 chroma
NUM_CSBF_CTX = 4                    # 2 luma + 2 chroma
NUM_SIG_CTX = 42                    # 27 luma + 15 chroma
NUM_GREATER1_CTX = 24               # 4 sets x 4 luma + 2 sets x 4 chroma
NUM_GREATER2_CTX = 6                # 4 luma + 2 chroma
CHROMA_SIG_OFFSET = 27
CHROMA_GREATER1_OFFSET = 16
CHROMA_GREATER2_OFFSET = 4

# HEVC Table 9-41 ctxIdxMap; the 16th entry only fills the table: (3, 3) is the last position whenever
# it is significant, so its flag is never coded.
_CTX_IDX_MAP_4X4 = (0, 1, 4, 5, 2, 3, 4, 5, 6, 6, 8, 8, 7, 7, 8, 8)
_ZEROS = {log2: [0] * (1 << (2 * log2)) for log2 in range(0, 6)}   # "input" of the reader, read-only


def register_residual_contexts(table: ContextTable) -> None:
    """Allocate the residual-coding contexts in ``table`` (idempotent per table)."""
    residual_context_bases(table)


@dataclass(frozen=True)
class ResidualContexts:
    """First context index of each residual syntax element."""
    last_x: int
    last_y: int
    csbf: int
    sig: int
    greater1: int
    greater2: int


_bases_cache: dict[int, tuple[ContextTable, ResidualContexts]] = {}


def residual_context_bases(table: ContextTable) -> ResidualContexts:
    """First context of each residual syntax element in ``table`` (registering them if needed)."""
    hit = _bases_cache.get(id(table))
    if hit is not None and hit[0] is table:
        return hit[1]
    bases = ResidualContexts(
        last_x=table.get_or_add("last_sig_coeff_x_prefix", NUM_LAST_PREFIX_CTX),
        last_y=table.get_or_add("last_sig_coeff_y_prefix", NUM_LAST_PREFIX_CTX),
        csbf=table.get_or_add("coded_sub_block_flag", NUM_CSBF_CTX),
        sig=table.get_or_add("sig_coeff_flag", NUM_SIG_CTX),
        greater1=table.get_or_add("coeff_abs_level_greater1_flag", NUM_GREATER1_CTX),
        greater2=table.get_or_add("coeff_abs_level_greater2_flag", NUM_GREATER2_CTX),
    )
    _bases_cache[id(table)] = (table, bases)
    return bases


# ----------------------------------------------------------------------------------------------
# Context selection (relative to each element's first context), independent of the ContextTable.

def last_prefix_ctx_offsets(log2_size: int, c_idx: int) -> list[int]:
    """Context offset of every bin of last_sig_coeff_{x,y}_prefix (HEVC 9.3.4.2.3)."""
    if c_idx == 0:
        offset, shift = 3 * (log2_size - 2) + ((log2_size - 1) >> 2), (log2_size + 1) >> 2
    else:
        offset, shift = 15, log2_size - 2
    return [offset + (b >> shift) for b in range((log2_size << 1) - 1)]


def sig_ctx_offset(x_c: int, y_c: int, log2_size: int, c_idx: int, scan_idx: int, prev_csbf: int) -> int:
    """ctxInc of sig_coeff_flag at (x_c, y_c) (HEVC 9.3.4.2.5, without transform skip)."""
    if log2_size == 2:
        sig_ctx = _CTX_IDX_MAP_4X4[(y_c << 2) + x_c]
    elif x_c + y_c == 0:
        sig_ctx = 0
    else:
        x_p, y_p = x_c & 3, y_c & 3
        if prev_csbf == 0:
            sig_ctx = 2 if x_p + y_p == 0 else 1 if x_p + y_p < 3 else 0
        elif prev_csbf == 1:
            sig_ctx = 2 if y_p == 0 else 1 if y_p == 1 else 0
        elif prev_csbf == 2:
            sig_ctx = 2 if x_p == 0 else 1 if x_p == 1 else 0
        else:
            sig_ctx = 2
        if c_idx == 0:
            if (x_c >> 2) + (y_c >> 2) > 0:
                sig_ctx += 3
            sig_ctx += (9 if scan_idx == 0 else 15) if log2_size == 3 else 21
        else:
            sig_ctx += 9 if log2_size == 3 else 12
    return sig_ctx if c_idx == 0 else CHROMA_SIG_OFFSET + sig_ctx


def last_position_binarization(value: int) -> tuple[int, int, int]:
    """(prefix, suffix, suffix length) of a last significant coordinate (HEVC 7.4.9.11 inverse)."""
    if value < 4:
        return value, 0, 0
    k = value.bit_length() - 1
    return 2 * k + ((value >> (k - 1)) & 1), value & ((1 << (k - 1)) - 1), k - 1


@dataclass(frozen=True)
class ScanPlan:
    """Context-independent tables of one (coded log2 size, c_idx, scan_idx)."""
    log2_size: int
    scan: np.ndarray              # raster index of each coding-order position
    pos_x: list[int]              # x of each coding-order position
    pos_y: list[int]
    scan_pos_of: list[int]        # inverse: coding-order position of raster index
    sb_cell: list[int]            # sub-block i -> cell in a (W+1)x(W+1) padded csbf grid
    grid_stride: int
    sig_ctx: list[list[list[int]]]  # [sub-block][prev_csbf] -> 16 sig_coeff_flag ctx offsets
    last_ctx: list[int]           # prefix bin -> ctx offset


@lru_cache(maxsize=None)
def scan_plan(log2_size: int, c_idx: int, scan_idx: int) -> ScanPlan:
    scan = COEFF_SCAN[(log2_size, scan_idx)]
    size = 1 << log2_size
    pos_x = (scan % size).tolist()
    pos_y = (scan // size).tolist()
    inverse = np.empty(size * size, dtype=np.intp)
    inverse[scan] = np.arange(size * size)
    width = size >> 2
    stride = width + 1
    sb_cell = [(pos_y[i << 4] >> 2) * stride + (pos_x[i << 4] >> 2) for i in range(width * width)]
    sig_ctx = [
        [[sig_ctx_offset(pos_x[(i << 4) + n], pos_y[(i << 4) + n], log2_size, c_idx, scan_idx, prev)
          for n in range(16)] for prev in range(4)]
        for i in range(width * width)
    ]
    return ScanPlan(log2_size, scan, pos_x, pos_y, inverse.tolist(), sb_cell, stride, sig_ctx,
                    last_prefix_ctx_offsets(log2_size, c_idx))


@dataclass(frozen=True)
class _BoundPlan:
    """A ScanPlan with absolute context indices of one ContextTable."""
    plan: ScanPlan
    last_x_ctx: list[int]
    last_y_ctx: list[int]
    csbf_ctx: int                 # + (right | below)
    sig_ctx: list[list[list[int]]]
    greater1_ctx: int             # + 4 * ctx_set + greater1_ctx
    greater2_ctx: int             # + ctx_set


_bound_cache: dict[tuple[int, int, int, int], tuple[ContextTable, _BoundPlan]] = {}


def _bound_plan(table: ContextTable, log2_size: int, c_idx: int, scan_idx: int) -> _BoundPlan:
    key = (id(table), log2_size, c_idx, scan_idx)
    hit = _bound_cache.get(key)
    if hit is not None and hit[0] is table:
        return hit[1]
    bases = residual_context_bases(table)
    plan = scan_plan(log2_size, c_idx, scan_idx)
    chroma = c_idx > 0
    bound = _BoundPlan(
        plan=plan,
        last_x_ctx=[bases.last_x + o for o in plan.last_ctx],
        last_y_ctx=[bases.last_y + o for o in plan.last_ctx],
        csbf_ctx=bases.csbf + (2 if chroma else 0),
        sig_ctx=[[[bases.sig + o for o in row] for row in per_sb] for per_sb in plan.sig_ctx],
        greater1_ctx=bases.greater1 + (CHROMA_GREATER1_OFFSET if chroma else 0),
        greater2_ctx=bases.greater2 + (CHROMA_GREATER2_OFFSET if chroma else 0),
    )
    _bound_cache[key] = (table, bound)
    return bound


# ----------------------------------------------------------------------------------------------
# coeff_abs_level_remaining binarization (HEVC 9.3.3.11): Rice prefix, Exp-Golomb escape.

def remaining_codeword(value: int, rice: int) -> tuple[int, int]:
    """(bits, length) of coeff_abs_level_remaining = value with Rice parameter ``rice``."""
    if value < (4 << rice):
        prefix = value >> rice
        return (((1 << (prefix + 1)) - 2) << rice) | (value & ((1 << rice) - 1)), prefix + 1 + rice
    value -= 4 << rice
    k = rice + 1
    ones = 4
    while value >= (1 << k):
        value -= 1 << k
        k += 1
        ones += 1
    return (((1 << (ones + 1)) - 2) << k) | value, ones + 1 + k


def remaining_length(value: int, rice: int) -> int:
    """Bits of coeff_abs_level_remaining = value (for rate estimation)."""
    return remaining_codeword(value, rice)[1]


def _read_remaining(sc: SyntaxCoder, rice: int) -> int:
    ones = sc.bypass_unary(0, MAX_REMAINING_PREFIX + 1)
    if ones > MAX_REMAINING_PREFIX:
        raise BitstreamError("coeff_abs_level_remaining prefix too long")
    if ones < 4:
        return (ones << rice) + (sc.bypass_bits(0, rice) if rice else 0)
    k = rice + 1 + ones - 4
    escape_base = (4 << rice) + (1 << k) - (1 << (rice + 1))
    return escape_base + sc.bypass_bits(0, k)


# ----------------------------------------------------------------------------------------------

def residual_coding(sc: SyntaxCoder, coeffs: np.ndarray | None, log2_size: int, c_idx: int,
                    scan_idx: int, sign_hiding: bool = False) -> np.ndarray:
    """Code one transform block's levels; return them as an (N, N) int32 array.  ``sign_hiding``:
    the block's signs follow sign data hiding (SignHidden, see the module docstring).

    Writing/estimating: ``coeffs`` holds the levels, with at least one non-zero (coded_block_flag is
    the caller's).  Reading: ``coeffs`` is ignored and the parsed levels are returned.
    """
    if not MIN_LOG2_TB <= log2_size <= MAX_LOG2_TB or c_idx not in (0, 1, 2) or scan_idx not in (0, 1, 2):
        raise CodecError(f"unsupported transform block: log2 size {log2_size}, c_idx {c_idx}, scan {scan_idx}")
    log2c = coded_log2_size(log2_size)
    bp = _bound_plan(sc.table, log2c, c_idx, scan_idx)
    plan = bp.plan
    reading = sc.reading
    num_coded = 1 << (2 * log2c)
    if reading:
        levels = sig_in_all = _ZEROS[log2c]
        sb_coded_in = _ZEROS[log2c - 2]
        last_x_in = last_y_in = 0
    else:
        levels, sig_in_all, sb_coded_in, last_in = _levels_in_scan_order(coeffs, log2_size, log2c, plan)
        last_x_in, last_y_in = plan.pos_x[last_in], plan.pos_y[last_in]
        if scan_idx == SCAN_VER:
            last_x_in, last_y_in = last_y_in, last_x_in

    decision = sc.decision
    bypass_bits = sc.bypass_bits
    tracing = _tracing(sc)
    trace = sc.trace
    sc.category = "coeff"

    # Last significant position: prefixes (context-coded TR), then suffixes (fixed length, bypass).
    cmax = (log2c << 1) - 1
    px_in, sx_in, _ = last_position_binarization(last_x_in)
    py_in, sy_in, _ = last_position_binarization(last_y_in)
    px = sc.tu(px_in, cmax, bp.last_x_ctx)
    py = sc.tu(py_in, cmax, bp.last_y_ctx)
    if tracing:
        trace("last_sig_coeff_x_prefix", px, c_idx=c_idx)
        trace("last_sig_coeff_y_prefix", py, c_idx=c_idx)
    last_x, last_y = px, py
    if px > 3:
        sx = sc.fl(sx_in, (px >> 1) - 1)
        last_x = (1 << ((px >> 1) - 1)) * (2 + (px & 1)) + sx
        if tracing:
            trace("last_sig_coeff_x_suffix", sx, c_idx=c_idx)
    if py > 3:
        sy = sc.fl(sy_in, (py >> 1) - 1)
        last_y = (1 << ((py >> 1) - 1)) * (2 + (py & 1)) + sy
        if tracing:
            trace("last_sig_coeff_y_suffix", sy, c_idx=c_idx)
    if scan_idx == SCAN_VER:
        last_x, last_y = last_y, last_x
    last_pos = plan.scan_pos_of[(last_y << log2c) + last_x]

    out = [0] * num_coded
    pos_x, pos_y = plan.pos_x, plan.pos_y
    stride = plan.grid_stride
    csbf = [0] * (stride * stride)
    sb_cell = plan.sb_cell
    sig_ctx_tab = bp.sig_ctx
    csbf_ctx = bp.csbf_ctx
    g1_base_ctx = bp.greater1_ctx
    g2_base_ctx = bp.greater2_ctx
    luma = c_idx == 0
    prev_had_greater1 = False
    last_sb = last_pos >> 4

    for i in range(last_sb, -1, -1):
        base = i << 4
        cell = sb_cell[i]
        right = csbf[cell + 1]
        below = csbf[cell + stride]
        infer_dc = False
        if 0 < i < last_sb:
            flag = decision(csbf_ctx + (right | below), sb_coded_in[i])
            if tracing:
                trace("coded_sub_block_flag", flag, c_idx=c_idx, xS=pos_x[base] >> 2, yS=pos_y[base] >> 2)
            if not flag:
                continue
            infer_dc = True
        csbf[cell] = 1

        # sig_coeff_flag, reverse scan; the last position and an all-alone DC are inferred.
        sig_ctx = sig_ctx_tab[i][right + 2 * below]
        sig_in = sig_in_all[base:base + 16]
        if i == last_sb:
            sig_n = [last_pos & 15]
            start = (last_pos & 15) - 1
        else:
            sig_n = []
            start = 15
        for n in range(start, 0, -1):
            s = decision(sig_ctx[n], sig_in[n])
            if tracing:
                trace("sig_coeff_flag", s, c_idx=c_idx, xC=pos_x[base + n], yC=pos_y[base + n])
            if s:
                sig_n.append(n)
        if start >= 0:
            if infer_dc and not sig_n:
                sig_n.append(0)
            else:
                s = decision(sig_ctx[0], sig_in[0])
                if tracing:
                    trace("sig_coeff_flag", s, c_idx=c_idx, xC=pos_x[base], yC=pos_y[base])
                if s:
                    sig_n.append(0)

        num_sig = len(sig_n)
        abs_in = [0] * num_sig if reading else [abs(levels[base + n]) for n in sig_n]

        # coeff_abs_level_greater1_flag for the first 8, greater2 for the first greater1.
        ctx_set = 0 if (i == 0 or not luma) else 2
        if prev_had_greater1:
            ctx_set += 1
        g1_ctx_base = g1_base_ctx + 4 * ctx_set
        greater1_ctx = 1
        first_g1 = -1
        base_level = [1] * num_sig
        for j in range(min(8, num_sig)):
            f = decision(g1_ctx_base + greater1_ctx, 1 if abs_in[j] > 1 else 0)
            if tracing:
                n = sig_n[j]
                trace("coeff_abs_level_greater1_flag", f, c_idx=c_idx, xC=pos_x[base + n], yC=pos_y[base + n])
            if f:
                base_level[j] = 2
                greater1_ctx = 0
                if first_g1 < 0:
                    first_g1 = j
            elif 0 < greater1_ctx < 3:
                greater1_ctx += 1
        prev_had_greater1 = first_g1 >= 0
        if first_g1 >= 0:
            f = decision(g2_base_ctx + ctx_set, 1 if abs_in[first_g1] > 2 else 0)
            if tracing:
                n = sig_n[first_g1]
                trace("coeff_abs_level_greater2_flag", f, c_idx=c_idx, xC=pos_x[base + n], yC=pos_y[base + n])
            base_level[first_g1] = 2 + f

        # coeff_sign_flag, all signs of the sub-block as one bypass run (first sig coefficient = MSB);
        # with SignHidden the sign at firstSigScanPos (the last of sig_n) is not coded.
        sign_hidden = sign_hiding and num_sig > 1 and sig_n[0] - sig_n[-1] > SIGN_HIDING_DISTANCE
        num_signs = num_sig - sign_hidden
        signs_in = 0
        if not reading:
            for n in sig_n[:num_signs]:
                signs_in = (signs_in << 1) | (levels[base + n] < 0)
            if sign_hidden and sc.writing and (sum(abs_in) & 1) != (levels[base + sig_n[-1]] < 0):
                raise CodecError("levels break the sign data hiding parity of their sub-block")
        signs = bypass_bits(signs_in, num_signs)
        if tracing:
            for j, n in enumerate(sig_n[:num_signs]):
                trace("coeff_sign_flag", (signs >> (num_signs - 1 - j)) & 1, c_idx=c_idx,
                      xC=pos_x[base + n], yC=pos_y[base + n])

        # coeff_abs_level_remaining with HEVC's adaptive Rice parameter.
        rice = 0
        sum_abs_level = 0
        for j in range(num_sig):
            level = base_level[j]
            threshold = (3 if j == first_g1 else 2) if j < 8 else 1
            if level == threshold:
                if reading:
                    rem = _read_remaining(sc, rice)
                else:
                    rem = abs_in[j] - level
                    bits, length = remaining_codeword(rem, rice)
                    bypass_bits(bits, length)
                if tracing:
                    n = sig_n[j]
                    trace("coeff_abs_level_remaining", rem, c_idx=c_idx, xC=pos_x[base + n], yC=pos_y[base + n])
                level += rem
                if level > 3 << rice and rice < 4:
                    rice += 1
            sum_abs_level += level
            if (sum_abs_level & 1 if j == num_signs else (signs >> (num_signs - 1 - j)) & 1):
                if level > -LEVEL_MIN:
                    raise BitstreamError("coefficient level outside the 16-bit range")
                level = -level
            elif level > LEVEL_MAX:
                raise BitstreamError("coefficient level outside the 16-bit range")
            out[base + sig_n[j]] = level

    if not reading:
        return np.array(coeffs, dtype=np.int32)
    return _levels_to_block(out, plan, log2_size)


def _levels_in_scan_order(coeffs: np.ndarray, log2_size: int, log2c: int,
                          plan: ScanPlan) -> tuple[list[int], list[int], list[int], int]:
    """Levels, significance (0/1) in coding order, coded flag per sub-block, last position; the lists
    stop after the sub-block holding the last position (nothing beyond it is coded)."""
    block = coeffs if isinstance(coeffs, np.ndarray) else np.asarray(coeffs)
    size = 1 << log2_size
    if block.shape != (size, size) or block.dtype.kind not in "iu":
        raise CodecError(f"expected a {size}x{size} integer block, got {block.shape} {block.dtype}")
    if log2c < log2_size:
        coded = 1 << log2c
        if block[coded:, :].any() or block[:coded, coded:].any():
            raise CodecError("non-zero coefficient outside the coded 32x32 region")
        block = block[:coded, :coded]
    scanned = block.reshape(-1)[plan.scan]
    nonzero = scanned != 0
    positions = np.flatnonzero(nonzero)
    if not positions.size:
        raise CodecError("residual_coding needs at least one non-zero level")
    last = int(positions[-1])
    end = (last | 15) + 1
    nonzero = nonzero[:end]
    sb_coded = nonzero.reshape(-1, 16).any(axis=1).view(np.int8)
    return scanned[:end].tolist(), nonzero.view(np.int8).tolist(), sb_coded.tolist(), last


def _levels_to_block(out: list[int], plan: ScanPlan, log2_size: int) -> np.ndarray:
    coded = 1 << plan.log2_size
    flat = np.zeros(coded * coded, dtype=np.int32)
    flat[plan.scan] = out
    block = flat.reshape(coded, coded)
    if plan.log2_size == log2_size:
        return block
    full = np.zeros((1 << log2_size, 1 << log2_size), dtype=np.int32)
    full[:coded, :coded] = block
    return full


def _tracing(sc: SyntaxCoder) -> bool:
    return sc.trace_sink is not None
