"""The pictures the API takes and returns, and their validation (no file I/O, no OpenCV).

RGB (HxWx3) or gray (HxW) arrays of uint8/uint16, or a :class:`YuvFrame` of planar YCbCr samples.
The decoder's output conversion returns these types, so this module is part of the decoding path;
reading and writing files is ``hybridcodec.imageio``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bitstream.container import CHROMA_400, CHROMA_420, CHROMA_444
from bitstream.errors import InputError

MAX_SIDE = 32768
MAX_PIXELS = 1 << 28
CHROMA_FORMAT_IDC = {"400": CHROMA_400, "420": CHROMA_420, "444": CHROMA_444}   # name -> chroma_format_idc
CHROMA_FORMATS = tuple(CHROMA_FORMAT_IDC)


@dataclass
class YuvFrame:
    """One picture of planar YCbCr samples, as stored in .yuv/.y4m files.

    ``planes`` is [Y] for 4:0:0 and [Y, Cb, Cr] otherwise; samples are uint8 for 8-bit content and uint16
    for deeper content. For 4:2:0 each chroma plane is ceil(H/2) x ceil(W/2).
    """

    planes: list[np.ndarray]
    bit_depth: int
    chroma_format: str

    def __post_init__(self) -> None:
        check_bit_depth(self.bit_depth)
        check_chroma_format(self.chroma_format)
        if not self.planes or not all(isinstance(p, np.ndarray) and p.ndim == 2 for p in self.planes):
            raise InputError("YuvFrame planes must be a non-empty list of 2-D arrays")
        height, width = self.planes[0].shape
        expected = plane_shapes(width, height, self.chroma_format)
        if [p.shape for p in self.planes] != expected:
            raise InputError(f"plane shapes {[p.shape for p in self.planes]} do not match "
                             f"{self.chroma_format} at {width}x{height} (expected {expected})")
        dtype = sample_dtype(self.bit_depth)
        if any(p.dtype != dtype for p in self.planes):
            raise InputError(f"{self.bit_depth}-bit planes must have dtype {np.dtype(dtype).name}")
        if self.bit_depth not in (8, 16) and any(int(p.max(initial=0)) >> self.bit_depth for p in self.planes):
            raise InputError(f"sample values exceed the {self.bit_depth}-bit range")

    @property
    def width(self) -> int:
        return self.planes[0].shape[1]

    @property
    def height(self) -> int:
        return self.planes[0].shape[0]


def plane_shapes(width: int, height: int, chroma_format: str) -> list[tuple[int, int]]:
    """(rows, columns) of each plane; chroma of odd-sized 4:2:0 pictures rounds up, as ffmpeg stores it."""
    check_chroma_format(chroma_format)
    luma = (height, width)
    if chroma_format == "400":
        return [luma]
    chroma = luma if chroma_format == "444" else ((height + 1) // 2, (width + 1) // 2)
    return [luma, chroma, chroma]


def validate_image(arr: object) -> np.ndarray:
    """Check that ``arr`` is a picture the codec accepts and return it C-contiguous.

    Accepted: HxWx3 RGB or HxW (or HxWx1) gray, dtype uint8 or uint16. The shape is checked before
    anything is touched or copied, so an absurd size fails fast instead of exhausting memory.
    """
    if not isinstance(arr, np.ndarray):
        raise InputError(f"expected a numpy.ndarray, got {type(arr).__name__}")
    if arr.ndim not in (2, 3):
        raise InputError(f"expected HxW (gray) or HxWx3 (RGB), got {arr.ndim} dimensions {arr.shape}")
    if arr.size == 0:
        raise InputError(f"image is empty (shape {arr.shape})")
    height, width = arr.shape[:2]
    check_size(width, height)
    if arr.ndim == 3 and arr.shape[2] not in (1, 3):
        hint = "; drop alpha first (e.g. arr[..., :3])" if arr.shape[2] == 4 else ""
        raise InputError(f"expected 1 or 3 channels, got {arr.shape[2]}{hint}")
    if arr.dtype.kind == "f":
        raise InputError(f"floating-point images ({arr.dtype}) are not accepted; convert to uint8 or uint16 "
                         "first, e.g. np.clip(np.round(x * 255), 0, 255).astype(np.uint8)")
    if arr.dtype not in (np.uint8, np.uint16):
        raise InputError(f"unsupported dtype {arr.dtype}; expected uint8 or uint16")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return np.ascontiguousarray(arr)

def check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise InputError(f"picture size must be positive, got {width}x{height}")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise InputError(f"picture size {width}x{height} exceeds the limit "
                         f"({MAX_SIDE} per side, {MAX_PIXELS} pixels)")


def check_bit_depth(bit_depth: int) -> None:
    if not isinstance(bit_depth, (int, np.integer)) or not 8 <= bit_depth <= 16:
        raise InputError(f"bit depth must be an integer in 8..16, got {bit_depth!r}")


def check_chroma_format(chroma_format: str) -> None:
    if chroma_format not in CHROMA_FORMATS:
        raise InputError(f"chroma format must be one of {CHROMA_FORMATS}, got {chroma_format!r}")


def sample_dtype(bit_depth: int) -> type:
    return np.uint16 if bit_depth > 8 else np.uint8
