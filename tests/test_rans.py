"""Interleaved rANS coder and its integer CDF tables: round trips, rate, robustness."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import ndtr

from bitstream.cdf_tables import gaussian_cdf_tables, log_scale_table, quantized_cdf_from_pmf
from bitstream.errors import BitstreamError, InputError
from bitstream.rans import (FLUSH_BITS_PER_LANE, RansDecoder, RansEncoder, RansTables, encode_passes,
                            estimate_bits, lane_count_for, rans_decode, rans_encode, symbol_bits)

SCALES = log_scale_table()
TABLE_ARRAYS = gaussian_cdf_tables(SCALES)
TABLES = RansTables(*TABLE_ARRAYS)


def gaussian_latents(count: int, seed: int, max_index: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    indexes = rng.integers(0, max_index, count)
    values = np.round(rng.normal(0.0, SCALES[indexes])).astype(np.int32)
    return values, indexes


# --- CDF tables -------------------------------------------------------------------------------------

@pytest.mark.parametrize("pmf", [np.array([0.5, 0.25, 0.25]), np.full(3000, 1 / 3000),
                                 np.array([1.0 - 1e-12, 1e-12]), np.array([])])
def test_quantized_cdf_is_a_valid_table_with_escape(pmf):
    cdf = quantized_cdf_from_pmf(pmf, precision=16)
    freqs = np.diff(cdf)
    assert cdf.dtype == np.int32 and cdf.size == pmf.size + 2
    assert cdf[0] == 0 and cdf[-1] == 1 << 16 and freqs.min() >= 1
    assert np.array_equal(cdf, quantized_cdf_from_pmf(pmf.copy(), precision=16))


def test_quantized_cdf_is_close_to_the_pmf():
    pmf = np.array([0.6, 0.3, 0.0999])
    freqs = np.diff(quantized_cdf_from_pmf(pmf, precision=12)) / 4096
    assert np.allclose(freqs[:3], pmf, atol=2 / 4096)


def test_quantized_cdf_rejects_what_cannot_fit():
    with pytest.raises(InputError):
        quantized_cdf_from_pmf(np.full(300, 1 / 300), precision=8)
    with pytest.raises(InputError):
        quantized_cdf_from_pmf(np.array([0.5, np.nan]))


def test_gaussian_tables_follow_the_gaussian():
    cdfs, lengths, offsets = TABLE_ARRAYS
    assert cdfs.dtype == lengths.dtype == offsets.dtype == np.int32
    assert cdfs.shape == (64, lengths.max())
    assert np.array_equal(lengths, -2 * offsets + 3)  # symmetric support plus escape
    assert np.all(np.diff(lengths) >= 0)
    scale, k = SCALES[40], 40
    freqs = np.diff(cdfs[k, : lengths[k]])[:-1] / 65536
    support = np.arange(offsets[k], -offsets[k] + 1)
    pmf = ndtr((support + 0.5) / scale) - ndtr((support - 0.5) / scale)
    assert np.abs(freqs - pmf).max() < 2e-4
    assert np.all(cdfs[k, lengths[k]:] == 65536)


def test_gaussian_support_shrinks_with_tail_mass():
    wide = gaussian_cdf_tables([4.0], tail_mass=1e-9)[1][0]
    narrow = gaussian_cdf_tables([4.0], tail_mass=1e-2)[1][0]
    assert narrow < wide


def test_log_scale_table_is_geometric():
    scales = log_scale_table(0.11, 256.0, 64)
    assert scales.size == 64 and np.isclose(scales[0], 0.11) and np.isclose(scales[-1], 256.0)
    ratios = scales[1:] / scales[:-1]
    assert np.allclose(ratios, ratios[0])


# --- round trips -----------------------------------------------------------------------------------

@pytest.mark.parametrize("lanes", [1, 3, 64, 2048])
def test_round_trip_gaussian_latents(lanes):
    values, indexes = gaussian_latents(4000 if lanes == 1 else 40_000, seed=lanes)
    data = rans_encode(values, indexes, *TABLE_ARRAYS, lanes=lanes)
    decoded = rans_decode(data, indexes, *TABLE_ARRAYS, lanes=lanes)
    assert decoded.dtype == np.int32 and np.array_equal(decoded, values)


def test_round_trip_with_lower_table_precision():
    tables = RansTables(*gaussian_cdf_tables(SCALES[:20], precision=12), precision=12)
    values, indexes = gaussian_latents(5000, seed=12, max_index=20)
    values[::500] = -(1 << 20)
    data = rans_encode(values, indexes, tables, lanes=50)
    assert np.array_equal(rans_decode(data, indexes, tables, lanes=50), values)
    assert len(data) * 8 < 1.02 * estimate_bits(values, indexes, tables) + 50 * 2 * FLUSH_BITS_PER_LANE


def test_lane_count_changes_the_stream_not_the_values():
    values, indexes = gaussian_latents(10_000, seed=7)
    few = rans_encode(values, indexes, TABLES, lanes=5)
    many = rans_encode(values, indexes, TABLES, lanes=1000)
    assert few != many and len(few) < len(many)
    assert np.array_equal(rans_decode(few, indexes, TABLES, lanes=5), values)
    assert np.array_equal(rans_decode(many, indexes, TABLES, lanes=1000), values)


def test_escapes_round_trip_including_int32_extremes():
    values, indexes = gaussian_latents(6000, seed=3, max_index=8)
    rng = np.random.default_rng(4)
    large = rng.choice(values.size, 500, replace=False)
    values[large] = rng.integers(-(1 << 20), 1 << 20, large.size)
    values[:4] = [np.iinfo(np.int32).min, np.iinfo(np.int32).max, -(1 << 20), 1 << 20]
    for lanes in (1, 16, 4096):
        data = rans_encode(values, indexes, TABLES, lanes=lanes)
        assert np.array_equal(rans_decode(data, indexes, TABLES, lanes=lanes), values)


def test_escape_only_table_and_extreme_offsets():
    # Table 0 holds only the escape symbol; table 1's offset sits at the int32 limit.
    cdfs = np.array([[0, 65536, 65536], [0, 30000, 65536]], dtype=np.int32)
    offsets = np.array([0, np.iinfo(np.int32).max], dtype=np.int32)
    lengths = np.array([2, 3], dtype=np.int32)
    values = np.array([0, 5, -7, np.iinfo(np.int32).max, np.iinfo(np.int32).min, 0], dtype=np.int32)
    indexes = np.array([0, 0, 0, 1, 1, 1])
    data = rans_encode(values, indexes, cdfs, lengths, offsets, lanes=2)
    assert np.array_equal(rans_decode(data, indexes, cdfs, lengths, offsets, lanes=2), values)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_tiny_inputs(count):
    values, indexes = gaussian_latents(count, seed=count)
    data = rans_encode(values, indexes, TABLES, lanes=2048)
    assert 4 * count <= len(data) <= 6 * count  # a 4-byte flush per used lane, at most a word per symbol
    assert np.array_equal(rans_decode(data, indexes, TABLES, lanes=2048), values)
    if count == 0:
        assert data == b""


def test_encoding_is_deterministic():
    values, indexes = gaussian_latents(5000, seed=11)
    assert rans_encode(values, indexes, TABLES, lanes=37) == rans_encode(values.copy(), indexes.copy(),
                                                                          *TABLE_ARRAYS, lanes=37)


def test_passes_share_one_stream_and_later_indexes_may_depend_on_earlier_values():
    anchors, anchor_indexes = gaussian_latents(700, seed=21)
    context_indexes = np.minimum(np.abs(np.resize(anchors, 1500)), 63)
    non_anchors = np.round(np.random.default_rng(22).normal(0, SCALES[context_indexes])).astype(np.int32)
    tail, tail_indexes = gaussian_latents(30, seed=23)
    data = encode_passes([(anchors, anchor_indexes), (non_anchors, context_indexes), (tail, tail_indexes)],
                         TABLES, lanes=1024)
    decoder = RansDecoder(data, TABLES, lanes=1024)
    decoded_anchors = decoder.decode_pass(anchor_indexes)
    decoded_non_anchors = decoder.decode_pass(np.minimum(np.abs(np.resize(decoded_anchors, 1500)), 63))
    decoded_tail = decoder.decode_pass(tail_indexes)
    decoder.finish()
    assert np.array_equal(decoded_anchors, anchors)
    assert np.array_equal(decoded_non_anchors, non_anchors)
    assert np.array_equal(decoded_tail, tail)


def test_encoder_object_matches_convenience_function():
    values, indexes = gaussian_latents(3000, seed=5)
    encoder = RansEncoder(TABLES, lanes=100)
    encoder.encode_pass(values, indexes)
    assert encoder.finish() == rans_encode(values, indexes, TABLES, lanes=100)


# --- rate ------------------------------------------------------------------------------------------

def test_size_is_close_to_the_model_entropy():
    values, indexes = gaussian_latents(200_000, seed=99, max_index=40)
    estimated = estimate_bits(values, indexes, TABLES)
    lanes = lane_count_for(estimated)
    data = rans_encode(values, indexes, TABLES, lanes=lanes)
    scale = SCALES[indexes]
    model_bits = -np.log2(ndtr((values + 0.5) / scale) - ndtr((values - 0.5) / scale)).sum()
    assert abs(estimated - model_bits) < 0.005 * model_bits  # table quantisation loss
    assert estimated * 0.999 < len(data) * 8 < 1.01 * model_bits + 2 * FLUSH_BITS_PER_LANE * lanes


def test_symbol_bits_charge_escapes_their_bypass_bins():
    indexes = np.zeros(3, dtype=np.int64)
    escape_symbol = TABLE_ARRAYS[1][0] - 2
    values = np.array([0, escape_symbol + TABLE_ARRAYS[2][0] + 100, 1 << 20], dtype=np.int32)
    bits = symbol_bits(values, indexes, TABLES)
    escape_cost = 16 - np.log2(np.diff(TABLE_ARRAYS[0][0])[escape_symbol])
    assert bits[0] < 1.0
    assert bits[1] == pytest.approx(escape_cost + 6 + 7)  # u = 200 has 8 bits
    assert bits[2] > bits[1]
    assert estimate_bits(values, indexes, TABLES) == pytest.approx(bits.sum())


def test_lane_count_for_bounds_the_flush_overhead():
    assert lane_count_for(0) == 1 and lane_count_for(1e12) == 2048
    for ideal_bits in (5e4, 1e5, 1.3e6):
        lanes = lane_count_for(ideal_bits)
        assert lanes & (lanes - 1) == 0
        assert lanes * FLUSH_BITS_PER_LANE <= 0.01 * ideal_bits < 2 * lanes * FLUSH_BITS_PER_LANE


# --- bad input and corrupted streams ---------------------------------------------------------------

def test_bad_arguments_raise_input_error():
    values, indexes = gaussian_latents(10, seed=1)
    with pytest.raises(InputError):
        rans_encode(values, indexes + 64, TABLES)
    with pytest.raises(InputError):
        rans_encode(values.astype(np.float32), indexes, TABLES)
    with pytest.raises(InputError):
        rans_encode(values, indexes, TABLES, lanes=0)
    with pytest.raises(InputError):
        rans_decode(b"", np.array([-1]), TABLES)
    broken = TABLE_ARRAYS[0].copy()
    broken[40, 5] = broken[40, 4]  # a zero frequency inside the table
    with pytest.raises(InputError):
        RansTables(broken, TABLE_ARRAYS[1], TABLE_ARRAYS[2])


def test_structural_stream_errors_raise_bitstream_error():
    values, indexes = gaussian_latents(500, seed=2)
    data = rans_encode(values, indexes, TABLES, lanes=8)
    for bad in (data[:-1], data[:-2], data + b"\x12\x34", b"\x00" * len(data)):
        with pytest.raises(BitstreamError):
            rans_decode(bad, indexes, TABLES, lanes=8)


VALID_VALUES, VALID_INDEXES = gaussian_latents(300, seed=8)
VALID_VALUES[::37] = 1 << 19  # some escapes
VALID_STREAMS = {lanes: rans_encode(VALID_VALUES, VALID_INDEXES, TABLES, lanes=lanes) for lanes in (1, 7, 64)}


def decode_or_raise(data: bytes, lanes: int) -> None:
    """The only allowed outcomes for damaged data: BitstreamError, or values of the right shape."""
    try:
        decoded = rans_decode(data, VALID_INDEXES, TABLES, lanes=lanes)
    except BitstreamError:
        return
    assert decoded.shape == VALID_INDEXES.shape and decoded.dtype == np.int32


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=1500), lanes=st.sampled_from([1, 7, 64]))
def test_random_data_never_hangs_or_crashes(data, lanes):
    decode_or_raise(data, lanes)


@settings(max_examples=100, deadline=None)
@given(lanes=st.sampled_from([1, 7, 64]), cut=st.integers(0, 10_000))
def test_truncated_stream_raises_or_returns(lanes, cut):
    stream = VALID_STREAMS[lanes]
    decode_or_raise(stream[: cut % (len(stream) + 1)], lanes)


@settings(max_examples=100, deadline=None)
@given(lanes=st.sampled_from([1, 7, 64]), position=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_corrupted_stream_raises_or_returns(lanes, position, flip):
    stream = bytearray(VALID_STREAMS[lanes])
    stream[position % len(stream)] ^= flip
    decode_or_raise(bytes(stream), lanes)
