"""PSNR variants, MS-SSIM and bits per pixel."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bitstream.errors import InputError
from hybridcodec.imageio import YuvFrame
from hybridcodec.eval.metrics import (MS_SSIM_WEIGHTS, bits_per_pixel, ms_ssim, ms_ssim_scale_count, psnr_rgb, psnr_y,
                                 psnr_yuv, rgb_to_luma)


def textured_pair(height: int, width: int, noise: float, seed: int = 2024) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([xx * 1.2 + 20 * np.sin(yy / 7.0), yy * 1.3, 128 + 60 * np.cos((xx + yy) / 13.0)], axis=-1)
    img = np.clip(np.rint(img + rng.normal(0, 6, img.shape)), 0, 255).astype(np.uint8)
    noisy = img.astype(np.int16) + np.rint(rng.normal(0, noise, img.shape)).astype(np.int16)
    return img, np.clip(noisy, 0, 255).astype(np.uint8)


def reference_ms_ssim(x: np.ndarray, y: np.ndarray, scales: int, peak: float = 255.0) -> float:
    """Independent MS-SSIM: full 2-D Gaussian convolution and average pooling in torch (even sizes only)."""
    offsets = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-offsets ** 2 / (2 * 1.5 ** 2))
    kernel = torch.outer(g, g)
    kernel = (kernel / kernel.sum())[None, None]
    a, b = torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None]
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=torch.float64)
    weights = weights / weights.sum()
    values = []
    for scale in range(scales):
        mu_a, mu_b = F.conv2d(a, kernel), F.conv2d(b, kernel)
        var_a = F.conv2d(a * a, kernel) - mu_a ** 2
        var_b = F.conv2d(b * b, kernel) - mu_b ** 2
        cov = F.conv2d(a * b, kernel) - mu_a * mu_b
        cs = (2 * cov + c2) / (var_a + var_b + c2)
        lum = (2 * mu_a * mu_b + c1) / (mu_a ** 2 + mu_b ** 2 + c1)
        values.append((lum * cs).mean() if scale == scales - 1 else cs.mean())
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return float(torch.prod(torch.stack(values).clamp(min=0) ** weights))


# --- PSNR ------------------------------------------------------------------------------------------------

def test_psnr_known_values() -> None:
    zeros = np.zeros((6, 8, 3), np.uint8)
    ones = np.ones((6, 8, 3), np.uint8)
    assert psnr_rgb(zeros, zeros) == math.inf
    assert psnr_rgb(zeros, ones) == pytest.approx(20 * math.log10(255))
    assert psnr_rgb(zeros.astype(np.uint16), ones.astype(np.uint16)) == pytest.approx(20 * math.log10(65535))
    # MSE over all three channels: one channel off by 3 gives MSE 3.
    one_channel = zeros.copy()
    one_channel[..., 1] = 3
    assert psnr_rgb(zeros, one_channel) == pytest.approx(10 * math.log10(255 ** 2 / 3))


def test_psnr_y_uses_bt601_luma_of_rgb() -> None:
    img, noisy = textured_pair(32, 40, 8)
    weights = np.array([0.299, 0.587, 0.114])
    mse = np.mean((img.astype(float) @ weights - noisy.astype(float) @ weights) ** 2)
    assert psnr_y(img, noisy) == pytest.approx(10 * math.log10(255 ** 2 / mse), rel=1e-12)
    # A grey offset moves Y by exactly the offset (weights sum to 1).
    assert psnr_y(img // 2, img // 2 + 4) == pytest.approx(20 * math.log10(255 / 4))
    # Gray input: luma is the picture itself.
    assert np.array_equal(rgb_to_luma(img[:, :, 0]), img[:, :, 0].astype(float))


def test_psnr_y_ignores_chroma_only_changes() -> None:
    ref = np.full((4, 4, 3), 100, np.uint8)
    # 299 * 15 + 587 * (-9) + 114 * 7 = 0: a pure colour shift that leaves BT.601 luma untouched.
    shifted = (ref.astype(int) + [15, -9, 7]).astype(np.uint8)
    assert psnr_y(ref, shifted) > 100  # float rounding only
    assert psnr_rgb(ref, shifted) < 30


def test_psnr_yuv_per_plane_and_weighted() -> None:
    y = np.full((4, 4), 500, np.uint16)
    cb = np.full((2, 2), 512, np.uint16)
    ref = YuvFrame([y, cb, cb.copy()], 10, "420")
    dist = YuvFrame([y + 1, cb + 2, cb.copy()], 10, "420")
    result = psnr_yuv(ref, dist)
    assert result.y == pytest.approx(20 * math.log10(1023))
    assert result.cb == pytest.approx(20 * math.log10(1023 / 2))
    assert result.cr == math.inf
    finite = psnr_yuv(ref, YuvFrame([y + 1, cb + 2, cb + 1], 10, "420"))
    assert finite.weighted == pytest.approx((6 * finite.y + finite.cb + finite.cr) / 8)
    mono = psnr_yuv(YuvFrame([y], 10, "400"), YuvFrame([y + 1], 10, "400"))
    assert mono.cb is None and mono.weighted == mono.y


def test_metric_input_errors() -> None:
    a = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(InputError, match="differ"):
        psnr_rgb(a, np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(InputError, match="differ"):
        psnr_y(a, a.astype(np.uint16))
    with pytest.raises(InputError, match="floating"):
        ms_ssim(a, a.astype(float))
    frame = YuvFrame([np.zeros((4, 4), np.uint8)], 8, "400")
    with pytest.raises(InputError):
        psnr_yuv(frame, YuvFrame([np.zeros((4, 4), np.uint16)], 10, "400"))
    with pytest.raises(InputError):
        psnr_yuv(a, a)


# --- MS-SSIM ---------------------------------------------------------------------------------------------

def test_ms_ssim_identical_is_one() -> None:
    img, _ = textured_pair(176, 192, 0)
    assert ms_ssim(img, img) == pytest.approx(1.0, abs=1e-12)


def test_ms_ssim_decreases_with_noise() -> None:
    values = [ms_ssim(*textured_pair(96, 112, sigma)) for sigma in (1, 3, 8, 20, 50)]
    assert all(0 <= v <= 1 for v in values)
    assert values == sorted(values, reverse=True) and len(set(values)) == len(values)


def test_ms_ssim_matches_independent_implementation() -> None:
    img, noisy = textured_pair(176, 192, 12)
    ours = ms_ssim(img, noisy)
    assert ours == pytest.approx(reference_ms_ssim(rgb_to_luma(img), rgb_to_luma(noisy), 5), abs=1e-10)
    # Value given by the pytorch-msssim 1.0.0 package on the same luma (its float32 window costs ~1e-5).
    assert ours == pytest.approx(0.9223841, abs=5e-5)


def test_ms_ssim_small_images_use_fewer_scales() -> None:
    assert ms_ssim_scale_count(176, 176) == 5
    assert ms_ssim_scale_count(1000, 175) == 5  # halvings round up: 88, 44, 22, 11
    assert ms_ssim_scale_count(48, 64) == 3    # 48 -> 24 -> 12 (-> 6 would be too small)
    assert ms_ssim_scale_count(11, 11) == 1
    with pytest.raises(InputError, match="at least 11"):
        ms_ssim_scale_count(10, 100)
    img, noisy = textured_pair(48, 64, 10)
    ours = ms_ssim(img, noisy)
    assert ours == pytest.approx(reference_ms_ssim(rgb_to_luma(img), rgb_to_luma(noisy), 3), abs=1e-10)
    with pytest.raises(InputError):
        ms_ssim(img[:10], noisy[:10])


def test_ms_ssim_is_scale_invariant_across_bit_depths() -> None:
    img, noisy = textured_pair(64, 64, 10)
    deep = ms_ssim(img.astype(np.uint16) * 257, noisy.astype(np.uint16) * 257)
    assert deep == pytest.approx(ms_ssim(img, noisy), abs=1e-9)


def test_ms_ssim_handles_odd_sizes_and_gray() -> None:
    img, noisy = textured_pair(45, 51, 5)
    value = ms_ssim(img[:, :, 1], noisy[:, :, 1])
    assert 0 < value < 1


def test_bits_per_pixel() -> None:
    assert bits_per_pixel(1000, 100, 80) == 1.0
    assert bits_per_pixel(0, 4, 4) == 0.0
    with pytest.raises(InputError):
        bits_per_pixel(10, 0, 4)
