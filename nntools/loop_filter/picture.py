"""The loop filter of a picture (normative): after deblocking, CTU by CTU as the flags say.

The network runs tile by tile (``exact.TILE`` half-resolution samples, a whole number of CTUs, with
the halo that makes tiles exact), and only on tiles where some CTU has a flag on; each CTU then takes
the filtered samples of the components whose ``nn_lf_ctb_flag`` is 1 and keeps the deblocked ones
otherwise.  Memory is one tile's activations, whatever the picture size.
"""
from __future__ import annotations

import numpy as np

from bitstream.container import CHROMA_420, PictureHeader
from host.edges import EdgeMap
from host.syntax import LoopFilterCtbFlags
from nntools.loop_filter.exact import (TILE, LoopFilterWeights, apply_correction, edge_plane, luma_correction,
                                       tile_correction, tiles)


def picture_edges(weights: LoopFilterWeights, edges: EdgeMap) -> np.ndarray | None:
    """The edge plane of the picture if the model takes one (the edges deblocking filters)."""
    if not weights.cfg.edge_plane:
        return None
    bs_ver, bs_hor = edges.strengths()
    return edge_plane(bs_ver > 0, bs_hor > 0, edges.geo.coded_height // 2, edges.geo.coded_width // 2)


def filter_picture(weights: LoopFilterWeights, planes: list[np.ndarray], header: PictureHeader,
                   lf: LoopFilterCtbFlags, edges: np.ndarray | None = None, tile: int = TILE,
                   in_place: bool = False) -> list[np.ndarray]:
    """The loop-filtered planes: new arrays, or ``planes`` themselves with ``in_place`` (the decoder's
    choice: no second picture in memory).  A row of tiles is written once the row below it is computed,
    so every tile reads deblocked samples in its halo either way."""
    out = planes if in_place else [p.copy() for p in planes]
    ctu = header.CtbSizeY
    if tile * 2 % ctu:
        raise ValueError(f"tile of {tile} half-resolution samples is not a whole number of {ctu} CTUs")
    if weights.halo > tile:
        raise ValueError(f"tile of {tile} half-resolution samples is smaller than the halo {weights.halo}")
    half_h, half_w = planes[0].shape[0] // 2, planes[0].shape[1] // 2
    previous: list[tuple[int, tuple, np.ndarray]] = []     # (plane, block, samples) of the rows of tiles
    current: list[tuple[int, tuple, np.ndarray]] = []      # above this one and of this one
    row = None
    for rect in tiles(half_h, half_w, tile):
        if rect[0] != row:                                  # the row above is complete: the one above it
            _write(out, previous)                           # is read by no tile any more
            previous, current, row = current, [], rect[0]
        current += _tile_samples(weights, planes, header, lf, edges, rect)
    _write(out, previous)
    _write(out, current)
    return out


def _write(out: list[np.ndarray], pending: list[tuple[int, tuple, np.ndarray]]) -> None:
    for k, block, samples in pending:
        out[k][block] = samples


def _tile_samples(weights: LoopFilterWeights, planes: list[np.ndarray], header: PictureHeader,
                  lf: LoopFilterCtbFlags, edges: np.ndarray | None, rect) -> list[tuple[int, tuple, np.ndarray]]:
    """The filtered samples of the CTUs of one tile whose flags are on, as (plane, block, samples)."""
    ctu = header.CtbSizeY
    y0, y1, x0, x1 = rect
    rows = slice(2 * y0 // ctu, -(-2 * y1 // ctu))
    cols = slice(2 * x0 // ctu, -(-2 * x1 // ctu))
    if not lf.flags[:, rows, cols].any():
        return []
    corr = tile_correction(weights, planes, header.chroma_format_idc, header.BitDepth, header.pic_qp, rect, edges,
                           header.NnLfNumTransforms)
    tile_corr = [luma_correction(corr[:4]), corr[4], corr[5]]
    samples = []
    for k, block in ctu_blocks(header, lf, rows, cols):
        rec = planes[k][block]
        y, x = (block[0].start - 2 * y0, block[1].start - 2 * x0) if k == 0 else \
            (block[0].start - y0, block[1].start - x0)                  # block origin in the tile
        samples.append((k, block, apply_correction(rec, tile_corr[k][y:y + rec.shape[0], x:x + rec.shape[1]],
                                                   header.nn_lf_scale[k], header.BitDepth)))
    return samples


def ctu_blocks(header: PictureHeader, lf: LoopFilterCtbFlags, rows: slice, cols: slice):
    """(component, block of its plane) of every CTU in ``rows`` x ``cols`` whose flag is on: luma by
    the luma flag, Cb and Cr (4:2:0 only) by the chroma flag."""
    ctu = header.CtbSizeY
    chroma = header.chroma_format_idc == CHROMA_420
    for r in range(rows.start, rows.stop):
        for c in range(cols.start, cols.stop):
            if lf.flags[0, r, c]:
                yield 0, np.s_[r * ctu:(r + 1) * ctu, c * ctu:(c + 1) * ctu]
            if chroma and lf.flags[1, r, c]:
                half = ctu // 2
                for k in (1, 2):
                    yield k, np.s_[r * half:(r + 1) * half, c * half:(c + 1) * half]
