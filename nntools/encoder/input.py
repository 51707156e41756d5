"""The neural tool's input (encoder and training): codec planes to the 6-channel half-resolution stack.

Regions are padded to a multiple of ALIGN (16) luma samples by edge replication; 4:4:4 chroma is
averaged over 2x2, 4:0:0 enters with neutral chroma (the decoder's side: ``nntools.picture``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from nntools.picture import aligned

def planes_to_input(planes: list[np.ndarray], chroma_format: int, bit_depth: int) -> torch.Tensor:
    """Planes of one region (luma h x w) -> (1, 6, H/2, W/2) float64 in [-0.5, 0.5], H, W aligned."""
    h, w = planes[0].shape
    ha, wa = aligned(h), aligned(w)
    peak = (1 << bit_depth) - 1
    y = np.pad(planes[0], ((0, ha - h), (0, wa - w)), mode="edge").astype(np.float64)
    if chroma_format == 0:
        chroma = [np.full((ha // 2, wa // 2), float(1 << (bit_depth - 1)))] * 2
    else:
        chroma = []
        for c in planes[1:3]:
            c = c.astype(np.int64)
            if chroma_format == 3:
                c = np.pad(c, ((0, h % 2), (0, w % 2)), mode="edge")
                c = (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2] + 2) >> 2
            ch, cw = c.shape
            chroma.append(np.pad(c, ((0, ha // 2 - ch), (0, wa // 2 - cw)), mode="edge").astype(np.float64))
    luma = torch.from_numpy(y)[None, None]
    x = torch.cat([F.pixel_unshuffle(luma, 2)] + [torch.from_numpy(c)[None, None] for c in chroma], dim=1)
    return x / peak - 0.5
