"""Quantisation: normative dequantiser, dead-zone quantiser, chroma QP, lambda."""
import numpy as np
import pytest

from bitstream.errors import InputError
from host.transform import forward_transform
from host.encoder.quant import QUANT_SCALE, qp_to_lambda, quantize
from host.quant import LEVEL_SCALE, chroma_qp, dequantize, qp_bd_offset


def _coefficient_step(qp, size, bit_depth):
    """Reconstruction step in the coefficient domain: 16 * levelScale[qP' % 6] << qP'/6 >> bdShift
    (about 2**((qP' - 4)/6) * 2**(15 - bit_depth - log2 N))."""
    qp_prime = qp + qp_bd_offset(bit_depth)
    bd_shift = bit_depth + int(np.log2(size)) - 5
    return 16 * LEVEL_SCALE[qp_prime % 6] * 2 ** (qp_prime // 6) / 2 ** bd_shift


def test_scale_tables_are_reciprocal():
    for level_scale, quant_scale in zip(LEVEL_SCALE, QUANT_SCALE):
        assert abs(level_scale * quant_scale - 2 ** 20) < 0.001 * 2 ** 20


def test_dequantize_formula():
    # HEVC 8.6.3 by hand: qP 20 at 8 bits, 8x8: (level * 16 * levelScale[2] << 3 + 2**5) >> 6
    levels = np.zeros((8, 8), dtype=np.int32)
    levels[0, :3] = [1, -1, 3]
    out = dequantize(levels, 20, 8, 8)
    assert out.dtype == np.int32
    assert out[0, :3].tolist() == [(6528 + 32) >> 6, (-6528 + 32) >> 6, (3 * 6528 + 32) >> 6]
    assert out[0, :3].tolist() == [102, -102, 306]
    assert np.count_nonzero(out) == 3


def test_dequantize_clips_to_16_bits():
    levels = np.full((1, 4, 4), 30000)
    levels[0, 0, 0] = -30000
    out = dequantize(levels, 51, 4, 8)
    assert out.max() == 32767 and out.min() == -32768


@pytest.mark.parametrize("bit_depth", [8, 10])
@pytest.mark.parametrize("size", [4, 8, 16, 32, 64])
def test_quantize_dequantize_error_bounded_by_half_step(bit_depth, size):
    rng = np.random.default_rng(size)
    for qp in (-qp_bd_offset(bit_depth), 0, 10, 22, 27, 32, 37, 51):
        coeffs = rng.integers(-6000, 6001, size=(8, size, size))
        step = _coefficient_step(qp, size, bit_depth)
        recon = dequantize(quantize(coeffs, qp, size, bit_depth, rounding_offset=256), qp, size, bit_depth)
        assert np.abs(recon - coeffs).max() <= step / 2 + 1


def test_dead_zone_offset_and_step_doubling():
    step = _coefficient_step(22, 8, 8)                 # 128 at qp 22, 8x8, 8 bits
    coeffs = np.array([0.6, 0.7, -0.6, -0.7, 1.0, 2.0]) * step
    block = np.zeros((8, 8), dtype=np.int64)
    block[0, :6] = np.round(coeffs)
    levels = quantize(block, 22, 8, 8)                 # intra dead zone 171/512 = 0.334
    assert levels[0, :6].tolist() == [0, 1, 0, -1, 1, 2]
    levels_plain = quantize(block, 22, 8, 8, rounding_offset=256)
    assert levels_plain[0, :4].tolist() == [1, 1, -1, -1]
    # 6 QP up = twice the step: the same coefficient gives half the level
    block[0, 0] = 4096
    assert quantize(block, 22, 8, 8)[0, 0] == 2 * quantize(block, 28, 8, 8)[0, 0]


def test_bit_depth_offset_keeps_relative_step():
    # a 10-bit residual is 4x the 8-bit one; with QpBdOffset the same QP gives the same levels
    rng = np.random.default_rng(2)
    residual8 = rng.integers(-60, 61, size=(4, 8, 8))
    for qp in (10, 30):
        levels8 = quantize(forward_transform(residual8, 8, bit_depth=8), qp, 8, 8)
        levels10 = quantize(forward_transform(4 * residual8, 8, bit_depth=10), qp, 8, 10)
        assert np.array_equal(levels8, levels10)
        assert np.array_equal(dequantize(levels8, qp, 8, 8), dequantize(levels10, qp, 8, 10))


def test_per_block_qp_batches():
    rng = np.random.default_rng(1)
    coeffs = rng.integers(-3000, 3000, size=(3, 8, 8))
    qps = np.array([22, 32, 37])
    levels = quantize(coeffs, qps, 8, 8)
    for i, qp in enumerate(qps):
        assert np.array_equal(levels[i], quantize(coeffs[i], int(qp), 8, 8))
    recon = dequantize(levels, qps, 8, 8)
    for i, qp in enumerate(qps):
        assert np.array_equal(recon[i], dequantize(levels[i], int(qp), 8, 8))


def test_chroma_qp_tables():
    assert [chroma_qp(q, 1) for q in (0, 29, 30, 34, 35, 39, 43, 44, 51)] == [0, 29, 29, 33, 33, 35,
                                                                               37, 38, 45]
    assert [chroma_qp(q, 3) for q in (0, 30, 43, 51)] == [0, 30, 43, 51]
    assert chroma_qp(51, 1, qp_offset=12) == 51                      # qPi clipped to 57
    assert chroma_qp(-12, 1) == -12
    assert chroma_qp(np.array([25, 40, 50]), 1).tolist() == [25, 36, 44]
    with pytest.raises(InputError):
        chroma_qp(30, 0)


def test_lambda_values():
    assert qp_to_lambda(12, 8) == pytest.approx(0.57)
    assert qp_to_lambda(22, 8) == pytest.approx(0.57 * 2 ** (10 / 3))
    assert qp_to_lambda(37, 8) == pytest.approx(0.57 * 2 ** (25 / 3))
    assert qp_to_lambda(27, 10) == pytest.approx(16 * qp_to_lambda(27, 8))
    assert np.allclose(qp_to_lambda(np.array([22, 28]), 8), [qp_to_lambda(22, 8), 4 * qp_to_lambda(22, 8)])


def test_bad_arguments_raise_input_error():
    block = np.zeros((4, 4), dtype=np.int32)
    with pytest.raises(InputError):
        dequantize(block, 52, 4, 8)
    with pytest.raises(InputError):
        dequantize(block, -7, 4, 8)
    with pytest.raises(InputError):
        quantize(block, 22, 8, 8)
    with pytest.raises(InputError):
        quantize(block.astype(np.float64), 22, 4, 8)
    with pytest.raises(InputError):
        quantize(block, 22, 4, 9)
    with pytest.raises(InputError):
        quantize(block, 22, 4, 8, rounding_offset=600)
