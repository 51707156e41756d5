"""Colour conversion and plane geometry: RGB <-> YCbCr (BT.601 full range, JFIF) in fixed point.

Pictures are lists of 2-D int32 planes: [Y, Cb, Cr], or [Y] for 4:0:0 (chroma_format 0).
chroma_format 1 is 4:2:0 with chroma sited at the centre of each 2x2 luma block (as in JPEG);
chroma planes of a W x H picture are ceil(W/2) x ceil(H/2).  chroma_format 3 is 4:4:4.

The forward conversion (encoder side) averages full-resolution chroma over 2x2 blocks before its
single rounding.  The inverse conversion (decoder side, normative) upsamples chroma 2x per axis with
the phase filters [1 3]/4 and [3 1]/4 (edge replication), keeps the 4 extra fractional bits of the
separable upsampling into the matrix product, and rounds once: every step is int64 arithmetic.
"""
from __future__ import annotations

import numpy as np

from bitstream.errors import InputError

CHROMA_400 = 0
CHROMA_420 = 1
CHROMA_444 = 3
CHROMA_FORMATS = (CHROMA_400, CHROMA_420, CHROMA_444)
BIT_DEPTHS = (8, 10)

FRACTION_BITS = 16
# BT.601 full-range matrix in 16 fractional bits; each row sums exactly to 65536 (Y) or 0 (Cb, Cr).
RGB_TO_Y = (19595, 38470, 7471)          # 0.299, 0.587, 0.114
RGB_TO_CB = (-11058, -21710, 32768)      # -0.168736, -0.331264, 0.5
RGB_TO_CR = (32768, -27439, -5329)       # 0.5, -0.418688, -0.081312
CR_TO_R = 91881                          # 1.402
CB_TO_G = -22553                         # -0.344136
CR_TO_G = -46802                         # -0.714136
CB_TO_B = 116130                         # 1.772
UPSAMPLE_BITS = 4                        # fractional bits kept by the 2x2 upsampling ([1 3] x [1 3])


def chroma_subsampling(chroma_format: int) -> tuple[int, int] | None:
    """(vertical, horizontal) chroma subsampling factors, or None for 4:0:0."""
    if chroma_format not in CHROMA_FORMATS:
        raise InputError(f"chroma_format must be one of {CHROMA_FORMATS}, got {chroma_format}")
    return {CHROMA_400: None, CHROMA_420: (2, 2), CHROMA_444: (1, 1)}[chroma_format]


def chroma_plane_shape(height: int, width: int, chroma_format: int) -> tuple[int, int] | None:
    """Shape of each chroma plane of a height x width picture (None for 4:0:0)."""
    sub = chroma_subsampling(chroma_format)
    if sub is None:
        return None
    return -(-height // sub[0]), -(-width // sub[1])


def _check_bit_depth(bit_depth: int, what: str = "bit depth") -> None:
    if bit_depth not in BIT_DEPTHS:
        raise InputError(f"{what} must be one of {BIT_DEPTHS}, got {bit_depth}")


def _round_shift(values: np.ndarray, shift: int) -> np.ndarray:
    """Rounded arithmetic right shift (shift may be <= 0: exact left shift)."""
    if shift <= 0:
        return values << -shift
    return (values + (1 << (shift - 1))) >> shift


def rescale_samples(plane: np.ndarray, from_bits: int, to_bits: int) -> np.ndarray:
    """A plane's samples at another bit depth: shifted left, or rounded and clipped to the range."""
    if from_bits == to_bits:
        return plane
    return np.clip(_round_shift(plane.astype(np.int64), from_bits - to_bits), 0,
                   (1 << to_bits) - 1).astype(plane.dtype)


def _validated_rgb(rgb: np.ndarray, input_bit_depth: int | None, bit_depth: int, allow_gray: bool) -> int:
    """The input bit depth of a valid picture; InputError otherwise."""
    if not isinstance(rgb, np.ndarray):
        raise InputError("picture must be a NumPy array")
    if rgb.dtype not in (np.uint8, np.uint16):
        raise InputError(f"picture dtype must be uint8 or uint16, got {rgb.dtype}")
    gray_ok = allow_gray and rgb.ndim == 2
    if not gray_ok and (rgb.ndim != 3 or rgb.shape[2] != 3):
        raise InputError(f"picture must have shape (H, W, 3), got {rgb.shape}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise InputError(f"picture must be at least 1x1, got {rgb.shape}")
    if input_bit_depth is None:
        input_bit_depth = 8 if rgb.dtype == np.uint8 else bit_depth
    if not 8 <= input_bit_depth <= 16 or (rgb.dtype == np.uint8 and input_bit_depth != 8):
        raise InputError(f"input bit depth {input_bit_depth} does not fit dtype {rgb.dtype}")
    if rgb.size and int(rgb.max()) >= 1 << input_bit_depth:
        raise InputError(f"sample values exceed {input_bit_depth} bits")
    return input_bit_depth


def _average_2x2_sum(plane: np.ndarray) -> np.ndarray:
    """Sum of each 2x2 block (edge replication for odd sizes): 4x the co-sited chroma average."""
    h, w = plane.shape
    padded = np.pad(plane, ((0, h % 2), (0, w % 2)), mode="edge")
    return padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2]


STRIP_ROWS = 32       # colour conversion runs in strips of rows, so its int64 temporaries stay small


def rgb_to_planes(rgb: np.ndarray, bit_depth: int, chroma_format: int,
                  input_bit_depth: int | None = None, strip_rows: int = STRIP_ROWS) -> list[np.ndarray]:
    """Encoder-side conversion of an RGB picture (H, W, 3) to YCbCr planes at ``bit_depth``.

    ``input_bit_depth`` is the precision of the RGB samples: default 8 for uint8 arrays and
    ``bit_depth`` for uint16 arrays (the inverse of planes_to_rgb); pass 16 for 16-bit PNG data.
    8-bit RGB coded at bit_depth 10 keeps the extra precision of the conversion.  For 4:0:0 a
    2-D (H, W) gray array is also accepted and becomes Y directly.  Strips of ``strip_rows`` (even)
    rows are converted one at a time; the result does not depend on it.
    """
    _check_bit_depth(bit_depth)
    sub = chroma_subsampling(chroma_format)
    input_bit_depth = _validated_rgb(rgb, input_bit_depth, bit_depth, allow_gray=sub is None)
    strips = [_rgb_strip_to_planes(rgb[y:y + strip_rows], bit_depth, sub, input_bit_depth)
              for y in range(0, rgb.shape[0], strip_rows)]
    return [np.concatenate(parts) for parts in zip(*strips)]


def _rgb_strip_to_planes(rgb: np.ndarray, bit_depth: int, sub, input_bit_depth: int) -> list[np.ndarray]:
    samples = rgb.astype(np.int64)
    shift = FRACTION_BITS - (bit_depth - input_bit_depth)
    max_value = (1 << bit_depth) - 1
    if samples.ndim == 2:
        return [np.clip(_round_shift(samples << FRACTION_BITS, shift), 0, max_value).astype(np.int32)]
    r, g, b = samples[..., 0], samples[..., 1], samples[..., 2]

    def weighted(coeffs: tuple[int, int, int]) -> np.ndarray:
        return coeffs[0] * r + coeffs[1] * g + coeffs[2] * b

    planes = [np.clip(_round_shift(weighted(RGB_TO_Y), shift), 0, max_value)]
    if sub is not None:
        chroma_offset = 1 << (bit_depth - 1)
        for coeffs in (RGB_TO_CB, RGB_TO_CR):
            acc = weighted(coeffs)
            if sub == (2, 2):
                acc, extra = _average_2x2_sum(acc), 2
            else:
                extra = 0
            planes.append(np.clip(_round_shift(acc, shift + extra) + chroma_offset, 0, max_value))
    return [p.astype(np.int32) for p in planes]


def _upsample_2x_axis(plane: np.ndarray, axis: int, length: int) -> np.ndarray:
    """2x upsampling along ``axis`` with phases (c[i-1] + 3c[i], 3c[i] + c[i+1]); output is 4x scaled."""
    c = np.moveaxis(plane, axis, 0)
    before = np.concatenate([c[:1], c[:-1]])
    after = np.concatenate([c[1:], c[-1:]])
    out = np.empty((2 * c.shape[0],) + c.shape[1:], dtype=np.int64)
    out[0::2] = before + 3 * c
    out[1::2] = 3 * c + after
    return np.moveaxis(out[:length], 0, axis)


def _upsample_420_scaled(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Chroma upsampled to height x width, scaled by 2**UPSAMPLE_BITS (no rounding yet)."""
    horizontal = _upsample_2x_axis(plane.astype(np.int64), 1, width)
    return _upsample_2x_axis(horizontal, 0, height)


def upsample_chroma(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Normative 4:2:0 -> 4:4:4 chroma upsampling of one plane to height x width (int32, rounded)."""
    plane = np.asarray(plane)
    if plane.ndim != 2 or plane.shape != (-(-height // 2), -(-width // 2)):
        raise InputError(f"chroma plane {plane.shape} does not match a {height}x{width} 4:2:0 picture")
    return _round_shift(_upsample_420_scaled(plane, height, width), UPSAMPLE_BITS).astype(np.int32)


def planes_to_rgb(planes: list[np.ndarray], bit_depth: int, chroma_format: int,
                  output_bit_depth: int | None = None, strip_rows: int = STRIP_ROWS) -> np.ndarray:
    """Normative conversion of decoded planes to an RGB picture (H, W, 3).

    Output samples have ``output_bit_depth`` bits (default ``bit_depth``): uint8 when 8, else uint16.
    4:0:0 pictures give R = G = B = Y.  Strips of ``strip_rows`` (even) luma rows are converted one at
    a time, each with the chroma rows its upsampling filter reads; the result does not depend on it.
    """
    _check_bit_depth(bit_depth)
    output_bit_depth = bit_depth if output_bit_depth is None else output_bit_depth
    if not 8 <= output_bit_depth <= 16:
        raise InputError(f"output bit depth must be 8..16, got {output_bit_depth}")
    validate_planes(planes, chroma_format)
    height, width = np.asarray(planes[0]).shape
    dtype = np.uint8 if output_bit_depth == 8 else np.uint16
    out = np.empty((height, width, 3), dtype=dtype)
    for y0 in range(0, height, strip_rows):
        y1 = min(height, y0 + strip_rows)
        out[y0:y1] = _planes_strip_to_rgb(planes, y0, y1, bit_depth, chroma_format, output_bit_depth, dtype)
    return out


def _planes_strip_to_rgb(planes: list[np.ndarray], y0: int, y1: int, bit_depth: int, chroma_format: int,
                         output_bit_depth: int, dtype) -> np.ndarray:
    luma = np.asarray(planes[0])
    height, width = luma.shape
    total_bits = FRACTION_BITS + UPSAMPLE_BITS
    y = luma[y0:y1].astype(np.int64) << total_bits
    if chroma_format == CHROMA_400:
        rgb = np.stack([y, y, y], axis=-1)
    else:
        scaled = []
        for plane in planes[1:]:
            plane = np.asarray(plane)
            if chroma_format == CHROMA_420:
                c0, c1 = max(0, y0 // 2 - 1), min(plane.shape[0], (y1 + 1) // 2 + 1)   # rows the filter reads
                rows = 2 * (c1 - c0) if c1 < plane.shape[0] else height - 2 * c0
                c = _upsample_420_scaled(plane[c0:c1], rows, width)[y0 - 2 * c0:y1 - 2 * c0]
            else:
                c = plane[y0:y1].astype(np.int64) << UPSAMPLE_BITS
            scaled.append(c - ((1 << (bit_depth - 1)) << UPSAMPLE_BITS))
        cb, cr = scaled
        rgb = np.stack([y + CR_TO_R * cr, y + CB_TO_G * cb + CR_TO_G * cr, y + CB_TO_B * cb], axis=-1)
    out = _round_shift(rgb, total_bits - (output_bit_depth - bit_depth))
    return np.clip(out, 0, (1 << output_bit_depth) - 1).astype(dtype)


def validate_planes(planes: list[np.ndarray], chroma_format: int) -> None:
    """Raise InputError unless ``planes`` is a consistent picture of ``chroma_format``."""
    sub = chroma_subsampling(chroma_format)
    expected = 1 if sub is None else 3
    if not isinstance(planes, (list, tuple)) or len(planes) != expected:
        raise InputError(f"chroma_format {chroma_format} needs {expected} planes")
    arrays = [np.asarray(p) for p in planes]
    if any(a.ndim != 2 or not np.issubdtype(a.dtype, np.integer) for a in arrays):
        raise InputError("planes must be 2-D integer arrays")
    height, width = arrays[0].shape
    if height < 1 or width < 1:
        raise InputError(f"luma plane must be at least 1x1, got {arrays[0].shape}")
    chroma_shape = chroma_plane_shape(height, width, chroma_format)
    if any(a.shape != chroma_shape for a in arrays[1:]):
        raise InputError(f"chroma planes must be {chroma_shape} for luma {arrays[0].shape}")


def pad_planes(planes: list[np.ndarray], width_multiple: int, height_multiple: int,
               chroma_format: int | None = None) -> list[np.ndarray]:
    """Pad by edge replication so the luma size is a multiple of (width_multiple, height_multiple).

    Chroma planes are padded to the matching chroma size.  ``chroma_format`` defaults to what the
    plane shapes imply (give it explicitly for pictures one sample wide or high).
    """
    chroma_format = _resolve_chroma_format(planes, chroma_format)
    sub = chroma_subsampling(chroma_format) or (1, 1)
    if (width_multiple < 1 or height_multiple < 1
            or width_multiple % sub[1] or height_multiple % sub[0]):
        raise InputError(f"padding multiples {width_multiple}x{height_multiple} do not suit "
                         f"chroma_format {chroma_format}")
    height, width = np.asarray(planes[0]).shape
    padded_height = -(-height // height_multiple) * height_multiple
    padded_width = -(-width // width_multiple) * width_multiple
    out = []
    for index, plane in enumerate(planes):
        plane = np.asarray(plane, dtype=np.int32)
        sy, sx = (1, 1) if index == 0 else sub
        pad = ((0, padded_height // sy - plane.shape[0]), (0, padded_width // sx - plane.shape[1]))
        out.append(np.pad(plane, pad, mode="edge"))
    return out


def crop_planes(planes: list[np.ndarray], width: int, height: int,
                chroma_format: int | None = None) -> list[np.ndarray]:
    """Crop a (padded) picture back to width x height luma samples (chroma ceil-divided): views of int32
    planes, int32 copies of others."""
    chroma_format = _resolve_chroma_format(planes, chroma_format)
    full_height, full_width = np.asarray(planes[0]).shape
    if not (1 <= width <= full_width and 1 <= height <= full_height):
        raise InputError(f"crop {width}x{height} outside picture {full_width}x{full_height}")
    chroma_shape = chroma_plane_shape(height, width, chroma_format)
    out = [np.asarray(np.asarray(planes[0])[:height, :width], dtype=np.int32)]
    for plane in planes[1:]:
        out.append(np.asarray(np.asarray(plane)[:chroma_shape[0], :chroma_shape[1]], dtype=np.int32))
    return out


def _resolve_chroma_format(planes: list[np.ndarray], chroma_format: int | None) -> int:
    if chroma_format is None:
        if not isinstance(planes, (list, tuple)) or len(planes) not in (1, 3):
            raise InputError("a picture is a list of 1 or 3 planes")
        if len(planes) == 1:
            chroma_format = CHROMA_400
        else:
            same = np.asarray(planes[1]).shape == np.asarray(planes[0]).shape
            chroma_format = CHROMA_444 if same else CHROMA_420
    validate_planes(planes, chroma_format)
    return chroma_format
