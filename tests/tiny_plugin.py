"""A tiny block-codec plugin for the tests: each region is coded as the means of its 8x8 blocks (4x4 in
subsampled chroma), quantised with a step that halves every level, one signed byte pair per mean.

It is deterministic (integer arithmetic only), knows nothing of the codec's internals, and exercises
every part of the plugin interface; ``Jittery`` is the same codec made deliberately non-deterministic
(its decoder output depends on the torch thread count, as a float reduction may).
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from bitstream.errors import BitstreamError
from nntools.encoder.plugin import BlockCodecEncoder, CodedBlock
from nntools.plugin import BlockCodec

BLOCK = 8


def step_of(level: int, bit_depth: int) -> int:
    return max(1, (64 >> level) << (bit_depth - 8))


def block_sizes(chroma_format: int) -> list[int]:
    return [BLOCK] + [BLOCK // 2 if chroma_format == 1 else BLOCK] * (2 if chroma_format else 0)


def means(plane: np.ndarray, b: int) -> np.ndarray:
    h, w = plane.shape
    padded = np.pad(plane.astype(np.int64), ((0, -h % b), (0, -w % b)), mode="edge")
    return padded.reshape(padded.shape[0] // b, b, padded.shape[1] // b, b).sum(axis=(1, 3)) // (b * b)


def expand(q: np.ndarray, step: int, b: int, h: int, w: int, bit_depth: int) -> np.ndarray:
    return np.clip(np.kron(q * step, np.ones((b, b), np.int64))[:h, :w], 0, (1 << bit_depth) - 1).astype(np.int32)


def plane_shapes(height: int, width: int, chroma_format: int) -> list[tuple[int, int]]:
    s = 1 if chroma_format == 1 else 0
    return [(height, width)] + [((height + s) >> s, (width + s) >> s)] * (2 if chroma_format else 0)


class BlockMeans(BlockCodec):
    name = "tiny-means"
    levels = 6

    def __init__(self, salt: bytes = b""):
        self.salt = salt          # "other weights": another model id

    @property
    def model_id(self) -> bytes:
        return hashlib.sha256(b"tiny-means" + self.salt).digest()[:16]

    @property
    def level_map(self) -> dict[int, np.ndarray]:
        row = np.clip((51 - np.arange(52)) // 9, 0, self.levels - 1)
        return {8: row, 10: row}

    def open_regions(self, payload: bytes, chroma_format: int, bit_depth: int, trace_sink=None, meter=False):
        return Reader(self, payload, chroma_format, bit_depth)

    def encoder(self, picture):
        return MeansEncoder(self, picture)

    def output(self, q: list[np.ndarray], step: int, height: int, width: int, chroma_format: int,
               bit_depth: int) -> list[np.ndarray]:
        return [expand(v, step, b, h, w, bit_depth)
                for v, b, (h, w) in zip(q, block_sizes(chroma_format), plane_shapes(height, width, chroma_format))]


class Reader:
    def __init__(self, codec: BlockMeans, payload: bytes, chroma_format: int, bit_depth: int):
        self.codec, self.data, self.pos = codec, np.frombuffer(payload, dtype=">i2"), 0
        self.chroma_format, self.bit_depth = chroma_format, bit_depth
        self.bits = 0.0

    def decode(self, height: int, width: int, level: int) -> list[np.ndarray]:
        q = []
        for b, (h, w) in zip(block_sizes(self.chroma_format), plane_shapes(height, width, self.chroma_format)):
            n = (-(-h // b), -(-w // b))
            if self.pos + n[0] * n[1] > len(self.data):
                raise BitstreamError("tiny-means: payload too short")
            q.append(self.data[self.pos:self.pos + n[0] * n[1]].astype(np.int64).reshape(n))
            self.pos += n[0] * n[1]
            self.bits += 16.0 * n[0] * n[1]
        return self.codec.output(q, step_of(level, self.bit_depth), height, width, self.chroma_format, self.bit_depth)

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise BitstreamError("tiny-means: bytes left over")


class MeansEncoder(BlockCodecEncoder):
    def code(self, planes: list[np.ndarray], level: int) -> CodedBlock:
        p = self.picture
        step = step_of(level, p.bit_depth)
        q = [(means(plane, b) + step // 2) // step for plane, b in zip(planes, block_sizes(p.chroma_format))]
        h, w = planes[0].shape
        recon = self.codec.output(q, step, h, w, p.chroma_format, p.bit_depth)
        return CodedBlock(recon, 16.0 * sum(v.size for v in q), b"".join(v.astype(">i2").tobytes() for v in q))

    def stream(self, blocks: list[CodedBlock]) -> bytes:
        return b"".join(b.data for b in blocks)


class Jittery(BlockMeans):
    """Declares itself deterministic, but its samples move with the torch thread count."""
    name = "tiny-jittery"

    def output(self, q, step, height, width, chroma_format, bit_depth):
        planes = super().output(q, step, height, width, chroma_format, bit_depth)
        if torch.get_num_threads() > 1:
            planes[0] = np.clip(planes[0] + 1, 0, (1 << bit_depth) - 1).astype(np.int32)
        return planes


class FloatDecoding(BlockMeans):
    """A codec that does not promise exact decoding (as float-decoding learned codecs do)."""
    name = "tiny-float"
    deterministic = False
