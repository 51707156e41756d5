"""The built-in block codec ``hyperprior-4p`` as a plugin (normative decoder side).

Integer weights, fixed-point exact networks and rANS with integer CDF tables (``nntools.codec``), so it
is deterministic; whole pictures are synthesised in exact tiles (``nntools.synthesis``) or coded as
patches (``nntools.patches``).  Its encoder side is ``nntools.encoder.hyperprior``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bitstream.rans import RansDecoder
from nntools.codec import NNBundle, decode_latents, decode_region, open_stream
from nntools.patches import PatchGrid, decode_patches
from nntools.picture import aligned, output_to_planes
from nntools.plugin import BlockCodec, name_from_file
from nntools.synthesis import synthesise
from nntools.zoo import DEFAULT_MODEL, load_bundle


class HyperpriorCodec(BlockCodec):
    patches = True

    def __init__(self, name: str, bundle: NNBundle):
        self.name, self.bundle, self.levels = name, bundle, bundle.levels

    @property
    def model_id(self) -> bytes:
        return self.bundle.model_id

    @property
    def level_map(self) -> dict[int, np.ndarray]:
        return self.bundle.level_map

    def open_regions(self, payload: bytes, chroma_format: int, bit_depth: int, trace_sink=None,
                     meter: bool = False) -> "Regions":
        return Regions(self.bundle, open_stream(self.bundle, payload, trace_sink, meter), chroma_format, bit_depth)

    def decode_picture(self, payload: bytes, level: int, height: int, width: int, chroma_format: int,
                       bit_depth: int, patch_size: int = 0, trace_sink=None) -> list[np.ndarray]:
        if patch_size:
            grid = PatchGrid(width, height, patch_size)
            return decode_patches(self.bundle, payload, grid, level, chroma_format, bit_depth, trace_sink)
        y_hat = decode_latents(self.bundle, payload, aligned(height) // 2, aligned(width) // 2, level, trace_sink)
        return synthesise(self.bundle, y_hat, height, width, chroma_format, bit_depth)

    def encoder(self, picture):
        from nntools.encoder.hyperprior import HyperpriorEncoder
        return HyperpriorEncoder(self, picture)


class Regions:
    """NN-coded CUs from the picture's one rANS stream; ``bits``: the ideal code length of the latents
    read so far when metered (the estimate the encoder's search used), for the inspector's per-CU bits."""

    def __init__(self, bundle: NNBundle, stream: RansDecoder, chroma_format: int, bit_depth: int):
        self.bundle, self.stream = bundle, stream
        self.chroma_format, self.bit_depth = chroma_format, bit_depth

    @property
    def bits(self) -> float | None:
        return self.stream.bits

    def decode(self, height: int, width: int, level: int) -> list[np.ndarray]:
        x_hat = decode_region(self.bundle, self.stream, height // 2, width // 2, level)
        return output_to_planes(x_hat, self.chroma_format, self.bit_depth, height, width)

    def finish(self) -> None:
        self.stream.finish()


def packaged() -> HyperpriorCodec:
    return HyperpriorCodec(DEFAULT_MODEL, load_bundle(DEFAULT_MODEL))


def from_file(path: Path) -> HyperpriorCodec:
    """A weights file of this architecture (an experiment's export), named after the file."""
    bundle = load_bundle(path)
    return HyperpriorCodec(name_from_file(path, bundle.model_id), bundle)
