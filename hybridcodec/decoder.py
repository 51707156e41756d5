"""The decoder of the public API (normative path only: it imports no encoder module)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bitstream.container import PictureHeader, SubstreamType, read_container
from bitstream.errors import BitstreamError
from host.decoder import DecodedPicture, decode_host
from hybridcodec.picture import output_picture


@dataclass
class DecodeResult:
    header: PictureHeader
    picture: np.ndarray
    host: DecodedPicture          # coding structure and per-category bits, for inspection


def decode_full(data: bytes, trace_sink=None) -> DecodeResult:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BitstreamError(f"expected bytes, got {type(data).__name__}")
    header, substreams = read_container(bytes(data))
    streams = dict(substreams)
    if len(streams) != len(substreams):
        raise BitstreamError("duplicate substream type")
    if SubstreamType.HOST_CABAC not in streams:
        raise BitstreamError("missing host substream")
    host = decode_host(header, streams[SubstreamType.HOST_CABAC], trace_sink=trace_sink)
    return DecodeResult(header, output_picture(host.planes, header), host)


def decode(data: bytes) -> np.ndarray:
    """Decode a hybridcodec bitstream to an array of the shape and dtype that was encoded."""
    return decode_full(data).picture
