"""Whole-picture NN coding as overlapping patches (seed 003): grid, merge rule and decoding (normative).

A picture of coded size W x H is covered by patches of P x P luma samples (P = 64 .. 2048, a power of
two; a patch is narrower or lower where the picture is) whose origins step by S = P - N, N the overlap.
Each patch is coded independently as an NN region (the samples beyond the picture are edge-replicated
by the encoder), and their passes follow each other in one rANS stream in raster order of patches.

Merge (integer, exact): along each direction a patch weighs its sample at offset c by 2N, except in an
overlap with a neighbour, where the weight ramps: 2c + 1 on the side of an earlier patch (c < N) and
2(P - c) - 1 on the side of a later one; the two ramps of an overlap add up to 2N.  The 2-D weight is the
product, so every sample's weights add up to (2N)^2 and the merged sample is
Floor((sum of weight x sample + 2N^2) / (2N)^2).  With N = 0 each sample belongs to one patch.  4:2:0
chroma uses the same rule at half the sizes (N even); 4:4:4 chroma merges the patches' upsampled chroma
with the luma weights.

Peak memory is bounded by the batch of patches being synthesised plus integer accumulators of the
picture: the decoder never holds a full-resolution float tensor.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bitstream.container import NN_PATCH_SIZES
from bitstream.errors import BitstreamError
from bitstream.rans import RansDecoder
from nntools.codec import NNBundle, decode_latent_region, open_stream
from nntools.picture import aligned, output_to_planes

PATCH_SIZES = NN_PATCH_SIZES[1:]
MAX_PATCHES = 1 << 20


@dataclass(frozen=True)
class PatchGrid:
    width: int                 # coded size
    height: int
    patch: int                 # P
    overlap: int               # N

    def __post_init__(self) -> None:
        if self.patch not in PATCH_SIZES:
            raise BitstreamError(f"NN patch size {self.patch} not one of {PATCH_SIZES}")
        if self.overlap % 2 or not 0 <= self.overlap <= self.patch // 2:
            raise BitstreamError(f"NN patch overlap {self.overlap}: must be even and at most {self.patch // 2}")
        if len(self.xs) * len(self.ys) > MAX_PATCHES:
            raise BitstreamError("too many NN patches")

    @staticmethod
    def _origins(size: int, patch: int, overlap: int) -> list[int]:
        step = patch - overlap
        count = 1 if size <= patch else 1 + -(-(size - patch) // step)
        return [k * step for k in range(count)]

    @property
    def xs(self) -> list[int]:
        return self._origins(self.width, self.patch, self.overlap)

    @property
    def ys(self) -> list[int]:
        return self._origins(self.height, self.patch, self.overlap)

    def patch_shape(self) -> tuple[int, int]:
        """(height, width) of every patch region: P, or the aligned picture size if smaller."""
        return min(self.patch, aligned(self.height)), min(self.patch, aligned(self.width))

    def origins(self) -> list[tuple[int, int]]:
        return [(x, y) for y in self.ys for x in self.xs]


def ramp(length: int, overlap: int, first: bool, last: bool) -> np.ndarray:
    """Weights of one patch along one direction (see the module docstring)."""
    w = np.full(length, max(2 * overlap, 1), dtype=np.int64)
    if overlap:
        c = np.arange(overlap)
        if not first:
            w[:overlap] = 2 * c + 1
        if not last:
            w[length - overlap:] = 2 * (overlap - c) - 1
    return w


class PatchMerger:
    """Integer accumulators of the merged planes; patches are added in any order."""

    def __init__(self, grid: PatchGrid, chroma_format: int, bit_depth: int):
        self.grid, self.chroma_format, self.bit_depth = grid, chroma_format, bit_depth
        shift = 1 if chroma_format == 1 else 0
        n_planes = 1 if chroma_format == 0 else 3
        self.shifts = [0] + [shift] * (n_planes - 1)
        self.acc = [np.zeros((grid.height >> s, grid.width >> s), dtype=np.int64) for s in self.shifts]

    def add(self, x: int, y: int, planes: list[np.ndarray]) -> None:
        g = self.grid
        ix, iy = g.xs.index(x), g.ys.index(y)
        for acc, plane, s in zip(self.acc, planes, self.shifts):
            n = g.overlap >> s
            ph, pw = plane.shape
            h, w = min(ph, acc.shape[0] - (y >> s)), min(pw, acc.shape[1] - (x >> s))
            wy = ramp(ph, n, iy == 0, iy == len(g.ys) - 1)[:h]
            wx = ramp(pw, n, ix == 0, ix == len(g.xs) - 1)[:w]
            acc[y >> s:(y >> s) + h, x >> s:(x >> s) + w] += (wy[:, None] * wx[None, :]) * plane[:h, :w]

    def planes(self) -> list[np.ndarray]:
        out = []
        for acc, s in zip(self.acc, self.shifts):
            total = max(2 * (self.grid.overlap >> s), 1) ** 2
            out.append(((acc + total // 2) // total).astype(np.int32))
        return out


def decode_patches(bundle: NNBundle, payload: bytes, grid: PatchGrid, level: int, chroma_format: int,
                   bit_depth: int, batch: int = 8) -> list[np.ndarray]:
    """nn_picture() coded as patches -> coded-size planes.  ``batch`` patches are synthesised at once
    (any batch gives the same samples: the synthesis is exact per item)."""
    stream: RansDecoder = open_stream(bundle, payload)
    merger = PatchMerger(grid, chroma_format, bit_depth)
    ph, pw = grid.patch_shape()
    pending: list[tuple[int, int, torch.Tensor]] = []

    def flush() -> None:
        x_hat = bundle.g_s(torch.cat([y for _, _, y in pending]))
        for k, (x, y, _) in enumerate(pending):
            merger.add(x, y, output_to_planes(x_hat[k:k + 1], chroma_format, bit_depth, ph, pw))
        pending.clear()

    for x, y in grid.origins():
        pending.append((x, y, decode_latent_region(bundle, stream, ph // 2, pw // 2, level)))
        if len(pending) == batch:
            flush()
    if pending:
        flush()
    stream.finish()
    return merger.planes()

