"""Host coding tools of issue 26: trained context initialisation, transform skip and the encoder's
speed switches.  Every tool decodes to the encoder's reconstruction, across QPs, chroma formats, bit
depths and awkward sizes; the switches that only steer the search never change what decoding means."""
import io
import re

import numpy as np
import pytest

from bitstream.container import read_container
from bitstream.errors import InputError
from bitstream.syntax_coder import ChannelTrace
from hybridcodec import Encoder, EncoderConfig, decode
from host.contexts import CONTEXT_TABLE
from host.context_init import TRAINED_INIT
from host.transform import SKIP, forward_transform_unchecked, inverse_transform, inverse_transform_unchecked
from pictures import synthetic_gray, synthetic_rgb, synthetic_screen as screen_like


def coded(image, **options):
    out = io.StringIO()
    result = Encoder(EncoderConfig(**{"mode": "host", "nn_loop_filter": False, **options})).encode(
        image, trace_sink=ChannelTrace(out, ("syntax",)))
    decoded = decode(result.bitstream)
    assert np.array_equal(decoded, result.reconstruction)
    return result, out.getvalue()


def skipped_blocks(trace: str) -> int:
    return len(re.findall(r"^transform_skip_flag .* = 1 \(", trace, flags=re.MULTILINE))


# -- transform skip ----------------------------------------------------------------------------------

@pytest.mark.parametrize("bit_depth", [8, 10])
@pytest.mark.parametrize("size", [4, 8, 16, 32])
def test_transform_skip_is_a_scaled_identity(size, bit_depth):
    rng = np.random.default_rng(size)
    residual = rng.integers(-(1 << bit_depth) + 1, 1 << bit_depth, (3, size, size)).astype(np.int32)
    coeffs = forward_transform_unchecked(residual, size, SKIP, bit_depth)
    assert np.array_equal(inverse_transform_unchecked(coeffs, size, SKIP, bit_depth), residual)
    assert np.array_equal(inverse_transform(coeffs, size, SKIP, bit_depth), residual)
    with pytest.raises(InputError):
        inverse_transform(coeffs[..., :2, :2], 2, SKIP, bit_depth)


@pytest.mark.parametrize("qp", [22, 37])
@pytest.mark.parametrize("max_ts_size", [4, 8, 32])
def test_transform_skip_is_chosen_on_screen_content_and_decodes_exactly(qp, max_ts_size):
    image = screen_like(40, 72, seed=qp)
    with_ts, trace = coded(image, qp=qp, min_cu_size=4, max_ts_size=max_ts_size)
    header, _ = read_container(with_ts.bitstream)
    assert header.MaxTsSize == max_ts_size
    assert skipped_blocks(trace) > 0
    without, trace_off = coded(image, qp=qp, min_cu_size=4, max_ts_size=0)
    assert "transform_skip_flag" not in trace_off and read_container(without.bitstream)[0].MaxTsSize == 0


@pytest.mark.parametrize("options", [
    dict(chroma_format="444", qp=27),
    dict(ctu_size=64, qp=32, rdoq=False),
    dict(qp=30, fast_rdoq=True, nxn_skip_residual_free=True),
])
def test_transform_skip_with_other_tools(options):
    _, trace = coded(screen_like(56, 48, seed=1), min_cu_size=4, max_ts_size=8, **options)
    assert skipped_blocks(trace) > 0


def test_transform_skip_gray_10_bit_and_awkward_sizes():
    coded(screen_like(37, 29, seed=2, dtype=np.uint16), qp=32, max_ts_size=8, min_cu_size=4)
    coded(synthetic_gray(9, 70, seed=3), qp=27, max_ts_size=4, min_cu_size=4)
    coded(synthetic_rgb(1, 1), qp=22, max_ts_size=32)


def test_max_ts_size_is_validated():
    with pytest.raises(InputError):
        EncoderConfig(max_ts_size=64)


# -- trained context initialisation --------------------------------------------------------------------

def test_trained_table_names_registered_contexts_and_differs_from_equiprobable():
    for name, (inits, shifts) in TRAINED_INIT.items():
        base, count = CONTEXT_TABLE.index(name)
        assert len(inits) == len(shifts) == count
    if TRAINED_INIT:
        assert CONTEXT_TABLE.initial_states(32, trained=True) != CONTEXT_TABLE.initial_states(32)


@pytest.mark.parametrize("qp", [0, 22, 37, 51])
def test_context_init_flag_round_trips_and_is_used(qp):
    image = synthetic_rgb(48, 64, seed=qp)
    on, _ = coded(image, qp=qp)
    off, _ = coded(image, qp=qp, context_init=False)
    assert read_container(on.bitstream)[0].context_init_flag and not read_container(off.bitstream)[0].context_init_flag
    if TRAINED_INIT:
        assert on.bitstream != off.bitstream


# -- encoder speed switches ----------------------------------------------------------------------------

@pytest.mark.parametrize("options", [dict(fast_rdoq=True), dict(nxn_skip_residual_free=True, min_cu_size=4),
                                     dict(fast_rdoq=True, min_cu_size=4, chroma_format="444", qp=22),
                                     dict(fast_rdoq=False, nxn_skip_bits=12.0, nxn_rd_modes=2),
                                     dict(fast_rdoq="luma", chroma_format="444", ctu_size=64)])
def test_speed_switches_decode_exactly(options):
    coded(synthetic_rgb(40, 72, seed=7), **{"qp": 32, **options})


def test_fast_rdoq_names_trial_kinds():
    assert EncoderConfig().fast_rdoq == ("nxn", "chroma")
    assert EncoderConfig(fast_rdoq=True).fast_rdoq == ("luma", "nxn", "chroma") == EncoderConfig(fast_rdoq="all").fast_rdoq
    assert EncoderConfig(fast_rdoq=False).fast_rdoq == () == EncoderConfig(fast_rdoq="none").fast_rdoq
    assert EncoderConfig(fast_rdoq="luma, chroma").fast_rdoq == ("luma", "chroma")
    with pytest.raises(InputError, match="fast_rdoq"):
        EncoderConfig(fast_rdoq="nxn,everything")


def test_nxn_skip_only_drops_trials_that_2nx2n_would_win_without_residual():
    """On a flat picture every 8x8 CU is coded without residual, so skipping its NxN trial changes nothing."""
    flat = np.full((32, 32, 3), 120, dtype=np.uint8)
    a, _ = coded(flat, qp=32, min_cu_size=4)
    b, _ = coded(flat, qp=32, min_cu_size=4, nxn_skip_residual_free=True)
    assert a.bitstream == b.bitstream


def test_inspector_shows_transform_skip_per_block():
    from hybridcodec.tools.inspector import format_text, inspect_bitstream
    result, trace = coded(screen_like(40, 72, seed=3), qp=32, min_cu_size=4, max_ts_size=8)
    info = inspect_bitstream(result.bitstream)
    flags = [f for cu in info.cus for c in cu.transform_skip.values() for f in c]
    assert sum(flags) == skipped_blocks(trace) > 0
    assert "transform_skip Y" in format_text(info)


def test_screen_detection_gates_transform_skip():
    from host.encoder.screen import is_screen_content
    noisy = synthetic_rgb(48, 64, seed=4)
    assert is_screen_content(screen_like(48, 64)[..., 1]) and not is_screen_content(noisy[..., 1])
    auto, _ = coded(noisy, qp=32, max_ts_size=8)
    forced, _ = coded(noisy, qp=32, max_ts_size=8, ts_screen_detect=False)
    assert read_container(auto.bitstream)[0].MaxTsSize == 0 and read_container(forced.bitstream)[0].MaxTsSize == 8


# -- cross-component linear model -------------------------------------------------------------------

def test_linear_model_recovers_a_line_and_degenerates_to_flat():
    from host.cclm import linear_model
    ys = np.array([10, 20, 30, 40, 50, 60, 70, 80])
    a, b = linear_model(ys, 3 * ys // 2 + 7)
    assert abs(a / 65536 - 1.5) < 1e-3 and abs(((a * 45) >> 16) + b - (3 * 45 // 2 + 7)) <= 1
    assert linear_model(np.full(5, 9), np.full(5, 4)) == (0, 4)
    assert linear_model(np.array([3]), np.array([8])) == (0, 8)


def test_luma_downsampling_is_the_six_tap_filter():
    from host.cclm import luma_at_chroma
    rng = np.random.default_rng(0)
    luma = rng.integers(0, 1024, (16, 16))
    got = luma_at_chroma(luma, 0, 0, 8, 8, 1)
    for y in range(8):
        for x in range(8):
            l, c, r = max(2 * x - 1, 0), 2 * x, 2 * x + 1
            rows = luma[2 * y:2 * y + 2]
            expect = (rows[:, l].sum() + 2 * rows[:, c].sum() + rows[:, r].sum() + 4) >> 3
            assert got[y, x] == expect
    assert np.array_equal(luma_at_chroma(luma, 2, 3, 4, 4, 0), luma[3:7, 2:6])


def chroma_follows_luma(height: int, width: int, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    """Colour that is a different linear function of brightness in each region: what CCLM predicts."""
    rng = np.random.default_rng(seed)
    top = 1023 if dtype == np.uint16 else 255
    base = np.cumsum(np.cumsum(rng.normal(0, 1, (height, width)), 0), 1)
    base = (base - base.min()) / max(np.ptp(base), 1e-9)
    image = np.stack([base, 1 - base, 0.5 * base + 0.2], axis=-1) * top
    return np.clip(image, 0, top).astype(dtype)


@pytest.mark.parametrize("options", [dict(qp=22), dict(qp=37), dict(qp=30, chroma_format="444"),
                                     dict(qp=27, ctu_size=64, min_cu_size=8), dict(qp=32, rdoq=False)])
def test_cclm_is_chosen_and_decodes_exactly(options):
    result, trace = coded(chroma_follows_luma(48, 80, seed=options["qp"]), **options)
    assert read_container(result.bitstream)[0].cclm_enabled_flag
    assert re.search(r"^cclm_mode_flag .* = 1 \(", trace, flags=re.MULTILINE)


def test_cclm_10_bit_awkward_sizes_and_gray():
    coded(chroma_follows_luma(37, 21, seed=1, dtype=np.uint16), qp=27)
    coded(chroma_follows_luma(1, 3, seed=2), qp=32)
    gray, trace = coded(synthetic_gray(24, 40, seed=3), qp=32)
    assert not read_container(gray.bitstream)[0].cclm_enabled_flag and "cclm" not in trace
    off, trace = coded(chroma_follows_luma(24, 40), qp=32, cclm=False)
    assert not read_container(off.bitstream)[0].cclm_enabled_flag and "cclm_mode_flag" not in trace


# -- sign data hiding -----------------------------------------------------------------------------------

def coded_signs(trace: str) -> int:
    return len(re.findall(r"^coeff_sign_flag ", trace, flags=re.MULTILINE))


@pytest.mark.parametrize("options", [dict(qp=22), dict(qp=37), dict(qp=27, chroma_format="444", min_cu_size=4),
                                     dict(qp=32, rdoq=False), dict(qp=30, fast_rdoq=True, max_tu_size=64),
                                     dict(qp=25, ctu_size=64)])
def test_sign_hiding_decodes_exactly_and_saves_sign_bits(options):
    image = synthetic_rgb(48, 72, seed=options["qp"])
    on, trace_on = coded(image, **options)
    off, trace_off = coded(image, sign_hiding=False, **options)
    assert read_container(on.bitstream)[0].sign_data_hiding_enabled_flag
    assert not read_container(off.bitstream)[0].sign_data_hiding_enabled_flag
    assert coded_signs(trace_on) < coded_signs(trace_off)


def test_sign_hiding_10_bit_gray_awkward_sizes_and_with_transform_skip():
    coded(synthetic_gray(37, 29, seed=5, dtype=np.uint16), qp=22)
    coded(synthetic_rgb(9, 70, seed=6), qp=27, min_cu_size=4)
    coded(synthetic_rgb(1, 1), qp=17)
    _, trace = coded(screen_like(40, 56, seed=4), qp=27, min_cu_size=4, max_ts_size=8)
    assert skipped_blocks(trace) > 0


# -- wavefront search ---------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [dict(ctu_size=64, qp=30), dict(ctu_size=64, qp=22, chroma_format="444"),
                                     dict(qp=37)])
def test_wavefront_search_gives_one_bitstream_for_any_worker_count(options):
    """Rows start from the contexts after the second CTU above, so decisions do not depend on how many
    processes search them; every count decodes to the encoder's reconstruction."""
    image = synthetic_rgb(200, 150 if options.get("ctu_size") == 64 else 260, seed=8)
    streams = {coded(image, search_workers=w, **options)[0].bitstream for w in (1, 2, 3)}
    assert len(streams) == 1


def test_wavefront_worker_failure_is_reported(monkeypatch):
    import host.encoder.search as search
    original = search.CtuSearch.search_node

    def fail_in_second_row(self, x, y, log2, depth):     # row 1 is the forked worker's
        if y == 64:
            raise ValueError("boom")
        return original(self, x, y, log2, depth)
    monkeypatch.setattr(search.CtuSearch, "search_node", fail_in_second_row)
    with pytest.raises(ValueError, match="boom"):
        coded(synthetic_rgb(150, 100, seed=9), ctu_size=64, search_workers=2)


# -- dependent quantisation -----------------------------------------------------------------------------

def test_dependent_quantizers_follow_the_four_state_machine():
    """The vectorised strided-xor form equals walking VVC's state table in coding order."""
    from host.quant import dependent_quantizers
    table = ((0, 2), (2, 0), (1, 3), (3, 1))
    rng = np.random.default_rng(3)
    for _ in range(300):
        size = int(rng.integers(1, 70))
        levels = rng.integers(-4, 5, size) * (rng.random(size) < 0.5)
        quantizers = dependent_quantizers(levels[None])[0]
        state = 0
        for s in range(size - 1, -1, -1):
            if levels[s:].any():          # from the last significant position down
                assert quantizers[s] == state >> 1
                state = table[state][abs(int(levels[s])) & 1]


def test_dep_quant_trellis_beats_rounding_and_reaches_every_quantizer():
    """At a tiny lambda the trellis reconstructs closer than rounding to the scalar quantiser, using
    both quantisers; all-small coefficients give an all-zero block."""
    from bitstream.syntax_coder import RateEstimator
    from host.encoder.dep_quant import dep_quant
    from host.encoder.quant import quantize
    from host.quant import dependent_quantizers, dequantize, dequantize_dependent_unchecked
    from host.scan import COEFF_SCAN
    rng = np.random.default_rng(4)
    size, qp = 16, 30
    estimator = RateEstimator(CONTEXT_TABLE, qp)
    scan = COEFF_SCAN[(4, 0)]
    d_plain = d_dep = 0.0
    used = set()
    for _ in range(10):
        coeffs = np.round(rng.laplace(0, 300, (size, size))).astype(np.int32)
        plain = dequantize(quantize(coeffs, qp, size, 8, rounding_offset=256), qp, size, 8)
        levels = dep_quant(coeffs, qp, size, 0, 1e-6, estimator, 8, scan_idx=0)
        dep = dequantize_dependent_unchecked(levels, qp, 4, 8, scan)
        d_plain += float(((plain - coeffs) ** 2.0).sum())
        d_dep += float(((dep - coeffs) ** 2.0).sum())
        in_scan = levels.reshape(-1)[scan]
        used |= set(dependent_quantizers(in_scan[None])[0][in_scan != 0].tolist())
    assert d_dep < 0.9 * d_plain and used == {0, 1}
    small = np.ones((size, size), np.int32)
    assert not dep_quant(small, qp, size, 0, 100.0, estimator, 8, scan_idx=0).any()


@pytest.mark.parametrize("options", [dict(qp=22), dict(qp=37), dict(qp=27, chroma_format="444", min_cu_size=4),
                                     dict(qp=32, rdoq=False), dict(qp=30, fast_rdoq=False, max_tu_size=64),
                                     dict(qp=25, ctu_size=64, max_ts_size=8)])
def test_dep_quant_decodes_exactly_and_replaces_sign_hiding(options):
    on, _ = coded(synthetic_rgb(48, 72, seed=options["qp"]), dep_quant=True, **options)
    header = read_container(on.bitstream)[0]
    assert header.dep_quant_enabled_flag and not header.sign_data_hiding_enabled_flag


def test_dep_quant_10_bit_gray_awkward_sizes_screen_and_wavefront():
    coded(synthetic_gray(37, 29, seed=5, dtype=np.uint16), qp=22, dep_quant=True)
    coded(synthetic_rgb(9, 70, seed=6), qp=27, min_cu_size=4, dep_quant=True)
    coded(synthetic_rgb(1, 1), qp=17, dep_quant=True)
    _, trace = coded(screen_like(40, 56, seed=4), qp=27, min_cu_size=4, max_ts_size=8, dep_quant=True)
    assert skipped_blocks(trace) > 0                 # transform-skipped blocks keep plain quantisation
    image = synthetic_rgb(150, 200, seed=9)
    assert len({coded(image, dep_quant=True, search_workers=w, qp=30)[0].bitstream for w in (1, 2)}) == 1


def test_dep_quant_and_sign_hiding_cannot_both_be_signalled():
    from bitstream.container import PictureHeader
    from bitstream.errors import BitstreamError
    with pytest.raises(BitstreamError, match="sign_data_hiding_enabled_flag"):
        PictureHeader.build(width=16, height=16, dep_quant_enabled_flag=True, sign_data_hiding_enabled_flag=True)
