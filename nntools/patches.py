"""Whole-picture NN coding as overlapping patches (seed 003): grid, merge rule and decoding (normative).

A picture of coded size W x H is covered by patches of at most P x P luma samples (P = 64 .. 2048, a
power of two), N the overlap: along each direction the fewest patches that can cover the picture with
overlaps of N, all of one 16-aligned length, whose origins step by length - N, except the last, which
ends flush with the picture (it overlaps its predecessor by N or a little more).  Spreading the
patches evenly keeps the area coded twice near N per seam, instead of a last patch that mostly
repeats its predecessor.  Each patch is coded
independently as an NN region (samples beyond the picture edge-replicated by the encoder), and their
passes follow each other in one rANS stream in raster order of patches.

Merge (integer, exact): along each direction a patch weighs its sample at offset c by the tent
Min(2c + 1 if a patch precedes it, 2(p - c) - 1 if one follows), or 1 if it has no neighbour; in the
overlap of two patches the two weights add up to twice the overlap, a linear cross-fade.  The 2-D weight
is the product of the two directions'; each merged sample is Floor((Σ weight·sample + D/2) / D), D the
sum of its weights (separable: the product of the per-direction sums).  4:2:0 chroma uses the same rule
at half the sizes and origins (N even); 4:4:4 chroma merges each patch's upsampled chroma with the luma
weights.

Peak memory is bounded by the batch of patches being synthesised, one band of integer accumulators a
patch high, and the merged integer planes: the decoder never holds a full-resolution float tensor.
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

    def _axis(self, size: int) -> tuple[int, list[int]]:
        """(patch length, origins) along one direction: the fewest patches of at most P that cover
        ``size`` with overlaps of N, all of one 16-aligned length, spread evenly, the last flush."""
        if aligned(size) <= self.patch:
            return aligned(size), [0]
        n = -(-(size - self.overlap) // (self.patch - self.overlap))
        length = aligned(-(-(size + (n - 1) * self.overlap) // n))
        return length, [k * (length - self.overlap) for k in range(n - 1)] + [size - length]

    @property
    def xs(self) -> list[int]:
        return self._axis(self.width)[1]

    @property
    def ys(self) -> list[int]:
        return self._axis(self.height)[1]

    def patch_shape(self) -> tuple[int, int]:
        """(height, width) of every patch region: at most P, and the same for every patch."""
        return self._axis(self.height)[0], self._axis(self.width)[0]

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
    """Merges patches added in raster order (every patch of a row before the next row).

    Only one band of rows, a patch high, is accumulated (int64): when the first patch of the next row
    arrives, the rows above its origin can get no more weight and are divided out into the output
    planes.  So besides those planes the merger holds O(patch x width) samples, whatever the height."""

    def __init__(self, grid: PatchGrid, chroma_format: int, bit_depth: int):
        self.grid, self.chroma_format, self.bit_depth = grid, chroma_format, bit_depth
        shift = 1 if chroma_format == 1 else 0
        n_planes = 1 if chroma_format == 0 else 3
        self.shifts = [0] + [shift] * (n_planes - 1)
        ph, pw = grid.patch_shape()
        self.out = [np.empty((grid.height >> s, grid.width >> s), dtype=np.int32) for s in self.shifts]
        self.band = [np.zeros((ph >> s, grid.width >> s), dtype=np.int64) for s in self.shifts]
        self.band_y = 0                                        # luma row of the band's first row
        self.row = 0                                           # patch row being accumulated
        self.wy = [self._weights(grid.ys, ph >> s) for s in self.shifts]
        self.wx = [self._weights(grid.xs, pw >> s) for s in self.shifts]
        self.den_y = [self._coverage(grid.ys, w, out.shape[0], s) for w, out, s in zip(self.wy, self.out, self.shifts)]
        self.den_x = [self._coverage(grid.xs, w, out.shape[1], s) for w, out, s in zip(self.wx, self.out, self.shifts)]

    @staticmethod
    def _weights(origins: list[int], length: int) -> list[np.ndarray]:
        return [tent(length, k == 0, k == len(origins) - 1) for k in range(len(origins))]

    def add(self, x: int, y: int, planes: list[np.ndarray]) -> None:
        g = self.grid
        iy = g.ys.index(y)
        if iy < self.row:
            raise ValueError("patches must be added in raster order")
        while self.row < iy:
            self.row += 1
            self._emit(g.ys[self.row])
        ix = g.xs.index(x)
        for c, (band, plane, s) in enumerate(zip(self.band, planes, self.shifts)):
            top = (y - self.band_y) >> s
            h, w = min(plane.shape[0], self.out[c].shape[0] - (y >> s)), min(plane.shape[1], band.shape[1] - (x >> s))
            weight = self.wy[c][iy][:h, None] * self.wx[c][ix][None, :w]
            band[top:top + h, x >> s:(x >> s) + w] += weight * plane[:h, :w]

    def planes(self) -> list[np.ndarray]:
        """The merged planes: each accumulated sample divided by the sum of its weights."""
        self._emit(self.grid.height)
        return self.out

    def _emit(self, until: int) -> None:
        """Divide out the band's rows above luma row ``until`` and move the band down to it."""
        for c, (band, out, s) in enumerate(zip(self.band, self.out, self.shifts)):
            y0, rows = self.band_y >> s, min(until >> s, out.shape[0]) - (self.band_y >> s)
            den = self.den_y[c][y0:y0 + rows, None] * self.den_x[c][None, :]
            out[y0:y0 + rows] = (band[:rows] + den // 2) // den
            band[:band.shape[0] - rows] = band[rows:].copy()
            band[band.shape[0] - rows:] = 0
        self.band_y = until

    @staticmethod
    def _coverage(origins: list[int], weights: list[np.ndarray], size: int, shift: int) -> np.ndarray:
        total = np.zeros(size, dtype=np.int64)
        for o, w in zip(origins, weights):
            n = min(len(w), size - (o >> shift))
            total[o >> shift:(o >> shift) + n] += w[:n]
        return total


def decode_patches(bundle: NNBundle, payload: bytes, grid: PatchGrid, level: int, chroma_format: int,
                   bit_depth: int, trace_sink=None, batch: int = 8) -> list[np.ndarray]:
    """nn_picture()'s nn_latent_stream() coded as patches -> coded-size planes.  ``batch`` patches are
    synthesised at once (any batch gives the same samples: the synthesis is exact per item)."""
    stream: RansDecoder = open_stream(bundle, payload, trace_sink)
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

