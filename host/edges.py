"""Boundary strengths of the deblocking filter (normative), derived from the coded block structure.

Edges are the transform-block boundaries that lie on the 8x8 luma grid; every host block is intra
coded, so each such edge gets bS = 2 (HEVC 8.7.2.4).  A CU coded by the neural tool has no transform
blocks: only its boundary is an edge, with bS = 2 towards host and NN neighbours alike when the
header's nn_deblocking_enabled_flag is 1, and bS = 0 on every edge it touches when it is 0 (¶161-164).  Arrays are in the layout host.deblock expects:
``bs_ver`` (H/4, W/8) for vertical edges at x = 8k, ``bs_hor`` (H/8, W/4) for horizontal edges at y = 8k.
"""
from __future__ import annotations

import numpy as np

from host.partition import UNIT, CodingUnit, ComponentBlock, CuMode, PictureGeometry, component_blocks

BS_INTRA = 2


class EdgeMap:
    """The deblocking edges of a picture, gathered CU by CU as the CUs are decoded, so a decoder need
    not keep its CUs for the loop filters (a few bits per 4x4 unit instead of a record per CU)."""

    def __init__(self, geo: PictureGeometry, nn_deblocking: bool = True):
        h, w = geo.coded_height, geo.coded_width
        self.geo, self.nn_deblocking = geo, nn_deblocking
        self.bs_ver = np.zeros((h // 4, w // 8), dtype=np.uint8)
        self.bs_hor = np.zeros((h // 8, w // 4), dtype=np.uint8)
        self.nn_units = np.zeros((h // UNIT, w // UNIT), dtype=bool)   # covered by an NN-coded CU

    def add(self, cu: CodingUnit) -> None:
        if cu.mode == CuMode.NN:
            blocks = [ComponentBlock(0, cu.x, cu.y, cu.log2_size, 0)]
            self.nn_units[cu.y // UNIT:(cu.y + cu.size) // UNIT, cu.x // UNIT:(cu.x + cu.size) // UNIT] = True
        else:
            blocks = [blk for blk in component_blocks(cu, self.geo) if blk.c_idx == 0]
        for blk in blocks:
            size = 1 << blk.log2_size
            if blk.x % 8 == 0 and blk.x > 0:
                self.bs_ver[blk.y // 4:(blk.y + size) // 4, blk.x // 8] = BS_INTRA
            if blk.y % 8 == 0 and blk.y > 0:
                self.bs_hor[blk.y // 8, blk.x // 4:(blk.x + size) // 4] = BS_INTRA

    def strengths(self) -> tuple[np.ndarray, np.ndarray]:
        """(bs_ver, bs_hor) of the CUs added so far, the NN-CU rule applied (new arrays when it applies)."""
        bs_ver, bs_hor, nn = self.bs_ver, self.bs_hor, self.nn_units
        if not self.nn_deblocking and nn.any():
            # Edge at x = 8k between units 2k-1 and 2k; edge at y = 8k between units 2k-1 and 2k.
            bs_ver, bs_hor = bs_ver.copy(), bs_hor.copy()
            bs_ver[:, 1:][nn[:, 1:-1:2] | nn[:, 2::2]] = 0
            bs_hor[1:, :][nn[1:-1:2, :] | nn[2::2, :]] = 0
        return bs_ver, bs_hor


def edge_map(cus: list[CodingUnit], geo: PictureGeometry, nn_deblocking: bool = True) -> EdgeMap:
    edges = EdgeMap(geo, nn_deblocking)
    for cu in cus:
        edges.add(cu)
    return edges


def boundary_strengths(cus: list[CodingUnit], geo: PictureGeometry,
                       nn_deblocking: bool = True) -> tuple[np.ndarray, np.ndarray]:
    return edge_map(cus, geo, nn_deblocking).strengths()
