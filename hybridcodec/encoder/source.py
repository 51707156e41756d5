"""The encoder's input: user pictures (RGB/gray arrays or YCbCr frames) to the planes the codec codes.

Pictures are coded at ``internal_bit_depth`` bits (VTM's InternalBitDepth): 10 by default, so that
8-bit pictures keep two more bits of the colour conversion and of every filter's correction; 8; or 0,
the input's own (8-bit input at 8, 16-bit input at 10, rounded, YCbCr input at its bit depth).  The
decoder's output conversion (``hybridcodec.picture``) returns the input's bit depth either way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bitstream.container import COLOR_MATRIX_BT601_FULL, COLOR_MATRIX_YCBCR
from bitstream.errors import InputError
from host.color import pad_planes, rescale_samples, rgb_to_planes
from host.partition import CODED_SIZE_MULTIPLE
from hybridcodec.config import EncoderConfig
from hybridcodec.frame import CHROMA_FORMAT_IDC, YuvFrame, validate_image


@dataclass
class SourcePicture:
    planes: list[np.ndarray]      # padded to the coded size
    width: int
    height: int
    bit_depth: int
    chroma_format: int
    output_channels: int
    output_bit_depth: int
    color_matrix: int


def prepare_source(image: np.ndarray | YuvFrame, cfg: EncoderConfig) -> SourcePicture:
    if isinstance(image, YuvFrame):
        return _prepare_yuv(image, cfg)
    image = validate_image(image)
    height, width = image.shape[:2]
    gray = image.ndim == 2
    out_bits = 16 if image.dtype == np.uint16 else 8
    bit_depth = cfg.internal_bit_depth or (10 if out_bits == 16 else 8)
    chroma_format = 0 if gray else CHROMA_FORMAT_IDC[cfg.chroma_format]
    planes = rgb_to_planes(image, bit_depth, chroma_format, input_bit_depth=out_bits)
    planes = pad_planes(planes, CODED_SIZE_MULTIPLE, CODED_SIZE_MULTIPLE, chroma_format)
    return SourcePicture(planes, width, height, bit_depth, chroma_format, 1 if gray else 3, out_bits,
                         COLOR_MATRIX_BT601_FULL)


def _prepare_yuv(frame: YuvFrame, cfg: EncoderConfig) -> SourcePicture:
    if frame.bit_depth not in (8, 10):
        raise InputError(f"YCbCr input must be 8 or 10 bits, got {frame.bit_depth}")
    chroma_format = CHROMA_FORMAT_IDC[frame.chroma_format]
    bit_depth = cfg.internal_bit_depth or frame.bit_depth
    planes = [rescale_samples(p.astype(np.int32), frame.bit_depth, bit_depth) for p in frame.planes]
    planes = pad_planes(planes, CODED_SIZE_MULTIPLE, CODED_SIZE_MULTIPLE, chroma_format)
    return SourcePicture(planes, frame.width, frame.height, bit_depth, chroma_format,
                         len(frame.planes), 8 if frame.bit_depth == 8 else 16, COLOR_MATRIX_YCBCR)
