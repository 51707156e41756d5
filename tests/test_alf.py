"""The adaptive loop filter (host.alf, issue 26): classification, band-exact filtering, header syntax,
and streams with ALF on that decode to the encoder's reconstruction across QPs, chroma formats, bit
depths, CTU sizes and awkward picture sizes."""
import io
from dataclasses import replace

import numpy as np
import pytest

from bitstream.bitio import BitReader
from bitstream.container import (NN_LF_ALL_CTUS, NN_LF_PER_CTU, PictureHeader, picture_header,
                                 read_container)
from bitstream.errors import BitstreamError
from bitstream.header_coder import HeaderReader, HeaderWriter
from bitstream.syntax_coder import ChannelTrace
from hybridcodec import Encoder, EncoderConfig, decode
from host.alf import ALF_CHROMA_TAPS, ALF_LUMA_TAPS, AlfCtbFlags, alf_picture, classify, clip_values, filter_band
from host.partition import PictureGeometry
from pictures import smooth_rgb, synthetic_gray, synthetic_rgb


def coded(image, **options):
    out = io.StringIO()
    result = Encoder(EncoderConfig(**{"mode": "host", "nn_loop_filter": False, **options})).encode(
        image, trace_sink=ChannelTrace(out, ("syntax",)))
    assert np.array_equal(decode(result.bitstream), result.reconstruction)
    return result, out.getvalue()


def test_classes_follow_direction_and_activity():
    flat = np.full((16, 16), 100, dtype=np.int32)
    assert (classify(flat, 0, 16, 8) == 0).all()                     # no texture: direction 0, activity 0
    stripes = np.tile(np.array([0, 200] * 8, dtype=np.int32), (16, 1))   # columns alternate: horizontal Laplacian
    cls = classify(stripes, 0, 16, 8)
    assert (cls == 5 * 2 + 4).all()                                  # strongly horizontal, highest activity
    assert np.array_equal(classify(stripes.T.copy(), 0, 16, 8), cls)  # the transpose: vertical, same class
    assert np.array_equal(classify(stripes << 2, 0, 16, 10), cls)    # activity scales with the bit depth


@pytest.mark.parametrize("taps", [ALF_LUMA_TAPS, ALF_CHROMA_TAPS])
def test_bands_give_the_whole_picture_samples(taps):
    rng = np.random.default_rng(1)
    plane = rng.integers(0, 1024, (40, 28)).astype(np.uint16)
    coeffs = rng.integers(-127, 128, len(taps))
    clips = clip_values(rng.integers(0, 4, len(taps)), 10)
    whole = filter_band(plane, 0, 40, coeffs, clips, 10, taps)
    banded = np.concatenate([filter_band(plane, r, min(r + 8, 40), coeffs, clips, 10, taps) for r in range(0, 40, 8)])
    assert np.array_equal(whole, banded)
    assert np.array_equal(filter_band(plane, 0, 40, np.zeros(len(taps), dtype=np.int64), clips, 10, taps), plane)
    assert whole.min() >= 0 and whole.max() <= 1023
    linear = filter_band(plane, 0, 40, coeffs, clip_values([0] * len(taps), 10), 10, taps)
    assert not np.array_equal(linear, whole)                          # clipping changes the output


def test_clip_index_zero_is_linear_and_small_clips_bound_the_change():
    rng = np.random.default_rng(2)
    plane = rng.integers(0, 256, (16, 24)).astype(np.int32)
    coeffs = np.full(len(ALF_LUMA_TAPS), 10)
    linear = filter_band(plane, 0, 16, coeffs, clip_values([0] * 12, 8), 8, ALF_LUMA_TAPS)
    pairs = sum(p + q - 2 * plane for p, q in (_shifted(plane, dy, dx) for dy, dx in ALF_LUMA_TAPS))
    assert np.array_equal(linear, np.clip(plane + ((10 * pairs + 64) >> 7), 0, 255))
    tight = filter_band(plane, 0, 16, coeffs, clip_values([3] * 12, 8), 8, ALF_LUMA_TAPS)
    assert np.abs(tight - plane).max() <= (10 * 2 * 4 * 12 + 64) >> 7     # each difference within +-4


def _shifted(plane, dy, dx):
    """The neighbours at (+dy, +dx) and (-dy, -dx), border samples repeated."""
    p = np.pad(plane, 3, mode="edge")
    h, w = plane.shape
    return p[3 + dy:3 + dy + h, 3 + dx:3 + dx + w], p[3 - dy:3 - dy + h, 3 - dx:3 - dx + w]


def _alf_header(width=40, height=32, chroma=1, **fields):
    rng = np.random.default_rng(3)
    luma = tuple(tuple(int(v) for v in rng.integers(-20, 21, 12)) for _ in range(3))
    base = PictureHeader.build(width, height, chroma_format_idc=chroma, ctu_size=64)
    return replace(base, **{"alf_enabled_flag": True, "alf_luma_mode": NN_LF_PER_CTU, "alf_cb_mode": NN_LF_ALL_CTUS,
                            "alf_luma_num_filters_signalled_minus1": 2, "alf_luma_coeff": luma,
                            "alf_luma_coeff_delta_idx": tuple(k % 3 for k in range(25)), "alf_luma_clip_flag": True,
                            "alf_luma_clip_idx": tuple(tuple((f + j) % 4 for j in range(12)) for f in range(3)),
                            "alf_cb_coeff": (3, -2, 5, 0, 1, -1), "alf_cb_clip_idx": (0, 1, 2, 3, 0, 1), **fields})


def test_picture_header_round_trip_and_ranges():
    header = _alf_header()
    hw = HeaderWriter()
    picture_header(hw, header)
    hw.byte_alignment()
    assert picture_header(HeaderReader(BitReader(hw.output()))) == header
    with pytest.raises(BitstreamError):
        _alf_header(alf_cb_coeff=(200, 0, 0, 0, 0, 0))
    with pytest.raises(BitstreamError):
        _alf_header(alf_luma_coeff_delta_idx=(3,) * 25)
    with pytest.raises(BitstreamError):
        _alf_header(alf_enabled_flag=False)
    with pytest.raises(BitstreamError):
        _alf_header(alf_cb_clip_idx=(0, 4, 0, 0, 0, 0))
    with pytest.raises(BitstreamError):
        _alf_header(alf_luma_clip_flag=False)                       # clip indices without the flag


def test_band_height_does_not_change_the_picture():
    header = _alf_header(96, 72, alf_luma_mode=NN_LF_ALL_CTUS, alf_cr_mode=NN_LF_PER_CTU,
                         alf_cr_coeff=(-4, 6, 2, 1, -3, 2), alf_cr_clip_idx=(1, 0, 0, 2, 0, 3))
    rng = np.random.default_rng(5)
    planes = [rng.integers(0, 256, (72, 96)).astype(np.int32)] + \
             [rng.integers(0, 256, (36, 48)).astype(np.int32) for _ in range(2)]
    flags = AlfCtbFlags.from_header(header, PictureGeometry.from_header(header))
    flags.flags[2] = [[1, 0], [0, 1]]
    outs = [alf_picture(planes, header, flags, band) for band in (4, 16, 64, 128)]
    for out in outs[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(outs[0], out))
    assert np.array_equal(outs[0][2][:32, 32:], planes[2][:32, 32:])      # CTU with alf_ctb_flag 0: unfiltered
    assert not np.array_equal(outs[0][0], planes[0]) and not np.array_equal(outs[0][1], planes[1])


def test_alf_is_chosen_and_decodes_exactly():
    """Every stream decodes exactly; ALF is on in most and coded per CTU in some (alf_ctb_flag parsed)."""
    cases = [dict(qp=22), dict(qp=37), dict(qp=30, chroma_format="444"), dict(qp=32, ctu_size=64, rdoq=False),
             dict(qp=27, dep_quant=True), dict(qp=22, ctu_size=64, chroma_format="444"),
             dict(qp=27, ctu_size=64, mixed=True)]
    headers, traces = [], ""
    for options in cases:
        image = smooth_rgb(72, 136, seed=options["qp"])
        if options.pop("mixed", False):         # smooth left half, noisy right half: filters that help in part
            image = np.concatenate([smooth_rgb(64, 128, seed=27), synthetic_rgb(64, 128, seed=27)], axis=1)
        result, trace = coded(image, **options)
        headers.append(read_container(result.bitstream)[0])
        traces += trace
    modes = [(h.alf_luma_mode, h.alf_cb_mode, h.alf_cr_mode) for h in headers if h.alf_enabled_flag]
    assert len(modes) >= 4 and any(NN_LF_PER_CTU in m for m in modes)
    assert all(name in traces for name in ("alf_luma_coeff", "alf_cb_coeff", "alf_cr_coeff", "alf_ctb_flag",
                                           "alf_luma_clip_idx", "alf_cb_clip_idx"))
    off, trace_off = coded(smooth_rgb(72, 136, seed=22), qp=22, alf=False)
    assert not read_container(off.bitstream)[0].alf_enabled_flag and "alf_" not in trace_off.replace("alf_enabled_flag", "")


@pytest.mark.parametrize("image", [synthetic_gray(37, 29, seed=2, dtype=np.uint16),
                                   synthetic_rgb(9, 70, seed=4), synthetic_rgb(1, 3, seed=5)],
                         ids=["gray10-37x29", "9x70", "1x3"])
def test_awkward_sizes_and_bit_depths(image):
    coded(image, qp=27)


def test_hybrid_with_nn_cus_and_alf_decodes_exactly(force_nn):
    force_nn()
    result = Encoder(mode="hybrid", qp=27, nn_loop_filter=False).encode(synthetic_rgb(64, 96, seed=27))
    assert np.array_equal(decode(result.bitstream), result.reconstruction)
    assert result.stats.area_by_mode["nn"] > 0 and read_container(result.bitstream)[0].alf_enabled_flag


@pytest.mark.parametrize("qp", [27, 42])
def test_alf_lowers_the_cost_where_it_is_used(qp):
    """With ALF's decisions, J never exceeds J of the same picture without it (bits within a byte of
    the estimate)."""
    from host.encoder.quant import qp_to_lambda
    from hybridcodec.encoder.source import prepare_source
    image = smooth_rgb(96, 128, seed=qp)
    on, _ = coded(image, qp=qp)
    off, _ = coded(image, qp=qp, alf=False)
    src = prepare_source(image, EncoderConfig())
    lam = qp_to_lambda(qp, 8)

    def cost(r):
        sse = sum(float(np.sum((o.astype(np.int64) - p) ** 2)) for o, p in zip(src.planes, r.planes))
        return sse + lam * 8 * len(r.bitstream)
    assert cost(on) <= cost(off) + lam * 8


def test_statistics_do_not_depend_on_their_band_height(monkeypatch):
    """The encoder's normal equations are sums over samples: bands sized by the picture width (bounded
    memory) give the sums of one band over the picture."""
    from host.encoder import alf as encoder_alf
    rng = np.random.default_rng(5)
    original = rng.integers(0, 1024, (72, 40)).astype(np.int32)
    plane = np.clip(original + rng.integers(-20, 21, original.shape), 0, 1023).astype(np.int32)
    keep = np.array([[True, True], [False, True], [True, False]])     # 3 x 2 CTUs of 32
    classes = lambda r0, r1: encoder_alf._class_map(plane, r0, r1, 10)  # noqa: E731
    results = []
    for samples in (1 << 20, 40 * 8, 1):               # one band, 8-row bands, 4-row bands (the minimum)
        monkeypatch.setattr(encoder_alf, "STATS_SAMPLES", samples)
        results.append(encoder_alf.statistics(plane, original, ALF_LUMA_TAPS, keep, 32, 10, classes))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.allclose(a.a, b.a) and np.allclose(a.b, b.b) and a.ee == pytest.approx(b.ee)
    assert sum(n.ee for n in results[0]) > 0


def test_neural_filter_is_dropped_where_alf_alone_costs_less(monkeypatch):
    """With both loop filters on, the encoder also decides ALF on the deblocked picture and keeps the
    cheaper pair; when ALF alone wins, the stream carries no neural-filter syntax and still decodes
    to the encoder's reconstruction (here the neural filter's cost is made prohibitive)."""
    real = Encoder.loop_filter_search

    def costly(self, src):
        decide = real(self, src)
        if decide is None:
            return None

        def run(header, planes, edges):
            header, lf, planes, stats = decide(header, planes, edges)
            return header, lf, planes, {**stats, "delta_J": stats.get("delta_J", 0.0) + 1e12}
        return run

    image = synthetic_rgb(72, 136, seed=37)
    plain = Encoder(EncoderConfig(mode="host", qp=37)).encode(image)
    assert read_container(plain.bitstream)[0].nn_lf_enabled_flag      # the neural filter pays here
    monkeypatch.setattr(Encoder, "loop_filter_search", costly)
    dropped = Encoder(EncoderConfig(mode="host", qp=37)).encode(image)
    header = read_container(dropped.bitstream)[0]
    assert not header.nn_lf_enabled_flag and header.alf_enabled_flag
    assert np.array_equal(decode(dropped.bitstream), dropped.reconstruction)
    alone = Encoder(EncoderConfig(mode="host", qp=37, nn_loop_filter=False)).encode(image)
    assert dropped.bitstream == alone.bitstream                         # exactly the ALF-alone picture


def test_loop_filter_choice_keeps_the_neural_filter_where_the_pair_costs_less():
    """A neural filter that restores half of the coding error pays for itself, with ALF after it."""
    from host.encoder.alf import AlfSearchConfig
    from host.encoder.loop_filters import decide_loop_filters
    from host.encoder.quant import qp_to_lambda
    original = [p.astype(np.int32) for p in synthetic_rgb(64, 64, seed=3).transpose(2, 0, 1)]
    rng = np.random.default_rng(0)
    coded = [np.clip(p + rng.integers(-8, 9, p.shape), 0, 255).astype(np.int32) for p in original]
    header = replace(PictureHeader.build(64, 64, chroma_format_idc=3, ctu_size=64), pic_qp=32)
    lam = qp_to_lambda(32, 8)

    def restore(hdr, planes, edges):
        out = [(p + o) // 2 for p, o in zip(planes, original)]
        saved = sum(float(((p - o) ** 2).sum() - ((q - o) ** 2).sum()) for p, q, o in zip(planes, out, original))
        enabled = replace(hdr, nn_lf_enabled_flag=True, nn_lf_model_id=bytes(16))
        return enabled, "flags", out, {"enabled": True, "delta_J": -saved + lam * 200}
    hdr, lf, lf_stats, alf, alf_stats, planes = decide_loop_filters(header, original, coded, None, lam, restore,
                                                                    AlfSearchConfig())
    assert lf == "flags" and hdr.nn_lf_enabled_flag and lf_stats["enabled"]
    hdr, lf, lf_stats, *_ = decide_loop_filters(header, original, coded, None, lam,
                                                lambda h, p, e: (h, "flags", p, {"enabled": True, "delta_J": lam * 200}),
                                                AlfSearchConfig())
    assert lf is None and not hdr.nn_lf_enabled_flag and lf_stats["alf_alone_cheaper"]
