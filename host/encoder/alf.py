"""The adaptive loop filter's decisions (encoder-only): Wiener filters, class merging, CTU flags, modes.

Per component, the least-squares (Wiener) filter of the coding error is found from the normal
equations of the filter taps, accumulated per luma class band by band.  Luma classes are merged
greedily (the pair whose merge raises the SSE least) down to one filter, and the number of filters
with the lowest J = SSE + lambda * (coefficient and index bits) is kept.  The picture is filtered with
it, per-CTU flags are decided on the SSE each CTU saves, the filters are fitted again on the CTUs
that keep them, and each component takes the cheapest of off, on everywhere and per-CTU flags.  The
final samples come from the normative ``alf_picture``, so the encoder's reconstruction is the decoder's.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bitstream.container import CHROMA_400, CHROMA_420, NN_LF_ALL_CTUS, NN_LF_OFF, NN_LF_PER_CTU, PictureHeader
from bitstream.header_coder import se_bits
from bitstream.syntax_coder import RateEstimator
from host.alf import (ALF_BAND, ALF_CHROMA_TAPS, ALF_COEFF_SHIFT, ALF_LUMA_TAPS, ALF_NUM_CLASSES, AlfCtbFlags,
                      alf_picture, classify, filter_band, luma_coefficients, tap_sums)
from host.contexts import CONTEXT_TABLE, HOST_CONTEXTS
from host.encoder.ctb_flags import ctu_gains, decide_ctb_flags

ONE = 1 << ALF_COEFF_SHIFT
MODE_BITS = 2


@dataclass(frozen=True)
class AlfSearchConfig:
    ctu_flags: bool = True        # allow per-CTU alf_ctb_flag (otherwise a component is off or on everywhere)
    chroma: bool = True           # filter Cb and Cr too
    max_filters: int = ALF_NUM_CLASSES


@dataclass
class Normal:
    """Normal equations of one filter: sum of t t^T, of t e and of e^2 over its samples."""
    a: np.ndarray
    b: np.ndarray
    ee: float

    def __add__(self, other: "Normal") -> "Normal":
        return Normal(self.a + other.a, self.b + other.b, self.ee + other.ee)

    def solve(self) -> np.ndarray:
        """Integer coefficients (1/128 units) of the least-squares filter."""
        n = len(self.b)
        try:
            c = np.linalg.solve(self.a + 1e-6 * np.trace(self.a) / n * np.eye(n) + 1e-9 * np.eye(n), self.b)
        except np.linalg.LinAlgError:
            c = np.zeros(n)
        return np.clip(np.round(c * ONE), -127, 127).astype(np.int64)

    def sse(self, coeff: np.ndarray) -> float:
        """The SSE after the filter (rounding of the filter output aside)."""
        c = coeff / ONE
        return float(self.ee - 2 * c @ self.b + c @ self.a @ c)


def statistics(plane: np.ndarray, original: np.ndarray, taps, keep: np.ndarray, block: int,
               classes=None) -> list[Normal]:
    """Normal equations per class (one entry without ``classes``) over the CTUs (``block`` square) in
    ``keep``; ``classes(r0, r1)`` gives the class of every sample of a band."""
    n = len(taps)
    count = ALF_NUM_CLASSES if classes is not None else 1
    out = [Normal(np.zeros((n, n)), np.zeros(n), 0.0) for _ in range(count)]
    for r0 in range(0, plane.shape[0], ALF_BAND):
        r1 = min(r0 + ALF_BAND, plane.shape[0])
        on = np.repeat(keep[np.arange(r0, r1) // block], block, axis=1)[:, :plane.shape[1]]
        sel = on
        if not sel.any():
            continue
        t = tap_sums(plane, r0, r1, taps)[:, sel].astype(np.float64)
        e = (original[r0:r1].astype(np.float64) - plane[r0:r1])[sel]
        k = classes(r0, r1)[sel] if classes is not None else np.zeros(e.size, dtype=np.int64)
        order = np.argsort(k, kind="stable")
        bounds = np.searchsorted(k[order], np.arange(count + 1))
        t, e = t[:, order], e[order]
        for cls in range(count):
            lo, hi = bounds[cls], bounds[cls + 1]
            if hi > lo:
                tc, ec = t[:, lo:hi], e[lo:hi]
                out[cls] = out[cls] + Normal(tc @ tc.T, tc @ ec, float(ec @ ec))
    return out


def coeff_bits(coeff) -> int:
    return sum(se_bits(int(v)) for v in coeff)


def merge_classes(stats: list[Normal], lam: float, max_filters: int) -> tuple[tuple[int, ...], list[np.ndarray], float]:
    """(filter index of each class, the filters, J) with the number of filters of the lowest J."""
    groups = {(k,): stats[k] for k in range(len(stats))}
    fitted = {g: _fit(s) for g, s in groups.items()}
    best = None
    while True:
        if len(groups) <= max_filters:
            filters = sorted(groups)
            idx_bits = ALF_NUM_CLASSES * (len(filters) - 1).bit_length()
            bits = 5 + idx_bits + sum(coeff_bits(fitted[g][0]) for g in filters)
            cost = sum(fitted[g][1] for g in filters) + lam * bits
            if best is None or cost < best[2]:
                index = [0] * ALF_NUM_CLASSES
                for f, g in enumerate(filters):
                    for k in g:
                        index[k] = f
                best = (tuple(index), [fitted[g][0] for g in filters], cost)
        if len(groups) == 1:
            return best
        keys = list(groups)
        merge = None
        for i in range(len(keys)):
            for j in range(i + 1, len(keys)):
                joined = groups[keys[i]] + groups[keys[j]]
                fit = _fit(joined)
                rise = fit[1] - fitted[keys[i]][1] - fitted[keys[j]][1]
                if merge is None or rise < merge[0]:
                    merge = (rise, keys[i], keys[j], joined, fit)
        _, a, b, joined, fit = merge
        for g in (a, b):
            del groups[g], fitted[g]
        key = tuple(sorted(a + b))
        groups[key], fitted[key] = joined, fit


def _fit(s: Normal) -> tuple[np.ndarray, float]:
    c = s.solve()
    return c, s.sse(c)


def _filtered_rows(plane: np.ndarray, filters, index, bit_depth: int, taps):
    """``rows(r0, r1)``: the rows r0..r1 of ``plane`` after the given filters (r0, r1 multiples of 4)."""
    luma = _LumaFilters(index, filters) if index is not None else None

    def rows(r0: int, r1: int) -> np.ndarray:
        coeffs = filters[0] if luma is None else luma_coefficients(classify(plane, r0, r1, bit_depth), luma)
        return filter_band(plane, r0, r1, coeffs, bit_depth, taps)
    return rows


@dataclass
class _LumaFilters:
    """The two header fields ``luma_coefficients`` reads, before a header exists."""
    alf_luma_coeff_delta_idx: tuple[int, ...]
    alf_luma_coeff: list[np.ndarray]


def decide(header: PictureHeader, original: list[np.ndarray], planes: list[np.ndarray], lam: float,
           cfg: AlfSearchConfig = AlfSearchConfig()) -> tuple[PictureHeader, AlfCtbFlags | None, list[np.ndarray], dict]:
    """(header with the ALF fields, CTU flags or None, output planes, decision statistics)."""
    ctu, bd = header.CtbSizeY, header.BitDepth
    rows, cols = -(-planes[0].shape[0] // ctu), -(-planes[0].shape[1] // ctu)
    chroma = header.chroma_format_idc != CHROMA_400 and cfg.chroma
    est = RateEstimator(CONTEXT_TABLE, header.pic_qp, header.context_init_flag)
    modes, flags = [NN_LF_OFF] * 3, np.zeros((3, rows, cols), dtype=np.uint8)
    fields: dict = {}
    stats, delta = {}, 0.0
    for c in ((0, 1, 2) if chroma else (0,)):
        plane, orig = planes[c], original[c]
        block = ctu if c == 0 or header.chroma_format_idc != CHROMA_420 else ctu // 2
        keep = np.ones((rows, cols), dtype=bool)
        for _ in range(2):                      # fit on every CTU, then on the CTUs that keep the filter
            if c == 0:
                normal = statistics(plane, orig, ALF_LUMA_TAPS, keep, block,
                                    lambda r0, r1: _class_map(plane, r0, r1, bd))
                index, filters, _ = merge_classes(normal, lam, cfg.max_filters)
                param_bits = 5 + ALF_NUM_CLASSES * (len(filters) - 1).bit_length() + sum(map(coeff_bits, filters))
                taps = ALF_LUMA_TAPS
            else:
                index, filters = None, [statistics(plane, orig, ALF_CHROMA_TAPS, keep, block)[0].solve()]
                param_bits = coeff_bits(filters[0])
                taps = ALF_CHROMA_TAPS
            gain = ctu_gains(orig, plane, _filtered_rows(plane, filters, index, bd, taps), block)
            keep = gain > 0
            if not keep.any():
                break
        chosen, flag_bits = decide_ctb_flags(est, HOST_CONTEXTS.alf_ctb_flag + 3 * c, gain, lam)
        candidates = {NN_LF_OFF: 0.0, NN_LF_ALL_CTUS: -float(gain.sum()) + lam * param_bits}
        if cfg.ctu_flags:
            candidates[NN_LF_PER_CTU] = -float(gain[chosen == 1].sum()) + lam * (param_bits + flag_bits)
        modes[c] = min(candidates, key=candidates.get)
        delta += candidates[modes[c]] + lam * MODE_BITS
        flags[c] = chosen if modes[c] == NN_LF_PER_CTU else int(modes[c] == NN_LF_ALL_CTUS)
        name = ("luma", "cb", "cr")[c]
        stats[name] = {"mode": modes[c], "ctus_on": float(flags[c].mean()), "delta_J": candidates[modes[c]],
                       "filters": len(filters) if modes[c] else 0}
        if modes[c] == NN_LF_OFF:
            continue
        coeff = [tuple(int(v) for v in f) for f in filters]
        if c == 0:
            fields.update(alf_luma_num_filters_signalled_minus1=len(coeff) - 1, alf_luma_coeff_delta_idx=index,
                          alf_luma_coeff=tuple(coeff))
        else:
            fields[("", "alf_cb_coeff", "alf_cr_coeff")[c]] = coeff[0]
    if delta + lam >= 0:
        return header, None, planes, {"enabled": False, **stats}
    header = replace(header, alf_enabled_flag=True, alf_luma_mode=modes[0], alf_cb_mode=modes[1],
                     alf_cr_mode=modes[2], **fields)
    alf = AlfCtbFlags(tuple(modes), flags)
    return header, alf, alf_picture(planes, header, alf), {"enabled": True, **stats}


def _class_map(plane: np.ndarray, r0: int, r1: int, bit_depth: int) -> np.ndarray:
    """The class of every sample of luma rows r0..r1."""
    blocks = classify(plane, r0, r1, bit_depth)
    return np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)[:r1 - r0, :plane.shape[1]]
