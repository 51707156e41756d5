"""Neural-tool CUs inside the host coding tree: level derivation and NN-CU decoding (normative).

A CU with nn_compress_flag = 1 is reconstructed by the neural tool from the next region of the NN
substream (``nntools.codec.decode_region``), at the level Level_Final = Clip3(0, levels - 1,
Level_Map[bit depth][QP] + nn_level_offset + nn_delta_level) (seed 002 ¶153-158).  Level_Map is part
of the model's weights file (fitted to the model, see benchmarks/fit_level_map.py), so it is covered by
the model identifier.
"""
from __future__ import annotations

import numpy as np

from bitstream.container import PictureHeader
from bitstream.errors import BitstreamError
from host.partition import CodingUnit
from host.syntax import NNTreeParams
from nntools.codec import NNBundle, decode_region, open_stream
from nntools.picture import output_to_planes


def base_level(bundle: NNBundle, header: PictureHeader) -> int:
    """Level_Map[bit depth][QP] + nn_level_offset, clipped to the model's levels."""
    mapped = int(bundle.level_map[header.BitDepth][header.pic_qp])
    return min(max(mapped + header.nn_level_offset, 0), bundle.levels - 1)


def tree_params(bundle: NNBundle, header: PictureHeader) -> NNTreeParams:
    return NNTreeParams.from_header(header, base_level(bundle, header), bundle.levels)


class NNBlockDecoder:
    """Decodes NN-coded CUs, in coding order, from the picture's NN substream."""

    def __init__(self, header: PictureHeader, bundle: NNBundle, payload: bytes | None, trace_sink=None):
        self.header = header
        self.bundle = bundle
        self.params = tree_params(bundle, header)
        self.stream = open_stream(bundle, payload, trace_sink) if payload is not None else None

    def decode_cu(self, cu: CodingUnit) -> list[np.ndarray]:
        if self.stream is None:
            raise BitstreamError(f"CU at ({cu.x},{cu.y}) is NN-coded but the picture has no NN substream")
        half = cu.size // 2
        x_hat = decode_region(self.bundle, self.stream, half, half, cu.nn_level)
        return output_to_planes(x_hat, self.header.chroma_format_idc, self.header.BitDepth, cu.size, cu.size)

    def finish(self) -> None:
        if self.stream is not None:
            self.stream.finish()
