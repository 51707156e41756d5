"""The encoder's loop-filter decisions (encoder-only): scales, per-CTU flags, picture-level modes.

The deblocked picture is filtered once, everywhere.  Per component the residual scale is the least-
squares factor between the network's correction and the coding error (over the CTUs that keep the
filter, refined once), and per CTU the flag that gives the lower J = SSE + lambda * R wins, with the
flag's bits estimated from its adapting context in coding order.  Each component then takes the
cheapest picture-level mode (off, on for every CTU, per-CTU flags), header bits included, and the
picture disables the tool when no component pays for the model id.  The final samples come from the
normative ``filter_picture``, so the encoder's reconstruction is the decoder's output.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bitstream.container import (CHROMA_420, MODEL_ID_BYTES, NN_LF_ALL_CTUS, NN_LF_NUM_TRANSFORMS, NN_LF_OFF,
                                 NN_LF_PER_CTU, NN_LF_SCALE_MAX, NN_LF_SCALE_ONE, PictureHeader)
from bitstream.syntax_coder import RateEstimator
from host.contexts import CONTEXT_TABLE, HOST_CONTEXTS
from host.edges import EdgeMap
from host.encoder.ctb_flags import ctu_gains, decide_ctb_flags
from host.syntax import LoopFilterCtbFlags
from nntools.loop_filter.exact import (OUT_FRAC, SCALE_FRAC, LoopFilterWeights, apply_correction,
                                       luma_correction, tile_correction, tiles)
from nntools.loop_filter.picture import ctu_blocks, picture_edges

SCALE_BITS = 7
MODE_BITS = 2
TRANSFORMS_BITS = 2


@dataclass(frozen=True)
class LoopFilterSearchConfig:
    ctu_flags: bool = True        # allow per-CTU flags (otherwise a component is off or on everywhere)
    scale: bool = True            # least-squares residual scale (otherwise 1.0)
    chroma: bool = True           # filter chroma too (4:2:0 only)
    transforms: int = 4           # NnLfNumTransforms: network runs averaged over flips (1, 2, 4 or 8)

    def __post_init__(self) -> None:
        if self.transforms not in NN_LF_NUM_TRANSFORMS or isinstance(self.transforms, bool):
            raise ValueError(f"transforms must be one of {NN_LF_NUM_TRANSFORMS} (NnLfNumTransforms), "
                             f"not {self.transforms!r}")


def full_correction(weights: LoopFilterWeights, planes: list[np.ndarray], header: PictureHeader,
                    edges: np.ndarray | None, transforms: int) -> list[np.ndarray]:
    """The network's correction of every sample: [luma (H, W), Cb, Cr (H/2, W/2)], int16 (it is clipped
    to +-CORR_LIMIT), computed tile by tile exactly as the decoder's filter computes it."""
    half_h, half_w = planes[0].shape[0] // 2, planes[0].shape[1] // 2
    luma = np.empty((2 * half_h, 2 * half_w), dtype=np.int16)
    chroma = np.empty((2, half_h, half_w), dtype=np.int16)
    for rect in tiles(half_h, half_w):
        y0, y1, x0, x1 = rect
        corr = tile_correction(weights, planes, header.chroma_format_idc, header.BitDepth, header.pic_qp, rect, edges,
                               transforms)
        luma[2 * y0:2 * y1, 2 * x0:2 * x1] = luma_correction(corr[:4])
        chroma[:, y0:y1, x0:x1] = corr[4:]
    return [luma, chroma[0], chroma[1]]


def apply_flags(planes: list[np.ndarray], corr: list[np.ndarray], header: PictureHeader,
                lf: LoopFilterCtbFlags) -> None:
    """The filter's output written into ``planes``: the corrected samples of every CTU and component
    whose flag is on (what ``filter_picture`` gives, without running the network again)."""
    rows, cols = lf.flags.shape[1:]
    for k, block in ctu_blocks(header, lf, slice(0, rows), slice(0, cols)):
        planes[k][block] = apply_correction(planes[k][block], corr[k][block], header.nn_lf_scale[k], header.BitDepth)


def least_squares_scale(original: np.ndarray, deblocked: np.ndarray, corr: np.ndarray, keep: np.ndarray,
                        block: int, bit_depth: int) -> int:
    """nn_lf_scale minimising sum (error - scale * corr)^2 over the CTUs in ``keep``, clipped to its range;
    sums over one CTU row at a time, so no picture-sized float array is made."""
    num = den = 0.0
    for r0 in range(0, original.shape[0], block):
        cols = np.repeat(keep[r0 // block], block)[:original.shape[1]]
        d = corr[r0:r0 + block, cols].astype(np.float64) / 2.0 ** (OUT_FRAC + 10 - bit_depth)
        e = (original[r0:r0 + block, cols].astype(np.float64) - deblocked[r0:r0 + block, cols]).ravel()
        num += float(np.dot(d.ravel(), e))
        den += float(np.dot(d.ravel(), d.ravel()))
    if den <= 0:
        return NN_LF_SCALE_ONE
    return int(np.clip(round(num / den * 2 ** SCALE_FRAC), 0, NN_LF_SCALE_MAX))


def decide(weights: LoopFilterWeights, header: PictureHeader, original: list[np.ndarray],
           deblocked: list[np.ndarray], edges: EdgeMap, lam: float, cfg: LoopFilterSearchConfig = LoopFilterSearchConfig(),
           in_place: bool = False) -> tuple[PictureHeader, LoopFilterCtbFlags | None, list[np.ndarray], dict]:
    """(header with the loop-filter fields, CTU flags or None, output planes, decision statistics).  The
    output planes are new arrays, or with ``in_place`` the ``deblocked`` planes themselves, filtered."""
    corr = full_correction(weights, deblocked, header, picture_edges(weights, edges), cfg.transforms)
    comps = [[0]] + ([[1, 2]] if header.chroma_format_idc == CHROMA_420 and cfg.chroma else [])
    ctu = header.CtbSizeY
    rows, cols = -(-deblocked[0].shape[0] // ctu), -(-deblocked[0].shape[1] // ctu)
    scales = [NN_LF_SCALE_ONE] * 3
    modes, flags, delta = [NN_LF_OFF, NN_LF_OFF], np.zeros((2, rows, cols), dtype=np.uint8), {}
    est = RateEstimator(CONTEXT_TABLE, header.pic_qp, header.context_init_flag)
    base = HOST_CONTEXTS.nn_lf_ctb_flag
    stats = {}
    for lc, members in enumerate(comps):
        block = ctu if lc == 0 else ctu // 2
        keep = np.ones((rows, cols), dtype=bool)
        for _ in range(2 if cfg.scale else 1):       # scale over the kept CTUs, then the flags again
            gain = np.zeros((rows, cols))
            for k in members:
                if cfg.scale:
                    scales[k] = least_squares_scale(original[k], deblocked[k], corr[k], keep, block, header.BitDepth)
                filtered = lambda r0, r1: apply_correction(deblocked[k][r0:r1], corr[k][r0:r1],  # noqa: E731
                                                           scales[k], header.BitDepth)
                gain += ctu_gains(original[k], deblocked[k], filtered, block)   # SSE saved per CTU
            keep = gain > 0
        chosen, flag_bits = decide_ctb_flags(est, base + 3 * lc, gain, lam)
        scale_bits = SCALE_BITS * len(members)
        candidates = {NN_LF_OFF: 0.0, NN_LF_ALL_CTUS: -float(gain.sum()) + lam * scale_bits}
        if cfg.ctu_flags:
            candidates[NN_LF_PER_CTU] = -float(gain[chosen == 1].sum()) + lam * (scale_bits + flag_bits)
        modes[lc] = min(candidates, key=candidates.get)
        delta[lc] = candidates[modes[lc]]
        flags[lc] = chosen if modes[lc] == NN_LF_PER_CTU else int(modes[lc] == NN_LF_ALL_CTUS)
        if modes[lc] == NN_LF_OFF:
            for k in members:
                scales[k] = NN_LF_SCALE_ONE
        stats[("luma", "chroma")[lc]] = {"mode": modes[lc], "ctus_on": float(flags[lc].mean()),
                                         "scales": [scales[k] for k in members], "delta_J": delta[lc]}
    header_bits = 1 + TRANSFORMS_BITS + 2 * MODE_BITS + 8 * MODEL_ID_BYTES   # enabling, before any scale or flag
    total = sum(delta.values()) + lam * header_bits
    if total >= 0:
        return header, None, deblocked, {"enabled": False, "delta_J": 0.0, **stats}
    header = replace(header, nn_lf_enabled_flag=True, log2_nn_lf_num_transforms=cfg.transforms.bit_length() - 1,
                     nn_lf_luma_mode=modes[0], nn_lf_chroma_mode=modes[1],
                     nn_lf_scale=tuple(scales), nn_lf_model_id=weights.model_id)
    lf = LoopFilterCtbFlags(tuple(modes), flags)
    out = deblocked if in_place else [p.copy() for p in deblocked]
    apply_flags(out, corr, header, lf)
    return header, lf, out, {"enabled": True, "transforms": cfg.transforms, "delta_J": total, **stats}
