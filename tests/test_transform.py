"""Integer transforms: matrix identity, orthogonality, normative inverse, round trip, zero-out."""
import hashlib

import numpy as np
import pytest

from bitstream.errors import InputError
from host.transform import (DCT2, DST7, TRANSFORM_SIZES, forward_transform, inverse_transform,
                            transform_matrix)

MATRIX_SHA256 = {
    (4, DCT2): "645f86d850e1c0269812a4dd0344dfe6e68a813ba810b9f6aa614a56eaa458d6",
    (8, DCT2): "009ffaa497af3f08ec87f78316a58a45165f4aa3d3a524936cab5379bf10f2cb",
    (16, DCT2): "87fda5d7412efde6f0a1cfabf1d6f17c29fa6d6473a672da009e83ad3415e007",
    (32, DCT2): "e85c0cabbd9b78cbdd3205bb8d55e714df362e611ba797fae76ac243d4b87324",
    (64, DCT2): "6d6481bc52496fc1d211ad97e8666f4554dcfd23635cdb3dfac3e710aac79ee2",
    (4, DST7): "2f1a79d093067ebc4252a1fb64c5ea2bb6c7f9feb2ef305f7a34659cbab21d3e",
}
ALL_KINDS = [(n, DCT2) for n in TRANSFORM_SIZES] + [(4, DST7)]


@pytest.mark.parametrize("size,kind", ALL_KINDS)
def test_matrix_checksum(size, kind):
    matrix = transform_matrix(size, kind)
    assert hashlib.sha256(matrix.astype("<i2").tobytes()).hexdigest() == MATRIX_SHA256[(size, kind)]


def test_known_hevc_vvc_values():
    assert transform_matrix(4).tolist() == [[64, 64, 64, 64], [83, 36, -36, -83],
                                            [64, -64, -64, 64], [36, -83, 83, -36]]
    assert transform_matrix(8)[1].tolist() == [89, 75, 50, 18, -18, -50, -75, -89]
    assert transform_matrix(32)[1, :16].tolist() == [90, 90, 88, 85, 82, 78, 73, 67,
                                                     61, 54, 46, 38, 31, 22, 13, 4]
    assert transform_matrix(64)[1, :8].tolist() == [91, 90, 90, 90, 88, 87, 86, 84]
    assert transform_matrix(64)[63, :4].tolist() == [2, -7, 11, -15]
    # the N-point matrix is the 64-point one subsampled (HEVC/VVC embedding)
    for n in (4, 8, 16, 32):
        assert np.array_equal(transform_matrix(n), transform_matrix(64)[:: 64 // n, :n])


@pytest.mark.parametrize("size", TRANSFORM_SIZES)
def test_dct_close_to_scaled_cosine_and_orthogonal(size):
    t = transform_matrix(size)
    m, k = np.arange(size)[:, None], np.arange(size)[None, :]
    ideal = 64 * np.sqrt(2) * np.cos(np.pi * m * (2 * k + 1) / (2 * size))
    ideal[0] = 64
    assert np.abs(t - ideal).max() < 1.4
    gram = t @ t.T
    norm = 4096 * size
    assert np.abs(np.diag(gram) - norm).max() <= 0.0015 * norm
    assert np.abs(gram - np.diag(np.diag(gram))).max() <= 0.003 * norm


def test_dst_matches_sine_definition():
    k, n = np.arange(4)[:, None], np.arange(4)[None, :]
    ideal = np.round(128 * 2 / 3 * np.sin(np.pi * (2 * k + 1) * (n + 1) / 9))
    assert np.array_equal(transform_matrix(4, DST7), ideal.astype(np.int64))


def _reference_inverse(coeffs, size, kind, bit_depth):
    """HEVC 8.6.4.2 written directly in int64 (no float), one block at a time."""
    t = transform_matrix(size, kind).astype(np.int64)
    c = np.clip(coeffs.astype(np.int64), -32768, 32767)
    if size == 64:
        c = c.copy()
        c[32:, :] = 0
        c[:, 32:] = 0
    e = t.T @ c
    g = np.clip((e + 64) >> 7, -32768, 32767)
    r = g @ t
    shift = 20 - bit_depth
    return (r + (1 << (shift - 1))) >> shift


@pytest.mark.parametrize("size,kind", ALL_KINDS)
@pytest.mark.parametrize("bit_depth", [8, 10])
def test_inverse_matches_integer_reference_including_clipping(size, kind, bit_depth):
    rng = np.random.default_rng(size + bit_depth)
    coeffs = rng.integers(-40000, 40000, size=(6, size, size))   # beyond 16 bits: exercises clipping
    coeffs[:3] //= 64                                             # and moderate blocks
    got = inverse_transform(coeffs, size, kind, bit_depth)
    assert got.dtype == np.int32 and got.shape == coeffs.shape
    for block, result in zip(coeffs, got):
        assert np.array_equal(result, _reference_inverse(block, size, kind, bit_depth))


@pytest.mark.parametrize("size,kind", ALL_KINDS)
def test_round_trip_small_residuals_within_one(size, kind):
    rng = np.random.default_rng(7)
    residual = rng.integers(-32, 33, size=(64, size, size))
    if size == 64:   # only low frequencies survive the zero-out: use residuals made of them
        low = np.zeros((64, 64, 64), dtype=np.int64)
        low[:, :32, :32] = rng.integers(-60, 61, size=(64, 32, 32))
        residual = inverse_transform(low, 64)
    back = inverse_transform(forward_transform(residual, size, kind, 8), size, kind, 8)
    assert np.abs(back - residual).max() <= 1
    assert np.mean(back != residual) < 0.2


@pytest.mark.parametrize("size,kind", ALL_KINDS)
@pytest.mark.parametrize("bit_depth", [8, 10])
def test_round_trip_full_range_error_small(size, kind, bit_depth):
    rng = np.random.default_rng(3)
    peak = (1 << bit_depth) - 1
    residual = rng.integers(-peak, peak + 1, size=(16, size, size))
    if size == 64:
        residual = inverse_transform(forward_transform(residual, 64, DCT2, bit_depth), 64, DCT2, bit_depth)
    back = inverse_transform(forward_transform(residual, size, kind, bit_depth), size, kind, bit_depth)
    rms = np.sqrt(np.mean((back - residual).astype(np.float64) ** 2))
    assert rms <= 0.006 * peak     # HEVC integer matrices are orthogonal to ~0.1 %


@pytest.mark.parametrize("size", TRANSFORM_SIZES)
@pytest.mark.parametrize("bit_depth", [8, 10])
def test_constant_block_is_exact_dc(size, bit_depth):
    residual = np.full((2, size, size), 37)
    residual[1] = -(1 << bit_depth) + 1
    coeffs = forward_transform(residual, size, DCT2, bit_depth)
    assert np.count_nonzero(coeffs[:, 1:, :]) == 0 and np.count_nonzero(coeffs[:, :, 1:]) == 0
    assert np.array_equal(inverse_transform(coeffs, size, DCT2, bit_depth), residual)


def test_size_64_zero_out():
    rng = np.random.default_rng(5)
    residual = rng.integers(-255, 256, size=(3, 64, 64))
    coeffs = forward_transform(residual, 64, DCT2, 8)
    assert np.count_nonzero(coeffs[:, 32:, :]) == 0 and np.count_nonzero(coeffs[:, :, 32:]) == 0
    assert np.count_nonzero(coeffs[:, :32, :32]) > 0
    noisy = coeffs.copy()
    noisy[:, 40:, 40:] = 999   # ignored by the normative inverse
    assert np.array_equal(inverse_transform(noisy, 64), inverse_transform(coeffs, 64))


def test_batch_shapes_match_single_blocks():
    rng = np.random.default_rng(9)
    blocks = rng.integers(-255, 256, size=(2, 3, 8, 8))
    batch = forward_transform(blocks, 8)
    assert batch.shape == (2, 3, 8, 8)
    assert np.array_equal(batch[1, 2], forward_transform(blocks[1, 2], 8))
    assert np.array_equal(inverse_transform(batch, 8)[0, 1], inverse_transform(batch[0, 1], 8))


@pytest.mark.parametrize("args", [
    (np.zeros((8, 8), dtype=np.int32), 8, DST7, 8),
    (np.zeros((8, 8), dtype=np.int32), 12, DCT2, 8),
    (np.zeros((4, 8), dtype=np.int32), 4, DCT2, 8),
    (np.zeros((4, 4), dtype=np.float32), 4, DCT2, 8),
    (np.zeros((4, 4), dtype=np.int32), 4, DCT2, 12),
    (np.zeros((4, 4), dtype=np.int32), 4, "haar", 8),
])
def test_bad_arguments_raise_input_error(args):
    with pytest.raises(InputError):
        inverse_transform(*args)
    with pytest.raises(InputError):
        forward_transform(*args)
