"""The decoder of the public API (normative path only: it imports no encoder module)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bitstream.container import PictureHeader, SubstreamType, read_container
from bitstream.errors import BitstreamError
from host.decoder import DecodedPicture, decode_host
from host.partition import PictureGeometry
from hybridcodec.picture import output_picture


@dataclass
class DecodeResult:
    header: PictureHeader
    picture: np.ndarray
    host: DecodedPicture | None   # coding structure and per-category bits (host and hybrid pictures)


def decode_full(data: bytes, trace_sink=None, keep_structure: bool = True) -> DecodeResult:
    """Picture, header and (with ``keep_structure``) the coding tree of every CTU; without it, memory
    holds samples only (``decode``, the CLI)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BitstreamError(f"expected bytes, got {type(data).__name__}")
    header, substreams = read_container(bytes(data), trace_sink)
    streams = dict(substreams)
    if len(streams) != len(substreams):
        raise BitstreamError("duplicate substream type")
    if set(streams) == {SubstreamType.NN_LATENTS}:
        planes = _decode_nn_picture(header, streams[SubstreamType.NN_LATENTS], trace_sink)
        return DecodeResult(header, output_picture(planes, header), None)
    if SubstreamType.HOST_CABAC not in streams:
        raise BitstreamError(f"unsupported combination of substreams {sorted(int(t) for t in streams)}")
    nn = None
    if header.nn_compress_enable_flag:
        from hybridcodec.nn_blocks import NNBlockDecoder, block_codec_of
        nn = NNBlockDecoder(header, block_codec_of(header), streams.get(SubstreamType.NN_LATENTS), trace_sink)
    elif SubstreamType.NN_LATENTS in streams:
        raise BitstreamError("NN substream in a picture with nn_compress_enable_flag = 0")
    host = decode_host(header, streams[SubstreamType.HOST_CABAC], trace_sink=trace_sink, nn=nn,
                       post_filter=loop_filter_for(header), keep_structure=keep_structure)
    return DecodeResult(header, output_picture(host.planes, header), host)


def _decode_nn_picture(header: PictureHeader, payload: bytes, trace_sink=None) -> list[np.ndarray]:
    """Whole picture coded by the neural tool (nn_compress_enable_flag = 1 and no host substream)."""
    from hybridcodec.nn_blocks import block_codec_of, check_region
    from nntools.plugin import read_nn_picture
    if not header.nn_compress_enable_flag:
        raise BitstreamError("NN substream in a picture with nn_compress_enable_flag = 0")
    geo = PictureGeometry.from_header(header)
    codec = block_codec_of(header)
    level, stream = read_nn_picture(codec.levels, payload, trace_sink)
    planes = codec.decode_picture(stream, level, geo.coded_height, geo.coded_width, header.chroma_format_idc,
                                  header.BitDepth, header.NnPatchSize, trace_sink)
    return check_region(planes, header, geo.coded_height, geo.coded_width)


def loop_filter_for(header: PictureHeader):
    """The neural loop filter of a picture with nn_lf_enabled_flag = 1 (loaded only then), else None."""
    if not header.nn_lf_enabled_flag:
        return None
    from nntools.registry import loop_filter_for as installed
    return installed(header.nn_lf_model_id).post_filter(header)


def decode(data: bytes) -> np.ndarray:
    """Decode a hybridcodec bitstream to an array of the shape and dtype that was encoded."""
    return decode_full(data, keep_structure=False).picture
