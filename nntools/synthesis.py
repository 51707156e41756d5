"""Synthesis of a latent field into codec planes, tile by tile, in bounded memory (normative).

The decoded samples of an NN picture are those of ``g_s`` run on the picture's whole latent field ŷ
(one region, or the assembled patches of ``nntools.patches``).  Every layer of ``g_s`` is local, so an
output sample depends only on latents within ``synthesis_margin`` positions of its own; running
``g_s`` on a tile of the field extended by that margin (where the field has samples) and keeping the
tile's own output gives the whole-field samples exactly.  The decoder therefore synthesises in tiles of
at most TILE latent positions a side, rows of tiles at a time as the field's rows arrive, and never holds
the full-resolution float activations of the picture.  Tile size is not part of the format: any tiling
gives the same samples (tested).
"""
from __future__ import annotations

import numpy as np
import torch

from host.color import upsample_chroma
from nntools.architecture import Layer, networks
from nntools.codec import ALIGN, NNBundle

TILE = 16          # latent positions per tile side (256 luma samples): measured fastest, ~400 MB


def synthesis_reach(layers: list[Layer]) -> int:
    """How many output samples, counted from a cut in the input, a chain of layers gets wrong when the
    input beyond the cut is zero instead of the field's samples (the larger of the two sides)."""
    reach = 0
    for layer in layers:
        side = max(layer.padding, layer.kernel - 1 - layer.padding)
        if layer.kind == "deconv":
            reach = layer.stride * reach + side
        elif layer.kind == "conv":
            reach = -(-reach // layer.stride) + side
    return reach


def synthesis_margin(bundle: NNBundle) -> int:
    """Latent positions a tile must be extended by so that its own output is exact: g_s's reach in
    output samples over its upsampling factor (8 half-resolution samples per latent), rounded up."""
    return -(-synthesis_reach(networks(bundle.config)["g_s"]) // (ALIGN // 2))


def output_samples(x_hat: torch.Tensor, bit_depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact synthesis output (1, 6, h, w) -> integer (luma 2h x 2w, Cb h x w, Cr h x w): channels 0-3
    are the 2x2 luma phases (pixel shuffle), 4 and 5 the 4:2:0 chroma."""
    peak = (1 << bit_depth) - 1
    samples = torch.clamp(torch.round((x_hat + 0.5) * peak), 0, peak)
    luma = torch.nn.functional.pixel_shuffle(samples[:, :4], 2)[0, 0]
    return (luma.numpy().astype(np.int32), samples[0, 4].numpy().astype(np.int32),
            samples[0, 5].numpy().astype(np.int32))


class FieldSynthesis:
    """Planes of a height x width region from its latent field, fed in bands of whole latent rows, top
    to bottom.  A band is synthesised once the margin of rows below it has arrived, so besides the
    output planes it holds at most two bands of latents and one tile's activations."""

    def __init__(self, bundle: NNBundle, height: int, width: int, chroma_format: int, bit_depth: int):
        self.bundle, self.height, self.width = bundle, height, width
        self.chroma_format, self.bit_depth = chroma_format, bit_depth
        self.margin = synthesis_margin(bundle)
        self.rows = -(-height // ALIGN)                          # latent rows of the field
        ch, cw = -(-height // 2), -(-width // 2)
        self.luma = np.empty((height, width), dtype=np.int32)
        self.chroma = [np.empty((ch, cw), dtype=np.int32) for _ in range(2)] if chroma_format else []
        self.field: torch.Tensor | None = None                   # latent rows [self.top, ...) kept
        self.top = 0                                             # first latent row held
        self.done = 0                                            # latent rows synthesised

    def add(self, rows: torch.Tensor) -> None:
        """The next latent rows (1, M, r, width / 16) of the field."""
        self.field = rows if self.field is None else torch.cat([self.field, rows], dim=2)
        available = self.top + self.field.shape[2]
        if available > self.rows:
            raise ValueError("more latent rows than the field has")
        ready = self.rows if available == self.rows else available - self.margin
        if ready > self.done:
            self._synthesise(self.done, ready)

    def planes(self) -> list[np.ndarray]:
        if self.done != self.rows:
            raise ValueError(f"latent field incomplete: {self.done} of {self.rows} rows synthesised")
        if self.chroma_format == 3:
            return [self.luma] + [upsample_chroma(c, self.height, self.width) for c in self.chroma]
        return [self.luma] + self.chroma

    def _synthesise(self, first: int, last: int) -> None:
        """Latent rows [first, last) into the planes, then drop the rows no later band needs."""
        m, cols = self.margin, self.field.shape[3]
        for r0 in range(first, last, TILE):
            r1 = min(last, r0 + TILE)
            a0, a1 = max(0, r0 - m), min(self.top + self.field.shape[2], r1 + m)
            for c0 in range(0, cols, TILE):
                c1 = min(cols, c0 + TILE)
                b0, b1 = max(0, c0 - m), min(cols, c1 + m)
                x_hat = self.bundle.g_s(self.field[:, :, a0 - self.top:a1 - self.top, b0:b1])
                k = ALIGN // 2                                   # half-resolution samples per latent
                tile = x_hat[:, :, (r0 - a0) * k:(r1 - a0) * k, (c0 - b0) * k:(c1 - b0) * k]
                self._store(output_samples(tile, self.bit_depth), r0 * k, c0 * k)
        self.done = last
        keep = max(0, last - m - self.top)
        self.field, self.top = self.field[:, :, keep:], self.top + keep

    def _store(self, samples: tuple[np.ndarray, np.ndarray, np.ndarray], y: int, x: int) -> None:
        """A tile's samples at half-resolution origin (y, x), cropped to the region."""
        luma, cb, cr = samples
        h, w = min(luma.shape[0], self.height - 2 * y), min(luma.shape[1], self.width - 2 * x)
        self.luma[2 * y:2 * y + h, 2 * x:2 * x + w] = luma[:h, :w]
        for plane, part in zip(self.chroma, (cb, cr)):
            h, w = min(part.shape[0], plane.shape[0] - y), min(part.shape[1], plane.shape[1] - x)
            plane[y:y + h, x:x + w] = part[:h, :w]


def synthesise(bundle: NNBundle, y_hat: torch.Tensor, height: int, width: int, chroma_format: int,
               bit_depth: int) -> list[np.ndarray]:
    """The planes of one whole latent field (an NN picture coded in one piece)."""
    synthesis = FieldSynthesis(bundle, height, width, chroma_format, bit_depth)
    synthesis.add(y_hat)
    return synthesis.planes()
