"""Adaptive loop filter (normative; docs/SYNTAX.md §10): Wiener filters sent in the picture header.

VVC's ALF in integer arithmetic, after the neural loop filter (or after deblocking when that is off):
each 4x4 luma block is classified by the direction and activity of its Laplacians into one of
``ALF_NUM_CLASSES`` classes, each class uses one of the picture's luma filters (a 7x7 diamond,
12 coefficients applied to pairs of mirrored neighbours), and each chroma component has one 5x5
diamond filter.  A filter adds ``(sum_j c_j * (clip(x[+j] - x) + clip(x[-j] - x)) + 64) >> 7`` to
every sample, each difference clipped to +-AlfClip of the tap's clip index (VVC's non-linear ALF; index
0 never clips), so its centre is implicit and a zero filter changes nothing.  Neighbours outside the coded picture repeat
the border sample.  The picture is filtered in bands of ``ALF_BAND`` rows that read the unfiltered
input around them, so memory stays one band's, and any band height gives the same samples.
"""
from __future__ import annotations

import numpy as np

from bitstream.container import CHROMA_400, CHROMA_420, NN_LF_OFF, PictureHeader
from host.partition import CtbFlags, PictureGeometry

ALF_NUM_CLASSES = 25
ALF_LUMA_TAPS = ((-3, 0), (-2, -1), (-2, 0), (-2, 1), (-1, -2), (-1, -1), (-1, 0), (-1, 1), (-1, 2),
                 (0, -3), (0, -2), (0, -1))          # one of each mirrored pair: 7x7 diamond
ALF_CHROMA_TAPS = ((-2, 0), (-1, -1), (-1, 0), (-1, 1), (0, -2), (0, -1))      # 5x5 diamond
ALF_COEFF_SHIFT = 7
ALF_ACTIVITY_THRESHOLDS = (64, 128, 448, 960)    # (sum V + sum H) >> (BitDepth - 8) over an 8x8 window
ALF_CLIP = {8: (256, 64, 16, 4), 10: (1024, 181, 32, 6)}   # AlfClip[BitDepth][clip_idx]: 2^(BitDepth(4 - i)/4)
ALF_BAND = 64                                    # luma rows filtered at a time (a multiple of 4, > 6)
CLASS_HALO = 3                                   # rows a band's classification reads beyond it


class AlfCtbFlags(CtbFlags):
    """alf_ctb_flag of every CTU per component (0 Y, 1 Cb, 2 Cr); modes (alf_luma_mode, alf_cb_mode,
    alf_cr_mode)."""

    @classmethod
    def from_header(cls, header: PictureHeader, geo: PictureGeometry) -> "AlfCtbFlags | None":
        if not header.alf_enabled_flag:
            return None
        return cls.inferred((header.alf_luma_mode, header.alf_cb_mode, header.alf_cr_mode), geo)


def _rows(plane: np.ndarray, r0: int, r1: int, halo: int) -> np.ndarray:
    """Rows r0 - halo .. r1 + halo of ``plane`` and ``halo`` columns either side, border samples repeated."""
    idx = np.clip(np.arange(r0 - halo, r1 + halo), 0, plane.shape[0] - 1)
    return np.pad(plane[idx].astype(np.int32), ((0, 0), (halo, halo)), mode="edge")


def classify(luma: np.ndarray, r0: int, r1: int, bit_depth: int) -> np.ndarray:
    """ALF class (0..24) of each 4x4 block of luma rows r0..r1 (multiples of 4): 5 * direction + activity,
    from the vertical, horizontal and diagonal Laplacians summed over the block and 2 samples around it."""
    p = _rows(luma, r0, r1, CLASS_HALO)
    h, w = p.shape[0] - 2, p.shape[1] - 2
    c = p[1:-1, 1:-1]
    twice = 2 * c
    lap = [np.abs(twice - p[:-2, 1:-1] - p[2:, 1:-1]), np.abs(twice - p[1:-1, :-2] - p[1:-1, 2:]),
           np.abs(twice - p[:-2, :-2] - p[2:, 2:]), np.abs(twice - p[:-2, 2:] - p[2:, :-2])]
    rows, cols = h // 4, -(-w // 4)
    sums = []
    for a in lap:                                    # 8x8 window = 2x2 cells of 4x4 around each block
        cells = np.pad(a, ((0, 0), (0, 4 * cols - w))).reshape(rows, 4, cols, 4).sum(axis=(1, 3), dtype=np.int64)
        sums.append(cells[:-1, :-1] + cells[1:, :-1] + cells[:-1, 1:] + cells[1:, 1:])
    v, hor, d0, d1 = (s[:, :(luma.shape[1] + 3) // 4] for s in sums)
    hv_max, hv_min = np.maximum(v, hor), np.minimum(v, hor)
    d_max, d_min = np.maximum(d0, d1), np.minimum(d0, d1)
    hv_dominant = hv_max * d_min > d_max * hv_min
    strong_max = np.where(hv_dominant, hv_max, d_max)
    strong_min = np.where(hv_dominant, hv_min, d_min)
    textured = (hv_max > 2 * hv_min) | (d_max > 2 * d_min)
    direction = np.where(~textured, 0, np.where(hv_dominant, 1, 3) + (2 * strong_max > 9 * strong_min))
    activity = (v + hor) >> (bit_depth - 8)
    act = sum((activity >= t).astype(np.int64) for t in ALF_ACTIVITY_THRESHOLDS)
    return 5 * direction + act


def tap_pairs(plane: np.ndarray, r0: int, r1: int, taps: tuple[tuple[int, int], ...]):
    """(x[+j] - x, x[-j] - x) over rows r0..r1, one tap j at a time (int32)."""
    halo = max(max(abs(dy), abs(dx)) for dy, dx in taps)
    p = _rows(plane, r0, r1, halo)
    h, w = r1 - r0, plane.shape[1]
    centre = p[halo:halo + h, halo:halo + w]
    for dy, dx in taps:
        yield (p[halo + dy:halo + dy + h, halo + dx:halo + dx + w] - centre,
               p[halo - dy:halo - dy + h, halo - dx:halo - dx + w] - centre)


def filter_band(plane: np.ndarray, r0: int, r1: int, coeffs: np.ndarray, clips: np.ndarray, bit_depth: int,
                taps: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Rows r0..r1 of ``plane`` filtered; ``coeffs`` and ``clips`` (clip values) are (taps,) for one
    filter or (block rows, block columns, taps) per 4x4 block.  |coefficient| <= 127 and clipped
    differences of 10-bit samples keep the sum below 2^23 in int32."""
    h, w = r1 - r0, plane.shape[1]
    acc = np.zeros((h, w), dtype=np.int32)
    per_sample = lambda a, j: (a[j] if a.ndim == 1 else  # noqa: E731
                               np.repeat(np.repeat(a[..., j], 4, axis=0), 4, axis=1)[:h, :w])
    for j, (above, below) in enumerate(tap_pairs(plane, r0, r1, taps)):
        k = per_sample(clips, j)
        acc += (np.clip(above, -k, k) + np.clip(below, -k, k)) * per_sample(coeffs, j)
    corr = (acc + (1 << (ALF_COEFF_SHIFT - 1))) >> ALF_COEFF_SHIFT
    return np.clip(plane[r0:r1] + corr, 0, (1 << bit_depth) - 1).astype(plane.dtype)


def clip_values(clip_idx, bit_depth: int) -> np.ndarray:
    """AlfClip[BitDepth][clip_idx] (int32 array of the shape of ``clip_idx``)."""
    return np.asarray(ALF_CLIP[bit_depth], dtype=np.int32)[np.asarray(clip_idx, dtype=np.int64)]


def luma_filters(classes: np.ndarray, header: PictureHeader) -> tuple[np.ndarray, np.ndarray]:
    """Each 4x4 luma block's filter coefficients and clip values (block rows, block columns, taps)."""
    which = np.asarray(header.alf_luma_coeff_delta_idx)
    coeffs = np.asarray(header.alf_luma_coeff, dtype=np.int32)[which]
    clip_idx = (np.asarray(header.alf_luma_clip_idx)[which] if header.alf_luma_clip_flag
                else np.zeros(coeffs.shape, dtype=np.int64))
    return coeffs[classes], clip_values(clip_idx, header.BitDepth)[classes]


def alf_picture(planes: list[np.ndarray], header: PictureHeader, flags: AlfCtbFlags,
                band: int = ALF_BAND, in_place: bool = False) -> list[np.ndarray]:
    """The adaptively filtered planes: each CTU takes the filtered samples of the components whose
    alf_ctb_flag is 1.  New arrays, or ``planes`` themselves with ``in_place`` (the decoder's choice);
    a band is written once the next one is computed, so every band reads unfiltered rows around it."""
    out = planes if in_place else [p.copy() for p in planes]
    ctu = header.CtbSizeY
    sub = 2 if header.chroma_format_idc == CHROMA_420 else 1
    comps = [0] if header.chroma_format_idc == CHROMA_400 else [0, 1, 2]
    for c in comps:
        if flags.modes[c] == NN_LF_OFF:
            continue
        plane = planes[c]
        scale = 1 if c == 0 else sub
        step, size = band // scale, ctu // scale
        pending = None
        for r0 in range(0, plane.shape[0], step):
            r1 = min(r0 + step, plane.shape[0])
            samples = _band_samples(plane, r0, r1, c, header, flags.flags[c], size)
            if pending is not None:
                out[c][pending[0]:pending[1]] = pending[2]
            pending = None if samples is None else (r0, r1, samples)
        if pending is not None:
            out[c][pending[0]:pending[1]] = pending[2]
    return out


def _band_samples(plane: np.ndarray, r0: int, r1: int, c: int, header: PictureHeader, ctb_flags: np.ndarray,
                  size: int) -> np.ndarray | None:
    """Rows r0..r1 of component ``c`` after ALF, or None if no CTU there has the flag on."""
    on = np.repeat(np.repeat(ctb_flags[r0 // size:-(-r1 // size)], size, axis=0), size, axis=1)
    on = on[r0 % size:r0 % size + r1 - r0, :plane.shape[1]].astype(bool)
    if not on.any():
        return None
    if c == 0:
        coeffs, clips = luma_filters(classify(plane, r0, r1, header.BitDepth), header)
        filtered = filter_band(plane, r0, r1, coeffs, clips, header.BitDepth, ALF_LUMA_TAPS)
    else:
        coeffs = np.asarray(header.alf_cb_coeff if c == 1 else header.alf_cr_coeff, dtype=np.int32)
        clips = clip_values(header.alf_cb_clip_idx if c == 1 else header.alf_cr_clip_idx, header.BitDepth)
        filtered = filter_band(plane, r0, r1, coeffs, clips, header.BitDepth, ALF_CHROMA_TAPS)
    return np.where(on, filtered, plane[r0:r1])
