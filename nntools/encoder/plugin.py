"""The encoder side of a block-codec plugin (encoder-only): what the hybrid search asks of it.

For each picture the codec makes one ``BlockCodecEncoder`` (``BlockCodec.encoder(PictureContext)``).
The hybrid search calls ``code`` for every CU it gives an NN trial and compares ``bits`` and the
returned reconstruction with the host's J = SSE + λ·R; ``stream`` then writes the CUs it kept, in
decoding order.  ``code_picture`` codes a whole picture (mode nn, and the hybrid's whole-picture check).
The reconstruction a plugin returns must be what its decoder side will produce from ``stream``'s
bytes, bit for bit (``nntools.conformance.check`` tests it).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass
class PictureContext:
    """What an encoder side knows of the picture it codes regions of."""
    original: list[np.ndarray]     # the source planes (Y, Cb, Cr of the coded size), integer samples
    chroma_format: int             # chroma_format_idc: 0, 1 (4:2:0) or 3
    bit_depth: int                 # 8 or 10
    lam: float                     # the host's λ: J = SSE (sample units) + lam · bits
    config: object = None          # the EncoderConfig (a plugin reads the options it knows, e.g. nn_refine_*)


@dataclass
class CodedBlock:
    planes: list[np.ndarray]       # the decoder's reconstruction of the region
    bits: float                    # its cost in the NN substream (an estimate is fine: it decides J)
    data: object = None            # what ``stream`` needs to write it


class BlockCodecEncoder(ABC):
    def __init__(self, codec, picture: PictureContext):
        self.codec, self.picture = codec, picture

    @abstractmethod
    def code(self, planes: list[np.ndarray], level: int) -> CodedBlock:
        """Code a region (its planes: a CU's original samples, or what the hybrid asks to code instead,
        e.g. a residual) at ``level``."""

    @abstractmethod
    def stream(self, blocks: list[CodedBlock]) -> bytes:
        """The NN substream of a hybrid picture: these blocks, in decoding order."""

    def code_picture(self, level: int, patch_size: int = 0) -> tuple[bytes, list[np.ndarray]]:
        """(the payload after nn_level, the reconstruction) of the whole picture: by default one region."""
        if patch_size:
            raise NotImplementedError(f"{self.codec.name!r} does not code pictures as patches")
        block = self.code(self.picture.original, level)
        return self.stream([block]), block.planes
