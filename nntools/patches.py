"""Whole-picture NN coding as overlapping patches (seed 003): grid, merge rule and decoding (normative).

A picture of coded size W x H is covered by patches of p x p luma samples (p = P, 64 .. 2048 a power
of two, or the 16-aligned picture size where that is smaller) whose origins step by S = p - N, N the
overlap, except the last one in each direction, which ends flush with the picture (so it overlaps its
predecessor by N or more, and no patch lies mostly outside the picture).  Each patch is coded
independently as an NN region (samples beyond the picture edge-replicated by the encoder), and their
passes follow each other in one rANS stream in raster order of patches.

Merge (integer, exact): along each direction a patch weighs its sample at offset c by the tent
Min(2c + 1 if a patch precedes it, 2(p - c) - 1 if one follows), or 1 if it has no neighbour; in the
overlap of two patches the two weights add up to twice the overlap, a linear cross-fade.  The 2-D weight
is the product of the two directions'; each merged sample is Floor((Σ weight·sample + D/2) / D), D the
sum of its weights (separable: the product of the per-direction sums).  4:2:0 chroma uses the same rule
at half the sizes and origins (N even); 4:4:4 chroma merges each patch's upsampled chroma with the luma
weights.

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
    def _origins(size: int, span: int, overlap: int) -> list[int]:
        if size <= span:
            return [0]
        step = span - overlap
        count = 1 + -(-(size - span) // step)
        return [k * step for k in range(count - 1)] + [size - span]

    @property
    def xs(self) -> list[int]:
        return self._origins(self.width, self.patch_shape()[1], self.overlap)

    @property
    def ys(self) -> list[int]:
        return self._origins(self.height, self.patch_shape()[0], self.overlap)

    def patch_shape(self) -> tuple[int, int]:
        """(height, width) of every patch region: P, or the aligned picture size if smaller."""
        return min(self.patch, aligned(self.height)), min(self.patch, aligned(self.width))

    def origins(self) -> list[tuple[int, int]]:
        return [(x, y) for y in self.ys for x in self.xs]


def tent(length: int, first: bool, last: bool) -> np.ndarray:
    """Weights of one patch along one direction (see the module docstring)."""
    if first and last:
        return np.ones(length, dtype=np.int64)
    c = np.arange(length, dtype=np.int64)
    rising, falling = 2 * c + 1, 2 * (length - c) - 1
    return falling if first else rising if last else np.minimum(rising, falling)


class PatchMerger:
    """Integer accumulators of the merged planes; patches are added in any order."""

    def __init__(self, grid: PatchGrid, chroma_format: int, bit_depth: int):
        self.grid, self.chroma_format, self.bit_depth = grid, chroma_format, bit_depth
        shift = 1 if chroma_format == 1 else 0
        n_planes = 1 if chroma_format == 0 else 3
        self.shifts = [0] + [shift] * (n_planes - 1)
        self.acc = [np.zeros((grid.height >> s, grid.width >> s), dtype=np.int64) for s in self.shifts]
        ph, pw = grid.patch_shape()
        self.wy = [self._weights(grid.ys, ph >> s) for s in self.shifts]
        self.wx = [self._weights(grid.xs, pw >> s) for s in self.shifts]

    @staticmethod
    def _weights(origins: list[int], length: int) -> list[np.ndarray]:
        return [tent(length, k == 0, k == len(origins) - 1) for k in range(len(origins))]

    def add(self, x: int, y: int, planes: list[np.ndarray]) -> None:
        g = self.grid
        ix, iy = g.xs.index(x), g.ys.index(y)
        for c, (acc, plane, s) in enumerate(zip(self.acc, planes, self.shifts)):
            ph, pw = plane.shape
            h, w = min(ph, acc.shape[0] - (y >> s)), min(pw, acc.shape[1] - (x >> s))
            weight = self.wy[c][iy][:h, None] * self.wx[c][ix][None, :w]
            acc[y >> s:(y >> s) + h, x >> s:(x >> s) + w] += weight * plane[:h, :w]

    def planes(self) -> list[np.ndarray]:
        """The merged planes: each accumulated sample divided by the sum of its weights."""
        out = []
        for c, (acc, s) in enumerate(zip(self.acc, self.shifts)):
            den_y = self._coverage(self.grid.ys, self.wy[c], acc.shape[0], s)
            den_x = self._coverage(self.grid.xs, self.wx[c], acc.shape[1], s)
            plane = np.empty(acc.shape, dtype=np.int32)
            for y in range(0, acc.shape[0], 256):                   # strips: small int64 temporaries
                den = den_y[y:y + 256, None] * den_x[None, :]
                plane[y:y + 256] = (acc[y:y + 256] + den // 2) // den
            out.append(plane)
        return out

    @staticmethod
    def _coverage(origins: list[int], weights: list[np.ndarray], size: int, shift: int) -> np.ndarray:
        total = np.zeros(size, dtype=np.int64)
        for o, w in zip(origins, weights):
            n = min(len(w), size - (o >> shift))
            total[o >> shift:(o >> shift) + n] += w[:n]
        return total


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

