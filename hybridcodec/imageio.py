"""Reading, writing and validating pictures for researchers.

Ordinary image files (PNG, JPEG, PPM/PGM, TIFF, BMP, WebP) go through OpenCV and come back as RGB
(HxWx3) or gray (HxW) arrays of uint8 or uint16. Raw planar ``.yuv`` and ``.y4m`` files come back as a
:class:`YuvFrame` instead: codec researchers feed YCbCr test sequences directly and a round trip through
RGB would change the samples.

Every failure a user can provoke (missing file, unknown format, wrong size) raises
:class:`bitstream.errors.InputError`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from bitstream.errors import InputError
from hybridcodec.frame import (YuvFrame, check_bit_depth, check_size, plane_shapes,  # noqa: F401 (re-exported)
                               sample_dtype, validate_image)

_OPENCV_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".pnm", ".pbm", ".tif", ".tiff", ".bmp", ".webp"}
_Y4M_MAGIC = b"YUV4MPEG2"
_Y4M_COLOURSPACE = re.compile(r"C(420|444|mono)(?:jpeg|paldv|mpeg2)?(?:p?(\d+))?")


def read_image(path: str | os.PathLike, *, size: str | tuple[int, int] | None = None, bit_depth: int = 8,
               chroma_format: str = "420", frame: int = 0) -> np.ndarray | YuvFrame:
    """Read a picture file.

    OpenCV formats return RGB HxWx3 or gray HxW (uint8/uint16). An alpha channel is discarded (the colour
    samples are kept as stored, not composited over a background). ``.yuv`` needs ``size`` ("WxH" or
    (W, H)), ``bit_depth`` (>8 means little-endian uint16 samples) and ``chroma_format``; ``.y4m`` takes
    all three from its header (a ``size`` that contradicts the header is an error). Both return frame
    number ``frame`` as a :class:`YuvFrame`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".yuv":
        if size is None:
            raise InputError(".yuv files carry no header: pass size='WxH'")
        width, height = _parse_size(size)
        return _read_yuv(path, width, height, bit_depth, chroma_format, frame)
    if suffix == ".y4m":
        return _read_y4m(path, None if size is None else _parse_size(size), frame)
    return _read_with_opencv(path)


def write_image(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an RGB or gray uint8/uint16 array in the format named by the file suffix."""
    array = validate_image(array)
    path = Path(path)
    if path.suffix.lower() not in _OPENCV_SUFFIXES:
        raise InputError(f"unknown image format {path.suffix!r}; use one of {sorted(_OPENCV_SUFFIXES)}")
    bgr = array if array.ndim == 2 else cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    try:
        ok, encoded = cv2.imencode(path.suffix.lower(), bgr)
    except cv2.error as exc:
        raise InputError(f"OpenCV cannot write {array.dtype} as {path.suffix}: {exc}") from exc
    if not ok:
        raise InputError(f"OpenCV cannot write {array.dtype} as {path.suffix}")
    path.write_bytes(encoded.tobytes())


def write_yuv(path: str | os.PathLike, planes: list[np.ndarray], bit_depth: int, *, append: bool = False) -> None:
    """Write one frame of raw planar YCbCr (chroma format inferred from the plane shapes)."""
    yuv = YuvFrame(list(planes), bit_depth, _infer_chroma_format(planes))
    with open(path, "ab" if append else "wb") as f:
        for plane in yuv.planes:
            f.write(plane.astype("<u2" if bit_depth > 8 else np.uint8, copy=False).tobytes())


def write_y4m(path: str | os.PathLike, frames: YuvFrame | list[YuvFrame], fps: str = "25:1") -> None:
    """Write one or more frames as a YUV4MPEG2 file (full-range JPEG chroma siting for 4:2:0)."""
    frames = [frames] if isinstance(frames, YuvFrame) else list(frames)
    if not frames:
        raise InputError("write_y4m needs at least one frame")
    first = frames[0]
    if any((f.width, f.height, f.bit_depth, f.chroma_format) !=
           (first.width, first.height, first.bit_depth, first.chroma_format) for f in frames):
        raise InputError("all frames of a .y4m file must share size, bit depth and chroma format")
    header = f"YUV4MPEG2 W{first.width} H{first.height} F{fps} Ip A1:1 {_y4m_colourspace(first)}\n"
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        for yuv in frames:
            f.write(b"FRAME\n")
            for plane in yuv.planes:
                f.write(plane.astype("<u2" if yuv.bit_depth > 8 else np.uint8, copy=False).tobytes())


def _read_with_opencv(path: Path) -> np.ndarray:
    if path.suffix.lower() not in _OPENCV_SUFFIXES:
        raise InputError(f"unknown image format {path.suffix!r} for {path}")
    # imdecode on the bytes works for any path (imread fails on non-ASCII paths on some platforms).
    data = np.fromfile(path, dtype=np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if decoded is None:
        raise InputError(f"cannot decode {path} (corrupt or unsupported {path.suffix} file)")
    if decoded.ndim == 3:
        if decoded.shape[2] == 4:
            decoded = decoded[:, :, :3]
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB) if decoded.shape[2] == 3 else decoded
    return validate_image(decoded)


def _read_yuv(path: Path, width: int, height: int, bit_depth: int, chroma_format: str, frame: int) -> YuvFrame:
    check_bit_depth(bit_depth)
    shapes = plane_shapes(width, height, chroma_format)
    sample_bytes = 2 if bit_depth > 8 else 1
    frame_bytes = sum(r * c for r, c in shapes) * sample_bytes
    file_bytes = path.stat().st_size
    if file_bytes == 0 or file_bytes % frame_bytes:
        raise InputError(f"{path} has {file_bytes} bytes, not a whole number of {width}x{height} "
                         f"{chroma_format} {bit_depth}-bit frames ({frame_bytes} bytes each)")
    frame_count = file_bytes // frame_bytes
    if not 0 <= frame < frame_count:
        raise InputError(f"frame {frame} requested but {path} holds {frame_count} frame(s)")
    with open(path, "rb") as f:
        f.seek(frame * frame_bytes)
        raw = f.read(frame_bytes)
    return YuvFrame(_split_planes(raw, shapes, bit_depth), bit_depth, chroma_format)


def _read_y4m(path: Path, size: tuple[int, int] | None, frame: int) -> YuvFrame:
    if frame < 0:
        raise InputError(f"frame must be >= 0, got {frame}")
    with open(path, "rb") as f:
        header = f.readline(4096)
        if not header.startswith(_Y4M_MAGIC) or not header.endswith(b"\n"):
            raise InputError(f"{path} is not a YUV4MPEG2 file")
        width, height, chroma_format, bit_depth = _parse_y4m_header(header[len(_Y4M_MAGIC):].decode("ascii", "replace"))
        if size is not None and size != (width, height):
            raise InputError(f"size {size[0]}x{size[1]} given but {path} header says {width}x{height}")
        shapes = plane_shapes(width, height, chroma_format)
        frame_bytes = sum(r * c for r, c in shapes) * (2 if bit_depth > 8 else 1)
        for index in range(frame + 1):
            marker = f.readline(4096)
            if not marker:
                raise InputError(f"frame {frame} requested but {path} holds {index} frame(s)")
            if not marker.startswith(b"FRAME"):
                raise InputError(f"{path}: frame {index} does not start with FRAME")
            if index < frame:
                f.seek(frame_bytes, os.SEEK_CUR)
        raw = f.read(frame_bytes)
    if len(raw) != frame_bytes:
        raise InputError(f"{path}: frame {frame} is truncated ({len(raw)} of {frame_bytes} bytes)")
    return YuvFrame(_split_planes(raw, shapes, bit_depth), bit_depth, chroma_format)


def _parse_y4m_header(params: str) -> tuple[int, int, str, int]:
    width = height = None
    chroma_format, bit_depth = "420", 8  # the YUV4MPEG2 default colourspace is 4:2:0 8-bit
    for token in params.split():
        key, value = token[0], token[1:]
        if key == "W" and value.isdigit():
            width = int(value)
        elif key == "H" and value.isdigit():
            height = int(value)
        elif key == "C":
            match = _Y4M_COLOURSPACE.fullmatch(token)
            if match is None:
                raise InputError(f"unsupported .y4m colourspace {token!r}; supported: 4:2:0, 4:4:4, mono")
            chroma_format = "400" if match[1] == "mono" else match[1]
            bit_depth = int(match[2]) if match[2] else 8
    if width is None or height is None:
        raise InputError(".y4m header lacks W or H")
    check_size(width, height)
    check_bit_depth(bit_depth)
    return width, height, chroma_format, bit_depth


def _y4m_colourspace(yuv: YuvFrame) -> str:
    depth = "" if yuv.bit_depth == 8 else str(yuv.bit_depth)
    if yuv.chroma_format == "400":
        return f"Cmono{depth}"
    if yuv.chroma_format == "420":
        return f"C420p{depth} XYSCSS=420P{depth}" if depth else "C420jpeg XYSCSS=420JPEG"
    return f"C444p{depth} XYSCSS=444P{depth}" if depth else "C444 XYSCSS=444"


def _split_planes(raw: bytes, shapes: list[tuple[int, int]], bit_depth: int) -> list[np.ndarray]:
    samples = np.frombuffer(raw, dtype="<u2" if bit_depth > 8 else np.uint8).astype(sample_dtype(bit_depth))
    planes, start = [], 0
    for rows, cols in shapes:
        planes.append(samples[start:start + rows * cols].reshape(rows, cols))
        start += rows * cols
    return planes


def _infer_chroma_format(planes: list[np.ndarray]) -> str:
    if len(planes) == 1:
        return "400"
    if len(planes) != 3 or any(getattr(p, "ndim", 0) != 2 for p in planes):
        raise InputError("expected [Y] or [Y, Cb, Cr] 2-D planes")
    height, width = planes[0].shape
    return "444" if planes[1].shape == (height, width) else "420"


def _parse_size(size: str | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, str):
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", size)
        if match is None:
            raise InputError(f"size must look like '1920x1080', got {size!r}")
        width, height = int(match[1]), int(match[2])
    else:
        try:
            width, height = (int(v) for v in size)
        except (TypeError, ValueError) as exc:
            raise InputError(f"size must be 'WxH' or (W, H), got {size!r}") from exc
    check_size(width, height)
    return width, height
