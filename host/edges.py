"""Boundary strengths of the deblocking filter (normative), derived from the coded block structure.

Edges are the transform-block boundaries that lie on the 8x8 luma grid; every host block is intra
coded, so each such edge gets bS = 2 (HEVC 8.7.2.4).  Arrays are in the layout host.deblock expects:
``bs_ver`` (H/4, W/8) for vertical edges at x = 8k, ``bs_hor`` (H/8, W/4) for horizontal edges at y = 8k.
"""
from __future__ import annotations

import numpy as np

from host.partition import CodingUnit, PictureGeometry, component_blocks

BS_INTRA = 2


def boundary_strengths(cus: list[CodingUnit], geo: PictureGeometry) -> tuple[np.ndarray, np.ndarray]:
    h, w = geo.coded_height, geo.coded_width
    bs_ver = np.zeros((h // 4, w // 8), dtype=np.uint8)
    bs_hor = np.zeros((h // 8, w // 4), dtype=np.uint8)
    for cu in cus:
        for blk in component_blocks(cu, geo):
            if blk.c_idx:
                continue
            size = 1 << blk.log2_size
            if blk.x % 8 == 0 and blk.x > 0:
                bs_ver[blk.y // 4:(blk.y + size) // 4, blk.x // 8] = BS_INTRA
            if blk.y % 8 == 0 and blk.y > 0:
                bs_hor[blk.y // 8, blk.x // 4:(blk.x + size) // 4] = BS_INTRA
    return bs_ver, bs_hor
