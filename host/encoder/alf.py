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

from bitstream.container import (ALF_CHROMA_COEFFS, ALF_LUMA_COEFFS, CHROMA_400, CHROMA_420, NN_LF_ALL_CTUS,
                                 NN_LF_OFF, NN_LF_PER_CTU, PictureHeader)
from bitstream.header_coder import se_bits
from bitstream.syntax_coder import RateEstimator
from host.alf import (ALF_BAND, ALF_CHROMA_TAPS, ALF_CLIP, ALF_COEFF_SHIFT, ALF_LUMA_TAPS, ALF_NUM_CLASSES,
                      AlfCtbFlags, alf_picture, classify, clip_values, filter_band, tap_pairs)
from host.contexts import CONTEXT_TABLE, HOST_CONTEXTS
from host.encoder.ctb_flags import ctu_gains, decide_ctb_flags

ONE = 1 << ALF_COEFF_SHIFT
CLIPS = 4                         # clip indices per tap
STATS_SAMPLES = 1 << 14           # samples per band of statistics: 48 float64 rows of them, ~6 MB at most
MODE_BITS = 2


@dataclass(frozen=True)
class AlfSearchConfig:
    ctu_flags: bool = True        # allow per-CTU alf_ctb_flag (otherwise a component is off or on everywhere)
    chroma: bool = True           # filter Cb and Cr too
    max_filters: int = ALF_NUM_CLASSES
    clipping: bool = True         # non-linear ALF: clip indices searched (otherwise all 0, linear filters)


@dataclass
class Normal:
    """Normal equations of one filter over its samples, for every tap and clip index: t[4j + i] is tap
    j's clipped pair sum with clip index i; sums of t t^T, of t e and of e^2."""
    a: np.ndarray
    b: np.ndarray
    ee: float

    def __add__(self, other: "Normal") -> "Normal":
        return Normal(self.a + other.a, self.b + other.b, self.ee + other.ee)


@dataclass(frozen=True)
class Fit:
    coeff: tuple[int, ...]     # 1/128 units
    clip: tuple[int, ...]      # clip index per tap
    sse: float                 # SSE after the filter (rounding of its output aside)

    @property
    def bits(self) -> int:
        return sum(se_bits(v) for v in self.coeff)


def _solve(s: Normal, clip: tuple[int, ...]) -> Fit:
    """The least-squares filter with these clip indices, its coefficients rounded to 1/128."""
    idx = [CLIPS * j + i for j, i in enumerate(clip)]
    a, b = s.a[np.ix_(idx, idx)], s.b[idx]
    n = len(idx)
    try:
        c = np.linalg.solve(a + (1e-6 * np.trace(a) / n + 1e-9) * np.eye(n), b)
    except np.linalg.LinAlgError:
        c = np.zeros(n)
    q = np.clip(np.round(c * ONE), -127, 127)
    c = q / ONE
    return Fit(tuple(int(v) for v in q), tuple(clip), float(s.ee - 2 * c @ b + c @ a @ c))


def fit(s: Normal, clipping: bool) -> Fit:
    """The filter of lowest SSE: linear, or with clip indices chosen greedily tap by tap (two passes)."""
    n = len(s.b) // CLIPS
    best = _solve(s, (0,) * n)
    if not clipping:
        return best
    for _ in range(2):
        for j in range(n):
            for i in range(CLIPS):
                if i != best.clip[j]:
                    trial = _solve(s, best.clip[:j] + (i,) + best.clip[j + 1:])
                    if trial.sse < best.sse:
                        best = trial
    return best


def statistics(plane: np.ndarray, original: np.ndarray, taps, keep: np.ndarray, block: int, bit_depth: int,
               classes=None) -> list[Normal]:
    """Normal equations per class (one entry without ``classes``) over the CTUs (``block`` square) in
    ``keep``; ``classes(r0, r1)`` gives the class of every sample of a band."""
    n = len(taps) * CLIPS
    count = ALF_NUM_CLASSES if classes is not None else 1
    out = [Normal(np.zeros((n, n)), np.zeros(n), 0.0) for _ in range(count)]
    limits = ALF_CLIP[bit_depth]
    band = _stats_band(plane.shape[1])
    for r0 in range(0, plane.shape[0], band):
        r1 = min(r0 + band, plane.shape[0])
        sel = np.repeat(keep[np.arange(r0, r1) // block], block, axis=1)[:, :plane.shape[1]]
        if not sel.any():
            continue
        t = np.empty((n, int(sel.sum())))
        for j, (above, below) in enumerate(tap_pairs(plane, r0, r1, taps)):
            above, below = above[sel], below[sel]
            for i, k in enumerate(limits):
                t[CLIPS * j + i] = np.clip(above, -k, k) + np.clip(below, -k, k)
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


def luma_parameter_bits(fits: list[Fit], clipping: bool) -> int:
    """Bits of the luma filters in the header: filter count, class indices, clip flag, coefficients and
    clip indices."""
    clip_bits = 2 * ALF_LUMA_COEFFS * len(fits) if clipping else 0
    return 6 + ALF_NUM_CLASSES * (len(fits) - 1).bit_length() + sum(f.bits for f in fits) + clip_bits


def merge_classes(stats: list[Normal], lam: float, max_filters: int,
                  clipping: bool) -> tuple[tuple[int, ...], list[Fit], float]:
    """(filter index of each class, the filters, J) with the number of filters of the lowest J.  Classes
    merge in the order of least linear SSE rise; each group's filter is then fitted with clipping."""
    groups = {(k,): stats[k] for k in range(len(stats))}
    linear = {g: fit(s, False) for g, s in groups.items()}
    final = {g: fit(s, clipping) for g, s in groups.items()} if clipping else linear
    best = None
    while True:
        if len(groups) <= max_filters:
            keys = sorted(groups)
            fits = [final[g] for g in keys]
            cost = sum(f.sse for f in fits) + lam * luma_parameter_bits(fits, clipping)
            if best is None or cost < best[2]:
                index = [0] * ALF_NUM_CLASSES
                for f, g in enumerate(keys):
                    for k in g:
                        index[k] = f
                best = (tuple(index), fits, cost)
        if len(groups) == 1:
            return best
        keys = list(groups)
        merge = None
        for i in range(len(keys)):
            for j in range(i + 1, len(keys)):
                joined = groups[keys[i]] + groups[keys[j]]
                trial = fit(joined, False)
                rise = trial.sse - linear[keys[i]].sse - linear[keys[j]].sse
                if merge is None or rise < merge[0]:
                    merge = (rise, keys[i], keys[j], joined, trial)
        _, a, b, joined, trial = merge
        for g in (a, b):
            del groups[g], linear[g]
            final.pop(g, None)
        key = tuple(sorted(a + b))
        groups[key], linear[key] = joined, trial
        final[key] = fit(joined, True) if clipping else trial


def _filtered_rows(plane: np.ndarray, fits: list[Fit], index, bit_depth: int, taps):
    """``rows(r0, r1)``: the rows r0..r1 of ``plane`` after the given filters (r0, r1 multiples of 4)."""
    coeffs = np.array([f.coeff for f in fits], dtype=np.int32)
    clips = clip_values([f.clip for f in fits], bit_depth)

    def rows(r0: int, r1: int) -> np.ndarray:
        if index is None:
            return filter_band(plane, r0, r1, coeffs[0], clips[0], bit_depth, taps)
        which = np.asarray(index)[classify(plane, r0, r1, bit_depth)]
        return filter_band(plane, r0, r1, coeffs[which], clips[which], bit_depth, taps)
    return rows


def _stats_band(width: int) -> int:
    """Rows per band of statistics: about STATS_SAMPLES samples, a multiple of 4 (whole classified
    blocks), so their memory does not grow with the picture's width."""
    return int(np.clip(STATS_SAMPLES // max(width, 1) // 4 * 4, 4, ALF_BAND))


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
                normal = statistics(plane, orig, ALF_LUMA_TAPS, keep, block, bd,
                                    lambda r0, r1: _class_map(plane, r0, r1, bd))
                options = [merge_classes(normal, lam, cfg.max_filters, clipping)
                           for clipping in ((False, True) if cfg.clipping else (False,))]
                index, filters, _ = min(options, key=lambda o: o[2])
                clipping = any(any(f.clip) for f in filters)
                param_bits = luma_parameter_bits(filters, clipping)
                taps = ALF_LUMA_TAPS
            else:
                index, filters = None, [fit(statistics(plane, orig, ALF_CHROMA_TAPS, keep, block, bd)[0], cfg.clipping)]
                param_bits = filters[0].bits + 2 * ALF_CHROMA_COEFFS
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
        if c == 0:
            fields.update(alf_luma_num_filters_signalled_minus1=len(filters) - 1, alf_luma_coeff_delta_idx=index,
                          alf_luma_coeff=tuple(f.coeff for f in filters), alf_luma_clip_flag=clipping,
                          alf_luma_clip_idx=tuple(f.clip for f in filters) if clipping else ())
        else:
            name = ("", "cb", "cr")[c]
            fields[f"alf_{name}_coeff"], fields[f"alf_{name}_clip_idx"] = filters[0].coeff, filters[0].clip
    if delta + lam >= 0:
        return header, None, planes, {"enabled": False, "delta_J": 0.0, **stats}
    header = replace(header, alf_enabled_flag=True, alf_luma_mode=modes[0], alf_cb_mode=modes[1],
                     alf_cr_mode=modes[2], **fields)
    alf = AlfCtbFlags(tuple(modes), flags)
    return header, alf, alf_picture(planes, header, alf), {"enabled": True, "delta_J": delta + lam, **stats}


def _class_map(plane: np.ndarray, r0: int, r1: int, bit_depth: int) -> np.ndarray:
    """The class of every sample of luma rows r0..r1."""
    blocks = classify(plane, r0, r1, bit_depth)
    return np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)[:r1 - r0, :plane.shape[1]]
