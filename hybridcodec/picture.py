"""Output conversion (normative): decoded planes to the picture the user gave the encoder.

RGB pictures were coded as BT.601 full-range YCbCr and come back as RGB of the input's bit depth
whatever the bit depth it was coded at; YCbCr input comes back as a YuvFrame of 8 bits
(``output_bit_depth_16_flag`` = 0) or 10 bits (1), its samples rounded or shifted from ``BitDepth``.
The encoder's reconstruction goes through exactly this function.
"""
from __future__ import annotations

import numpy as np

from bitstream.container import COLOR_MATRIX_YCBCR, PictureHeader
from host.color import crop_planes, planes_to_rgb, rescale_samples
from hybridcodec.frame import CHROMA_FORMAT_IDC, YuvFrame

CHROMA_FORMAT_NAMES = {idc: name for name, idc in CHROMA_FORMAT_IDC.items()}


def output_picture(planes: list[np.ndarray], header: PictureHeader) -> np.ndarray | YuvFrame:
    """Decoded planes (coded size) -> what the user gave: an array of the same shape and dtype, or a
    YuvFrame for YCbCr input."""
    planes = crop_planes(planes, header.PicWidthInLumaSamples, header.PicHeightInLumaSamples, header.chroma_format_idc)
    if header.color_matrix == COLOR_MATRIX_YCBCR:
        bits = 10 if header.output_bit_depth_16_flag else 8
        dtype = np.uint8 if bits == 8 else np.uint16
        return YuvFrame([rescale_samples(p, header.BitDepth, bits).astype(dtype) for p in planes], bits,
                        CHROMA_FORMAT_NAMES[header.chroma_format_idc])
    rgb = planes_to_rgb(planes, header.BitDepth, header.chroma_format_idc,
                        output_bit_depth=header.OutputBitDepth)
    return np.ascontiguousarray(rgb[..., 0]) if header.OutputChannels == 1 else rgb
