"""Whole-picture NN coding as patches (seed 003): the patch grid and patch decoding (normative).

The picture's latent field (one position per 16 x 16 luma samples of the 16-aligned picture) is cut
into patches of P x P luma samples (P = NnPatchSize) in raster order, those of the last column and row
cut at the aligned picture's edge, as CTUs are.  Each row of patches is one region of the one rANS
stream, with its own hyper-latent and context passes, and its passes also read the last decoded latent
rows of the row above (``above``), as one-piece coding would: so the latents are entropy coded a row
of patches at a time and the encoder analyses them a patch at a time, in memory bounded by the
patch size and the picture width.

The synthesis does not see the patches: the decoder assembles the decoded latents into the picture's
field and synthesises it as one (``nntools.synthesis``, exact in tiles).  So no sample is coded twice
and the synthesis leaves no seam, which is what seed 003's overlapping patches buy, without their
extra area.  The overlap that remains is the encoder's: it analyses each patch with its surroundings
(``nntools.encoder.encode_patches``), so that its latents continue its neighbours'.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bitstream.container import NN_PATCH_SIZES
from bitstream.errors import BitstreamError
from bitstream.rans import RansDecoder
from nntools.codec import ALIGN, CONTEXT_REACH, Neighbours, NNBundle, decode_latent_region, open_stream
from nntools.synthesis import FieldSynthesis

PATCH_SIZES = NN_PATCH_SIZES[1:]
MAX_PATCHES = 1 << 20


@dataclass(frozen=True)
class PatchGrid:
    width: int                 # coded size
    height: int
    patch: int                 # P

    def __post_init__(self) -> None:
        if self.patch not in PATCH_SIZES:
            raise BitstreamError(f"NN patch size {self.patch} not one of {PATCH_SIZES}")
        if len(self.xs) * len(self.ys) > MAX_PATCHES:
            raise BitstreamError("too many NN patches")

    @property
    def aligned_width(self) -> int:
        return -(-self.width // ALIGN) * ALIGN

    @property
    def aligned_height(self) -> int:
        return -(-self.height // ALIGN) * ALIGN

    @property
    def xs(self) -> range:
        return range(0, self.aligned_width, self.patch)

    @property
    def ys(self) -> range:
        return range(0, self.aligned_height, self.patch)

    def shape_at(self, x: int, y: int) -> tuple[int, int]:
        """(height, width) in luma samples of the patch at origin (x, y)."""
        return min(self.patch, self.aligned_height - y), min(self.patch, self.aligned_width - x)

    def origins(self) -> list[tuple[int, int]]:
        return [(x, y) for y in self.ys for x in self.xs]


def above(bundle: NNBundle, rows: torch.Tensor | None, height: int) -> Neighbours | None:
    """The neighbours of a row of patches ``height`` latents high: the last decoded ``rows`` of the row above
    (None for the first row)."""
    if rows is None:
        return None
    r, (_, channels, have, width) = CONTEXT_REACH, rows.shape
    field = torch.zeros((1, channels, height + 2 * r, width + 2 * r), dtype=torch.float64)
    field[:, :, r - have:r, r:r + width] = rows
    return Neighbours(bundle, field)


def decode_patches(bundle: NNBundle, payload: bytes, grid: PatchGrid, level: int, chroma_format: int,
                   bit_depth: int, trace_sink=None) -> list[np.ndarray]:
    """nn_picture()'s nn_latent_stream() coded as patches -> coded-size planes: each row of patches is
    one region whose context passes also read the last rows of the row above; its latents join the
    field, which is synthesised as its rows arrive."""
    stream: RansDecoder = open_stream(bundle, payload, trace_sink)
    synthesis = FieldSynthesis(bundle, grid.height, grid.width, chroma_format, bit_depth)
    last_rows = None
    for y in grid.ys:
        height = grid.shape_at(0, y)[0]
        row = decode_latent_region(bundle, stream, height // 2, grid.aligned_width // 2, level,
                                   above(bundle, last_rows, height // ALIGN))
        synthesis.add(row)
        last_rows = row[:, :, -CONTEXT_REACH:]
    stream.finish()
    return synthesis.planes()
