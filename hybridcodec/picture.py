"""Conversion between user pictures (RGB/gray arrays) and the planes the codec codes.

8-bit input is coded at 8 bits; 16-bit input at 10 bits (rounded), and returned as 16-bit again.
The output conversion is normative: the encoder's reconstruction goes through exactly this function.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bitstream.container import COLOR_MATRIX_BT601_FULL, COLOR_MATRIX_YCBCR, PictureHeader
from host.color import crop_planes, pad_planes, planes_to_rgb, rgb_to_planes
from host.partition import CODED_SIZE_MULTIPLE
from hybridcodec.config import CHROMA_FORMATS, EncoderConfig
from bitstream.errors import InputError
from hybridcodec.imageio import YuvFrame, validate_image


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


_FORMAT_NAMES = {0: "400", 1: "420", 3: "444"}


def prepare_source(image: np.ndarray | YuvFrame, cfg: EncoderConfig) -> SourcePicture:
    if isinstance(image, YuvFrame):
        return _prepare_yuv(image)
    image = validate_image(image)
    height, width = image.shape[:2]
    gray = image.ndim == 2
    out_bits = 16 if image.dtype == np.uint16 else 8
    bit_depth = 10 if out_bits == 16 else 8
    chroma_format = 0 if gray else CHROMA_FORMATS[cfg.chroma_format]
    planes = rgb_to_planes(image, bit_depth, chroma_format, input_bit_depth=out_bits)
    planes = pad_planes(planes, CODED_SIZE_MULTIPLE, CODED_SIZE_MULTIPLE, chroma_format)
    return SourcePicture(planes, width, height, bit_depth, chroma_format, 1 if gray else 3, out_bits,
                         COLOR_MATRIX_BT601_FULL)


def _prepare_yuv(frame: YuvFrame) -> SourcePicture:
    if frame.bit_depth not in (8, 10):
        raise InputError(f"YCbCr input must be 8 or 10 bits, got {frame.bit_depth}")
    chroma_format = CHROMA_FORMATS[frame.chroma_format]
    planes = pad_planes([p.astype(np.int32) for p in frame.planes], CODED_SIZE_MULTIPLE,
                        CODED_SIZE_MULTIPLE, chroma_format)
    return SourcePicture(planes, frame.width, frame.height, frame.bit_depth, chroma_format,
                         len(frame.planes), 8 if frame.bit_depth == 8 else 16, COLOR_MATRIX_YCBCR)


def output_picture(planes: list[np.ndarray], header: PictureHeader) -> np.ndarray | YuvFrame:
    """Decoded planes (coded size) -> what the user gave: an array of the same shape and dtype, or a
    YuvFrame for YCbCr input."""
    planes = crop_planes(planes, header.width, header.height, header.chroma_format)
    if header.color_matrix == COLOR_MATRIX_YCBCR:
        dtype = np.uint8 if header.bit_depth == 8 else np.uint16
        return YuvFrame([p.astype(dtype) for p in planes], header.bit_depth,
                        _FORMAT_NAMES[header.chroma_format])
    rgb = planes_to_rgb(planes, header.bit_depth, header.chroma_format,
                        output_bit_depth=header.output_bit_depth)
    return np.ascontiguousarray(rgb[..., 0]) if header.output_channels == 1 else rgb
