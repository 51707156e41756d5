"""RDOQ: lower D + lambda R than plain rounding (statistically), bounded choices, estimator untouched."""
from __future__ import annotations

import numpy as np
import pytest

from bitstream.errors import InputError
from bitstream.syntax_coder import RateEstimator, SyntaxReader, SyntaxWriter
from host.contexts import CONTEXT_TABLE, HOST_CONTEXTS
from host.encoder.quant import QUANT_SCALE, qp_to_lambda, quantize
from host.quant import dequantize
from host.encoder.rdoq import rdoq
from host.residual_coding import residual_coding
from host.transform import forward_transform, inverse_transform

PLAIN_ROUNDING = 256


def residual_blocks(rng: np.random.Generator, size: int, count: int) -> list[np.ndarray]:
    """Smooth-ish random residuals (integrated noise) with varied amplitude."""
    blocks = []
    for _ in range(count):
        noise = rng.normal(0, rng.uniform(2, 20), (size, size))
        blocks.append(np.round(np.cumsum(noise, axis=int(rng.integers(0, 2))) / 3).astype(np.int32))
    return blocks


def rd_cost(estimator, levels, residual, log2_size, c_idx, scan_idx, qp, bit_depth):
    """(pixel-domain SSE, estimated bits) of coding ``levels`` from the estimator's current states."""
    size = 1 << log2_size
    recon = inverse_transform(dequantize(levels, qp, size, bit_depth), size, bit_depth=bit_depth)
    dist = float(((recon - residual).astype(np.float64) ** 2).sum())
    if not levels.any():
        return dist, 0.0
    snap = estimator.snapshot()
    start = estimator.bits
    residual_coding(estimator, levels, log2_size, c_idx, scan_idx)
    bits = estimator.bits - start
    estimator.restore(snap)
    return dist, bits


@pytest.mark.parametrize("log2_size,c_idx,scan_idx,qp,bit_depth", [
    (2, 0, 1, 27, 8), (3, 0, 0, 32, 8), (3, 0, 2, 37, 8), (2, 1, 0, 32, 8), (4, 0, 0, 32, 8),
    (4, 2, 0, 22, 8), (5, 0, 0, 32, 8), (3, 1, 0, 27, 10),
])
def test_rdoq_beats_rounding_on_rd_cost(log2_size, c_idx, scan_idx, qp, bit_depth):
    rng = np.random.default_rng(log2_size * 100 + qp + c_idx)
    size = 1 << log2_size
    lam = qp_to_lambda(qp, bit_depth)
    estimator = RateEstimator(CONTEXT_TABLE, qp)
    totals = {"round": np.zeros(2), "deadzone": np.zeros(2), "rdoq": np.zeros(2)}
    worse = 0
    blocks = residual_blocks(rng, size, 40 if log2_size < 5 else 12)
    for residual in blocks:
        residual <<= bit_depth - 8
        coeffs = forward_transform(residual, size, bit_depth=bit_depth)
        candidates = {"round": quantize(coeffs, qp, size, bit_depth, PLAIN_ROUNDING),
                      "deadzone": quantize(coeffs, qp, size, bit_depth),
                      "rdoq": rdoq(coeffs, qp, size, c_idx, lam, estimator, bit_depth, scan_idx=scan_idx)}
        cost = {}
        for name, levels in candidates.items():
            dist, bits = rd_cost(estimator, levels, residual, log2_size, c_idx, scan_idx, qp, bit_depth)
            totals[name] += (dist, bits)
            cost[name] = dist + lam * bits
        worse += cost["rdoq"] > cost["round"] * 1.001
        if candidates["rdoq"].any():         # let the contexts adapt as in a real encoder
            residual_coding(estimator, candidates["rdoq"], log2_size, c_idx, scan_idx)
    j = {name: dist + lam * bits for name, (dist, bits) in totals.items()}
    assert j["rdoq"] < j["round"] and j["rdoq"] < j["deadzone"]
    assert totals["rdoq"][1] < totals["round"][1]                  # fewer bits ...
    assert totals["rdoq"][0] >= 0.98 * totals["round"][0]          # ... for a little more distortion
    assert worse <= 0.15 * len(blocks)


def test_levels_are_floor_ceil_or_zero_with_the_coefficient_sign():
    rng = np.random.default_rng(3)
    qp, size, log2_size = 22, 16, 4
    estimator = RateEstimator(CONTEXT_TABLE, qp)
    q_bits = 14 + qp // 6 + 15 - 8 - log2_size
    scale = QUANT_SCALE[qp % 6]
    for residual in residual_blocks(rng, size, 10):
        coeffs = forward_transform(residual, size)
        levels = rdoq(coeffs, qp, size, 0, qp_to_lambda(qp, 8), estimator)
        assert levels.dtype == np.int32 and levels.shape == (size, size)
        floor = (np.abs(coeffs).astype(np.int64) * scale) >> q_bits
        magnitude = np.abs(levels)
        assert np.all((magnitude == 0) | (magnitude == floor) | (magnitude == floor + 1))
        assert np.all(np.sign(levels) * np.sign(coeffs) >= 0)
        assert np.all(magnitude <= np.abs(quantize(coeffs, qp, size, 8, 511)))


def test_estimator_untouched_and_deterministic():
    rng = np.random.default_rng(5)
    estimator = RateEstimator(CONTEXT_TABLE, 32)
    residual_coding(estimator, np.eye(8, dtype=np.int32) * 3, 3, 0, 0)      # non-initial states
    before = estimator.snapshot()
    coeffs = forward_transform(residual_blocks(rng, 8, 1)[0], 8)
    first = rdoq(coeffs, 32, 8, 0, qp_to_lambda(32, 8), estimator, cbf_ctx=HOST_CONTEXTS.cbf_luma)
    second = rdoq(coeffs, 32, 8, 0, qp_to_lambda(32, 8), estimator, cbf_ctx=HOST_CONTEXTS.cbf_luma)
    after = estimator.snapshot()
    np.testing.assert_array_equal(first, second)
    assert (after.prob0, after.prob1, after.frac) == (before.prob0, before.prob1, before.frac)


def test_results_code_and_decode_including_64x64_zero_out():
    rng = np.random.default_rng(9)
    estimator = RateEstimator(CONTEXT_TABLE, 27)
    writer = SyntaxWriter(CONTEXT_TABLE, 27)
    coded = []
    for log2_size in (2, 3, 4, 5, 6):
        size = 1 << log2_size
        for residual in residual_blocks(rng, size, 3):
            levels = rdoq(forward_transform(residual, size), 27, size, 1, qp_to_lambda(27, 8), estimator)
            if log2_size == 6:
                assert not levels[32:].any() and not levels[:, 32:].any()
            if levels.any():
                residual_coding(writer, levels, log2_size, 1, 0)
                coded.append((log2_size, levels))
    assert len(coded) >= 10
    reader = SyntaxReader(CONTEXT_TABLE, 27, writer.finish())
    for log2_size, levels in coded:
        np.testing.assert_array_equal(residual_coding(reader, None, log2_size, 1, 0), levels)


def test_extremes_and_bad_input():
    estimator = RateEstimator(CONTEXT_TABLE, 0)
    lam = qp_to_lambda(0, 8)
    assert not rdoq(np.zeros((8, 8), dtype=np.int32), 30, 8, 0, lam, estimator).any()
    huge = np.full((4, 4), 32767, dtype=np.int32)
    huge[1::2] = -32768
    levels = rdoq(huge, 0, 4, 0, lam, estimator)
    assert np.array_equal(np.sign(levels), np.sign(huge))
    assert np.abs(levels).max() <= np.abs(quantize(huge, 0, 4, 8, 511)).max()
    residual_coding(RateEstimator(CONTEXT_TABLE, 0), levels, 2, 0, 0)    # codable
    # one DC coefficient quantising to 0.6: kept at a tiny lambda, dropped (all-zero block) at QP 37's
    tiny = np.zeros((8, 8), dtype=np.int32)
    tiny[0, 0] = round(0.6 * 2 ** 24 / QUANT_SCALE[37 % 6])
    fresh = RateEstimator(CONTEXT_TABLE, 37)
    assert rdoq(tiny, 37, 8, 0, 0.01, fresh)[0, 0] == 1
    assert not rdoq(tiny, 37, 8, 0, qp_to_lambda(37, 8), fresh, cbf_ctx=HOST_CONTEXTS.cbf_luma).any()
    with pytest.raises(InputError):
        rdoq(np.zeros((8, 8)), 30, 8, 0, lam, estimator)
    with pytest.raises(InputError):
        rdoq(np.zeros((8, 4), dtype=np.int32), 30, 8, 0, lam, estimator)
    with pytest.raises(InputError):
        rdoq(np.zeros((8, 8), dtype=np.int32), 30, 8, 0, 0.0, estimator)
