"""Objective quality metrics, computed the same way for every codec so comparisons are fair.

* PSNR over all RGB samples, peak 255 (uint8) or 65535 (uint16).
* PSNR-Y on a luma derived from the *RGB* pictures with the BT.601 full-range formula in float64, so a
  codec's own (possibly different) internal YCbCr conversion cannot flatter it.
* PSNR per YCbCr plane for :class:`~hybridcodec.imageio.YuvFrame` inputs, plus the JVET 6:1:1 weighted mean.
* MS-SSIM (Wang, Simoncelli, Bovik 2003) on that same luma.

Identical pictures have PSNR = inf.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import correlate1d

from bitstream.errors import InputError
from hybridcodec.imageio import YuvFrame, validate_image

BT601_LUMA_WEIGHTS = (0.299, 0.587, 0.114)
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SSIM_WINDOW_SIZE = 11
SSIM_WINDOW_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


@dataclass(frozen=True)
class YuvPsnr:
    """PSNR of each YCbCr plane (4:0:0 has only ``y``) and the 6:1:1 weighted mean used by JVET."""

    y: float
    cb: float | None
    cr: float | None

    @property
    def weighted(self) -> float:
        if self.cb is None or self.cr is None:
            return self.y
        return (6 * self.y + self.cb + self.cr) / 8


def peak_value(dtype: np.dtype) -> int:
    """Largest sample value of an 8-bit (255) or 16-bit (65535) picture."""
    return 255 if np.dtype(dtype) == np.uint8 else 65535


def psnr_from_mse(mse: float, peak: float) -> float:
    return float("inf") if mse == 0 else float(10 * np.log10(peak * peak / mse))


def psnr_rgb(reference: np.ndarray, distorted: np.ndarray) -> float:
    """PSNR over every sample of the three RGB channels (or the one gray channel)."""
    reference, distorted = _matching_pictures(reference, distorted)
    mse = np.mean((reference.astype(np.float64) - distorted.astype(np.float64)) ** 2)
    return psnr_from_mse(mse, peak_value(reference.dtype))


def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 full-range luma Y = 0.299 R + 0.587 G + 0.114 B in float64, not rounded; gray passes through."""
    if rgb.ndim == 2:
        return rgb.astype(np.float64)
    return rgb.astype(np.float64) @ np.asarray(BT601_LUMA_WEIGHTS)


def psnr_y(reference: np.ndarray, distorted: np.ndarray) -> float:
    """PSNR of the BT.601 luma of two RGB pictures."""
    reference, distorted = _matching_pictures(reference, distorted)
    mse = np.mean((rgb_to_luma(reference) - rgb_to_luma(distorted)) ** 2)
    return psnr_from_mse(mse, peak_value(reference.dtype))


def psnr_yuv(reference: YuvFrame, distorted: YuvFrame) -> YuvPsnr:
    """Per-plane PSNR of two YCbCr frames, peak 2^bit_depth - 1."""
    if not isinstance(reference, YuvFrame) or not isinstance(distorted, YuvFrame):
        raise InputError("psnr_yuv expects two YuvFrame objects")
    if (reference.bit_depth, reference.chroma_format) != (distorted.bit_depth, distorted.chroma_format) or \
            reference.planes[0].shape != distorted.planes[0].shape:
        raise InputError("YuvFrames differ in size, bit depth or chroma format")
    peak = (1 << reference.bit_depth) - 1
    values = [psnr_from_mse(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2), peak)
              for a, b in zip(reference.planes, distorted.planes)]
    return YuvPsnr(values[0], *(values[1:] or [None, None]))


def ms_ssim_scale_count(height: int, width: int) -> int:
    """Scales used for an HxW picture: at most 5, and only as many as keep the coarsest scale >= 11 px.

    Standard 5-scale MS-SSIM needs about 176 px (11 * 2^4) on the shorter side. Smaller pictures use the
    first M of the standard weights, renormalised to sum to 1, with M the largest count for which the
    shorter side after M-1 halvings (each rounding up, as odd sizes replicate the edge) is still at least
    one 11-px window. Below 11 px MS-SSIM is undefined and raises InputError.
    """
    side = min(height, width)
    if side < SSIM_WINDOW_SIZE:
        raise InputError(f"MS-SSIM needs at least {SSIM_WINDOW_SIZE} px on each side, got {width}x{height}")
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and -(-side // (1 << scales)) >= SSIM_WINDOW_SIZE:
        scales += 1
    return scales


def ms_ssim(reference: np.ndarray, distorted: np.ndarray) -> float:
    """MS-SSIM of the BT.601 luma of two RGB (or gray) pictures, in [0, 1] (1 = identical).

    Follows Wang et al.'s reference implementation: 11x11 Gaussian window (sigma 1.5) applied 'valid',
    K1 = 0.01, K2 = 0.03, dynamic range 255/65535, 2x2 average then decimate between scales (odd sizes
    replicate the last row/column). Contrast-structure terms below zero are clamped to 0 (as TensorFlow
    does) so the fractional powers stay real.
    """
    reference, distorted = _matching_pictures(reference, distorted)
    peak = peak_value(reference.dtype)
    x, y = rgb_to_luma(reference), rgb_to_luma(distorted)
    scales = ms_ssim_scale_count(*x.shape)
    weights = np.asarray(MS_SSIM_WEIGHTS[:scales])
    weights /= weights.sum()
    window = _gaussian_window()
    c1, c2 = (SSIM_K1 * peak) ** 2, (SSIM_K2 * peak) ** 2
    factors = []
    for scale in range(scales):
        luminance, contrast_structure = _ssim_terms(x, y, window, c1, c2)
        last = scale == scales - 1
        factors.append(np.mean(luminance * contrast_structure) if last else np.mean(contrast_structure))
        if not last:
            x, y = _halve(x), _halve(y)
    return float(np.prod(np.maximum(factors, 0.0) ** weights))


def bits_per_pixel(num_bytes: int, height: int, width: int) -> float:
    """Rate of a coded picture in bits per (luma) pixel."""
    if height <= 0 or width <= 0:
        raise InputError(f"picture size must be positive, got {width}x{height}")
    return 8.0 * num_bytes / (height * width)


def _ssim_terms(x: np.ndarray, y: np.ndarray, window: np.ndarray, c1: float, c2: float
                ) -> tuple[np.ndarray, np.ndarray]:
    mu_x, mu_y = _filter_valid(x, window), _filter_valid(y, window)
    var_x = _filter_valid(x * x, window) - mu_x * mu_x
    var_y = _filter_valid(y * y, window) - mu_y * mu_y
    cov = _filter_valid(x * y, window) - mu_x * mu_y
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    contrast_structure = (2 * cov + c2) / (var_x + var_y + c2)
    return luminance, contrast_structure


def _gaussian_window() -> np.ndarray:
    offsets = np.arange(SSIM_WINDOW_SIZE) - (SSIM_WINDOW_SIZE - 1) / 2
    window = np.exp(-offsets ** 2 / (2 * SSIM_WINDOW_SIGMA ** 2))
    return window / window.sum()


def _filter_valid(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation with a symmetric odd-length window: filter 'same', drop the borders."""
    filtered = correlate1d(correlate1d(image, window, axis=0), window, axis=1)
    margin = window.size // 2
    return filtered[margin:-margin, margin:-margin]


def _halve(image: np.ndarray) -> np.ndarray:
    height, width = image.shape
    padded = np.pad(image, ((0, height % 2), (0, width % 2)), mode="edge")
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).mean(axis=(1, 3))


def _matching_pictures(reference: np.ndarray, distorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reference, distorted = validate_image(reference), validate_image(distorted)
    if reference.shape != distorted.shape or reference.dtype != distorted.dtype:
        raise InputError(f"pictures differ: {reference.shape} {reference.dtype} vs "
                         f"{distorted.shape} {distorted.dtype}")
    return reference, distorted
