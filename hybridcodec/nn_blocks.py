"""Neural-tool CUs inside the host coding tree: the block codec, level derivation, NN-CU decoding (normative).

The picture's block codec is the installed plugin that nn_model_name names, with the weights model_id
names (``nntools.registry``).  A CU with nn_compress_flag = 1 is reconstructed by it from the next
region of the NN substream, at the level Level_Final = Clip3(0, levels - 1, Level_Map[bit depth][QP] +
nn_level_offset + nn_delta_level) (seed 002 ¶153-158).  Level_Map belongs to the codec's weights (fitted
to the model, ``nntools.training.level_map``), so it is covered by the model identifier.
"""
from __future__ import annotations

import numpy as np

from bitstream.container import PictureHeader
from bitstream.errors import BitstreamError
from host.partition import CodingUnit
from host.syntax import NNTreeParams
from nntools.plugin import BlockCodec, check_level_map


def block_codec_of(header: PictureHeader) -> BlockCodec:
    """The installed block codec the header names; a stream marked deterministic is not decoded by a
    codec that does not promise it (other code under the same name and weights)."""
    from nntools.registry import block_codec_for
    codec = block_codec_for(header.nn_model_name, header.model_id)
    if not header.nn_nondeterministic_flag and not codec.deterministic:
        raise BitstreamError(f"the stream is marked deterministic (nn_nondeterministic_flag = 0), but the "
                             f"installed {codec.name!r} declares itself non-deterministic")
    return codec


def base_level(codec: BlockCodec, header: PictureHeader) -> int:
    """Level_Map[bit depth][QP] + nn_level_offset, clipped to the model's levels."""
    mapped = int(check_level_map(codec)[header.BitDepth][header.pic_qp])
    return min(max(mapped + header.nn_level_offset, 0), codec.levels - 1)


def tree_params(codec: BlockCodec, header: PictureHeader) -> NNTreeParams:
    return NNTreeParams.from_header(header, base_level(codec, header), codec.levels)


class NNBlockDecoder:
    """Decodes NN-coded CUs, in coding order, from the picture's NN substream."""

    def __init__(self, header: PictureHeader, codec: BlockCodec, payload: bytes | None, trace_sink=None,
                 meter: bool = False):
        self.header = header
        self.codec = codec
        self.params = tree_params(codec, header)
        self.stream = None
        if payload is not None:
            self.stream = codec.open_regions(payload, header.chroma_format_idc, header.BitDepth, trace_sink, meter)

    def decode_cu(self, cu: CodingUnit) -> list[np.ndarray]:
        if self.stream is None:
            raise BitstreamError(f"CU at ({cu.x},{cu.y}) is NN-coded but the picture has no NN substream")
        planes = self.stream.decode(cu.size, cu.size, cu.nn_level)
        return check_region(planes, self.header, cu.size, cu.size)

    def finish(self) -> None:
        if self.stream is not None:
            self.stream.finish()


def check_region(planes: list[np.ndarray], header: PictureHeader, height: int, width: int) -> list[np.ndarray]:
    """A plugin's region as the codec needs it: one plane per component, of the region's shape, integer
    samples within the bit depth (a faulty plugin fails here, not inside the host)."""
    shift = 1 if header.chroma_format_idc == 1 else 0
    shapes = [(height, width)] + [((height + shift) >> shift, (width + shift) >> shift)] * (
        2 if header.chroma_format_idc else 0)
    peak = (1 << header.BitDepth) - 1
    if [np.shape(p) for p in planes] != shapes or not all(
            isinstance(p, np.ndarray) and p.dtype.kind in "iu" and p.min() >= 0 and p.max() <= peak for p in planes):
        raise BitstreamError(f"neural tool returned planes {[np.shape(p) for p in planes]} for a region needing "
                             f"{shapes} of integers 0..{peak}")
    return planes
