"""Coefficient scans and residual_coding: round trips, traces, rate estimate, robustness."""
from __future__ import annotations

import numpy as np
import pytest

from bitstream.errors import BitstreamError, CodecError
from bitstream.syntax_coder import RateEstimator, SyntaxReader, SyntaxWriter
from host.contexts import CONTEXT_TABLE
from host.residual_coding import (LEVEL_MAX, LEVEL_MIN, last_position_binarization,
                                  last_prefix_ctx_offsets, remaining_codeword, residual_coding,
                                  sig_ctx_offset)
from host.scan import COEFF_SCAN, SCAN_DIAG, SCAN_HOR, SCAN_ORDER, SCAN_VER, scan_idx_for

QP = 32


def random_block(rng: np.random.Generator, log2_size: int, kind: str) -> np.ndarray:
    size = 1 << log2_size
    if kind == "sparse":
        block = np.zeros((size, size), dtype=np.int32)
        count = int(rng.integers(1, 4))
        values = rng.integers(1, 4, count) * rng.choice([-1, 1], count)
        block[rng.integers(0, size, count), rng.integers(0, size, count)] = values
    elif kind == "dense":
        block = np.round(rng.laplace(0, rng.uniform(0.3, 6), (size, size))).astype(np.int32)
    elif kind == "escape":
        block = np.round(rng.laplace(0, 2, (size, size))).astype(np.int32)
        mask = rng.random((size, size)) < 0.05
        block[mask] = rng.integers(LEVEL_MIN, LEVEL_MAX + 1, int(mask.sum()))
        block[0, 0] = LEVEL_MIN
        block[-1, 0] = LEVEL_MAX
    else:   # typical: energy decaying away from DC
        y, x = np.mgrid[:size, :size]
        block = np.round(rng.laplace(0, 1, (size, size)) * 4.0 / (1 + x + y) ** 1.3).astype(np.int32)
    if log2_size == 6:
        block[32:, :] = 0
        block[:, 32:] = 0
    if not block.any():
        block[0, 0] = 1
    return block


def write_read(blocks, log2_size, c_idx, scan_idx):
    writer = SyntaxWriter(CONTEXT_TABLE, QP)
    written_trace: list[str] = []
    writer.trace_sink = written_trace.append
    returned = [residual_coding(writer, b, log2_size, c_idx, scan_idx) for b in blocks]
    data = writer.finish()
    reader = SyntaxReader(CONTEXT_TABLE, QP, data)
    read_trace: list[str] = []
    reader.trace_sink = read_trace.append
    decoded = [residual_coding(reader, None, log2_size, c_idx, scan_idx) for _ in blocks]
    reader.finish()
    return data, returned, decoded, written_trace, read_trace


# ---- scans --------------------------------------------------------------------------------------

def test_scans_are_permutations_in_sub_block_order():
    for (log2_size, scan_idx), scan in COEFF_SCAN.items():
        size = 1 << log2_size
        assert sorted(scan.tolist()) == list(range(size * size))
        # every run of 16 positions is one 4x4 sub-block
        sub = (scan // size >> 2) * size + (scan % size >> 2)
        assert (sub.reshape(-1, 16) == sub.reshape(-1, 16)[:, :1]).all()


def test_scan_orders_match_hevc():
    diag4 = SCAN_ORDER[2][SCAN_DIAG].tolist()
    assert diag4[:6] == [[0, 0], [0, 1], [1, 0], [0, 2], [1, 1], [2, 0]]
    assert diag4[-1] == [3, 3]
    assert SCAN_ORDER[1][SCAN_HOR].tolist() == [[0, 0], [1, 0], [0, 1], [1, 1]]
    assert SCAN_ORDER[1][SCAN_VER].tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert COEFF_SCAN[(3, SCAN_HOR)][:8].tolist() == [0, 1, 2, 3, 8, 9, 10, 11]


def test_mode_dependent_scan():
    assert scan_idx_for(2, 0, 10) == SCAN_VER       # horizontal prediction -> vertical scan
    assert scan_idx_for(3, 0, 26) == SCAN_HOR       # vertical prediction -> horizontal scan
    assert scan_idx_for(2, 1, 6) == SCAN_VER and scan_idx_for(2, 2, 30) == SCAN_HOR
    assert scan_idx_for(3, 1, 10) == SCAN_DIAG      # 8x8 chroma (4:2:0) stays diagonal
    assert scan_idx_for(3, 1, 10, chroma_444=True) == SCAN_VER
    assert scan_idx_for(4, 0, 10) == SCAN_DIAG
    assert [scan_idx_for(2, 0, m) for m in (0, 1, 5, 15, 21, 31, 34)] == [SCAN_DIAG] * 7


# ---- binarisation and contexts ------------------------------------------------------------------

def test_last_position_binarization_inverts_hevc_formula():
    for value in range(32):
        prefix, suffix, suffix_len = last_position_binarization(value)
        if prefix > 3:
            assert suffix_len == (prefix >> 1) - 1 and 0 <= suffix < 1 << suffix_len
            assert (1 << ((prefix >> 1) - 1)) * (2 + (prefix & 1)) + suffix == value
        else:
            assert (prefix, suffix_len) == (value, 0)
    assert last_position_binarization(31)[0] == 9    # cMax of a 32x32 block


def test_remaining_codewords():
    assert remaining_codeword(0, 0) == (0b0, 1)
    assert remaining_codeword(3, 0) == (0b1110, 4)
    assert remaining_codeword(4, 0) == (0b111100, 6)       # escape: 1111 then EG1 of 0
    assert remaining_codeword(5, 1) == (0b1101, 4)         # Rice 1: prefix 110, suffix 1
    assert remaining_codeword(8, 1) == (0b1111000, 7)      # escape with EG2
    for rice in range(5):       # prefix-free: lengths never decrease with the value
        lengths = [remaining_codeword(v, rice)[1] for v in range(2000)]
        assert lengths == sorted(lengths)


def test_context_offsets_stay_in_their_ranges():
    assert last_prefix_ctx_offsets(2, 0) == [0, 1, 2]
    assert last_prefix_ctx_offsets(5, 0) == [10, 10, 11, 11, 12, 12, 13, 13, 14]
    assert last_prefix_ctx_offsets(5, 1) == [15] * 8 + [16]
    for log2_size in range(2, 6):
        for c_idx in range(3):
            offsets = {sig_ctx_offset(x, y, log2_size, c_idx, s, p)
                       for x in range(1 << log2_size) for y in range(1 << log2_size)
                       for s in range(3) for p in range(4)}
            assert offsets <= (set(range(27)) if c_idx == 0 else set(range(27, 42)))
    assert sig_ctx_offset(0, 0, 4, 0, 0, 3) == 0 and sig_ctx_offset(0, 0, 4, 1, 0, 3) == 27
    assert sig_ctx_offset(1, 0, 2, 0, 0, 0) == 1 and sig_ctx_offset(2, 2, 2, 0, 0, 0) == 8


# ---- round trips ----------------------------------------------------------------------------------

@pytest.mark.parametrize("log2_size", [2, 3, 4, 5, 6])
def test_round_trip_every_component_and_scan(log2_size):
    rng = np.random.default_rng(log2_size)
    count = 6 if log2_size >= 5 else 12
    for c_idx in range(3):
        for scan_idx in range(3):
            blocks = [random_block(rng, log2_size, kind)
                      for kind in ("sparse", "dense", "escape", "typical") for _ in range(count // 4 + 1)]
            data, returned, decoded, written_trace, read_trace = write_read(blocks, log2_size, c_idx, scan_idx)
            for block, ret, dec in zip(blocks, returned, decoded):
                assert dec.dtype == np.int32 and dec.shape == block.shape
                np.testing.assert_array_equal(ret, block)
                np.testing.assert_array_equal(dec, block)
            assert written_trace == read_trace
            assert any(line.startswith("coeff_abs_level_remaining") for line in written_trace)
            estimator = RateEstimator(CONTEXT_TABLE, QP)
            for block in blocks:
                residual_coding(estimator, block, log2_size, c_idx, scan_idx)
            assert abs(estimator.bits - 8 * len(data)) <= 0.01 * 8 * len(data) + 16


def test_trace_names_and_positions():
    block = np.zeros((8, 8), dtype=np.int32)
    block[0, 0], block[0, 1], block[5, 6] = 7, -1, 2
    _, _, _, trace, _ = write_read([block], 3, 0, SCAN_DIAG)
    names = [line.split()[0] for line in trace]
    assert names[:4] == ["last_sig_coeff_x_prefix", "last_sig_coeff_y_prefix",
                         "last_sig_coeff_x_suffix", "last_sig_coeff_y_suffix"]
    assert {"coded_sub_block_flag", "sig_coeff_flag", "coeff_abs_level_greater1_flag",
            "coeff_abs_level_greater2_flag", "coeff_sign_flag", "coeff_abs_level_remaining"} <= set(names)
    assert "coeff_sign_flag c_idx=0 xC=1 yC=0 = 1" in " ".join(trace)


def test_estimator_tracks_writer_over_many_blocks():
    rng = np.random.default_rng(7)
    blocks = [random_block(rng, 3, "typical") for _ in range(300)]
    writer = SyntaxWriter(CONTEXT_TABLE, QP)
    estimator = RateEstimator(CONTEXT_TABLE, QP)
    for block in blocks:
        residual_coding(writer, block, 3, 0, SCAN_DIAG)
        residual_coding(estimator, block, 3, 0, SCAN_DIAG)
    written = 8 * len(writer.finish())
    assert estimator.bits == pytest.approx(written, rel=0.01)
    assert estimator.bits_by_category["coeff"] == pytest.approx(estimator.bits)


# ---- invalid input --------------------------------------------------------------------------------

def test_writer_rejects_bad_blocks():
    writer = SyntaxWriter(CONTEXT_TABLE, QP)
    with pytest.raises(CodecError):
        residual_coding(writer, np.zeros((8, 8), dtype=np.int32), 3, 0, 0)
    with pytest.raises(CodecError):
        residual_coding(writer, np.ones((4, 8), dtype=np.int32), 3, 0, 0)
    with pytest.raises(CodecError):
        residual_coding(writer, np.ones((8, 8)), 3, 0, 0)            # float levels
    with pytest.raises(CodecError):
        residual_coding(writer, np.ones((8, 8), dtype=np.int32), 3, 3, 0)
    outside = np.zeros((64, 64), dtype=np.int32)
    outside[40, 3] = 1
    with pytest.raises(CodecError):
        residual_coding(writer, outside, 6, 0, 0)
    too_big = np.zeros((4, 4), dtype=np.int32)
    too_big[1, 1] = LEVEL_MAX + 1
    with pytest.raises(BitstreamError):
        residual_coding(writer, too_big, 2, 0, 0)


def test_reader_on_random_bytes_fails_cleanly():
    rng = np.random.default_rng(11)
    outcomes = {"error": 0, "ok": 0}
    for trial in range(300):
        log2_size = int(rng.integers(2, 7))
        data = rng.integers(0, 256, int(rng.integers(0, 40))).astype(np.uint8).tobytes()
        try:
            reader = SyntaxReader(CONTEXT_TABLE, QP, data)
            for _ in range(3):
                levels = residual_coding(reader, None, log2_size, trial % 3, int(rng.integers(0, 3)))
                assert levels.shape == (1 << log2_size, 1 << log2_size) and levels.dtype == np.int32
                assert levels.any()
                assert not levels[32:].any() and not levels[:, 32:].any()
            outcomes["ok"] += 1
        except BitstreamError:
            outcomes["error"] += 1
    assert outcomes["error"] > 0 and outcomes["ok"] > 0


# ---- sign data hiding -----------------------------------------------------------------------------

def sub_block_parities_hold(levels: np.ndarray, log2_size: int, c_idx: int, scan_idx: int) -> bool:
    """Every sub-block whose first and last significant scan positions are more than 3 apart has a sum
    of absolute levels whose parity is the sign of its first significant level (odd: negative)."""
    from host.residual_coding import scan_plan
    from host.scan import coded_log2_size
    log2c = coded_log2_size(log2_size)
    flat = levels[:1 << log2c, :1 << log2c].reshape(-1)[scan_plan(log2c, c_idx, scan_idx).scan].reshape(-1, 16)
    for sub in flat:
        sig = np.flatnonzero(sub)
        if len(sig) > 1 and sig[-1] - sig[0] > 3 and (np.abs(sub).sum() & 1) != (sub[sig[0]] < 0):
            return False
    return True


@pytest.mark.parametrize("log2_size", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("bit_depth", [8, 10])
def test_sign_hiding_fixes_parities_and_round_trips(log2_size, bit_depth):
    from host.encoder.quant import quantize_unchecked
    from host.encoder.sign_hiding import hide_signs
    rng = np.random.default_rng(log2_size + bit_depth)
    size = 1 << log2_size
    y, x = np.mgrid[:size, :size]
    coeffs = np.round(rng.laplace(0, 1, (8, size, size)) * 3000 / (1 + x + y)).astype(np.int32)
    if log2_size == 6:
        coeffs[:, 32:, :] = coeffs[:, :, 32:] = 0
    for c_idx, scan_idx in ((0, SCAN_DIAG), (1, SCAN_HOR), (0, SCAN_VER)):
        plain = quantize_unchecked(coeffs, 30, log2_size, bit_depth)
        hidden = hide_signs(plain, coeffs, 30, log2_size, c_idx, scan_idx, bit_depth, lam=60.0)
        assert np.abs(hidden - plain).max() <= 1
        blocks = [b for b in hidden if b.any()]
        assert blocks and all(sub_block_parities_hold(b, log2_size, c_idx, scan_idx) for b in blocks)
        writer = SyntaxWriter(CONTEXT_TABLE, QP)
        for b in blocks:
            residual_coding(writer, b, log2_size, c_idx, scan_idx, sign_hiding=True)
        reader = SyntaxReader(CONTEXT_TABLE, QP, writer.finish())
        for b in blocks:
            np.testing.assert_array_equal(residual_coding(reader, None, log2_size, c_idx, scan_idx, True), b)
        reader.finish()


def test_sign_hiding_codes_one_sign_fewer_and_the_writer_checks_parity():
    block = np.zeros((4, 4), dtype=np.int32)
    block[0, 0], block[3, 3] = -3, 2           # scan positions 0 and 15: hidden; |sum| odd -> negative
    _, _, _, plain_trace, _ = write_read([block], 2, 0, SCAN_DIAG)
    writer = SyntaxWriter(CONTEXT_TABLE, QP)
    trace: list[str] = []
    writer.trace_sink = trace.append
    residual_coding(writer, block, 2, 0, SCAN_DIAG, sign_hiding=True)
    signs = [line for line in trace if line.startswith("coeff_sign_flag")]
    assert len(signs) == 1 and "xC=3 yC=3" in signs[0]
    assert sum(line.startswith("coeff_sign_flag") for line in plain_trace) == 2
    block[0, 0] = 3                            # positive first level with an odd sum: not codable
    with pytest.raises(CodecError, match="parity"):
        residual_coding(SyntaxWriter(CONTEXT_TABLE, QP), block, 2, 0, SCAN_DIAG, sign_hiding=True)
    estimator = RateEstimator(CONTEXT_TABLE, QP)   # rates it anyway, for the encoder's trials
    residual_coding(estimator, block, 2, 0, SCAN_DIAG, sign_hiding=True)
    assert estimator.bits > 0
    near = np.zeros((4, 4), dtype=np.int32)
    near[0, 0], near[0, 1] = 3, 1              # scan positions 0 and 2: too close, both signs coded
    residual_coding(SyntaxWriter(CONTEXT_TABLE, QP), near, 2, 0, SCAN_DIAG, sign_hiding=True)
