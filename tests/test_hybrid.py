"""Hybrid coding: NN-coded CUs inside the host coding tree decode to the encoder's reconstruction bit for
bit, across picture sizes, QPs, chroma formats and every hybrid option; the syntax is inferred where the
seed says so; and malformed NN signalling is refused with BitstreamError.

The shipped weights rarely beat the host, so most tests make the NN win (the ``force_nn`` fixture of
conftest.py): the bitstream, the NN latents and the decoder's reconstruction are all real; only the
encoder's choice is steered.
"""
import dataclasses
import io

import numpy as np
import pytest

from bitstream.container import SubstreamType, read_container, write_container
from bitstream.errors import BitstreamError, ModelMismatchError
from bitstream.syntax_coder import ChannelTrace
from host.edges import boundary_strengths
from host.partition import CodingUnit, CuMode, PictureGeometry
from hybridcodec.decoder import decode_full
from hybridcodec.encoder import Encoder
from hybridcodec.tools.inspector import format_text, inspect_bitstream
from hybridcodec.encoder.source import prepare_source
from nntools.zoo import load_bundle
from pictures import synthetic_gray, synthetic_rgb
from steering import steer_nn


def nn_cus(data: bytes) -> list[CodingUnit]:
    return [cu for cu in decode_full(data).host.cus if cu.mode == CuMode.NN]


def assert_exact(result) -> None:
    decoded = decode_full(result.bitstream)
    assert np.array_equal(decoded.picture, result.reconstruction)


CASES = [
    ((64, 64), 32, {}),
    ((96, 80), 22, {}),                                   # border CUs: 80 is not a multiple of 32
    ((72, 136), 37, {"ctu_size": 64}),
    ((128, 128), 32, {"nn_decision": "ctu"}),
    ((96, 128), 27, {"nn_delta_level": True}),
    ((64, 96), 32, {"nn_deblocking": False}),
    ((64, 96), 32, {"nn_flag_coding": "one"}),
    ((64, 96), 32, {"nn_flag_coding": "bypass"}),
    ((64, 96), 32, {"chroma_format": "444"}),
    ((80, 64), 37, {"nn_level_offset": -3, "nn_sizes": (64,)}),
    ((64, 64), 32, {"max_tu_size": 64, "min_cu_size": 4}),
    ((72, 96), 32, {"internal_bit_depth": 8}),           # 8-bit picture coded at 8 bits (default 10)
]


@pytest.mark.parametrize("shape,qp,options", CASES)
def test_forced_nn_decodes_to_reconstruction(force_nn, shape, qp, options):
    force_nn()
    result = Encoder(qp=qp, **options).encode(synthetic_rgb(*shape, seed=qp))
    assert_exact(result)
    assert result.stats.area_by_mode["nn"] > 0
    header, streams = read_container(result.bitstream)
    assert header.nn_compress_enable_flag and [t for t, _ in streams] == [SubstreamType.HOST_CABAC,
                                                                      SubstreamType.NN_LATENTS]


@pytest.mark.parametrize("shape,qp,options", [
    ((64, 96), 32, {}), ((96, 80), 27, {"nn_dc": True}), ((64, 64), 37, {"nn_residual": True}),
    ((128, 128), 32, {"chroma_format": "444", "nn_decision": "ctu"}), ((128, 96), 22, {"max_tu_size": 64})])
def test_host_chroma_of_nn_cus_decodes_to_reconstruction(force_nn, shape, qp, options):
    """nn_compress_flag_cbcr = 0: NN luma with host-coded chroma (mode and transform blocks)."""
    force_nn(spoil_chroma=True)
    result = Encoder(qp=qp, nn_cbcr_separate=True, **options).encode(synthetic_rgb(*shape, seed=qp + 1))
    assert_exact(result)
    cus = nn_cus(result.bitstream)
    assert cus and all(cu.nn_cbcr == 0 for cu in cus)
    assert any(any(cu.cbf[1:]) for cu in cus) or qp == 37      # real chroma residuals are coded
    info = inspect_bitstream(result.bitstream)
    shown = [cu for cu in info.cus if cu.coding == "nn"]
    assert shown and all(cu.nn_compress_flag_cbcr == 0 and not cu.cbf["Y"] for cu in shown)
    assert info.header["nn_cbcr_separate_flag"] == 1 and "host chroma" in format_text(info)


def test_separate_chroma_flag_follows_the_rd_choice(force_nn):
    """Without spoiling, each NN CU takes whichever chroma costs less; the flag is in the trace."""
    force_nn()
    enc, dec = io.StringIO(), io.StringIO()
    result = Encoder(qp=27, nn_cbcr_separate=True).encode(synthetic_rgb(96, 96, seed=3),
                                                           trace_sink=ChannelTrace(enc, ("syntax", "cabac")))
    decode_full(result.bitstream, trace_sink=ChannelTrace(dec, ("syntax", "cabac")))
    assert "nn_compress_flag_cbcr" in enc.getvalue() and "nn_compress_flag " in enc.getvalue()
    assert enc.getvalue() == dec.getvalue()
    assert_exact(result)


def test_mixed_nn_and_host_neighbours(force_nn):
    """A checkerboard of 32x32 NN and host CUs: every context and inference case of the flag."""
    force_nn(lambda x, y, log2: log2 == 5 and (x // 32 + y // 32) % 2 == 0)
    result = Encoder(qp=30).encode(synthetic_rgb(128, 160, seed=5))
    assert_exact(result)
    cus = nn_cus(result.bitstream)
    assert cus and all(cu.size == 32 and (cu.x // 32 + cu.y // 32) % 2 == 0 for cu in cus)


def test_gray_picture(force_nn):
    force_nn(lambda x, y, log2: x == 0)
    result = Encoder(qp=32).encode(synthetic_gray(96, 96, seed=2))
    assert_exact(result)
    assert nn_cus(result.bitstream)


def test_unforced_hybrid_is_exact():
    for qp in (22, 42):
        assert_exact(Encoder(qp=qp).encode(synthetic_rgb(96, 128, seed=qp)))


def test_levels_follow_qp_map_and_delta(force_nn):
    force_nn()
    bundle = load_bundle()
    for qp in (22, 37):
        cus = nn_cus(Encoder(qp=qp).encode(synthetic_rgb(64, 64, seed=1)).bitstream)
        assert {cu.nn_level for cu in cus} == {int(bundle.level_map[8][qp])}
    result = Encoder(qp=32, nn_delta_level=True, ctu_size=64).encode(synthetic_rgb(128, 128, seed=3))
    assert_exact(result)
    base = int(bundle.level_map[8][32])
    per_ctu = {}
    for cu in nn_cus(result.bitstream):
        per_ctu.setdefault((cu.x // 64, cu.y // 64), set()).add(cu.nn_level)
    assert per_ctu and all(len(levels) == 1 and abs(levels.pop() - base) <= 2 for levels in per_ctu.values())


def test_nn_cu_syntax_is_inferred(force_nn):
    """An NN CU carries no split, mode or residual syntax: its trace is the flag (and delta) only."""
    force_nn()
    out = io.StringIO()
    result = Encoder(qp=32, nn_decision="ctu", ctu_size=64).encode(synthetic_rgb(64, 64), trace_sink=ChannelTrace(out))
    names = [line.split()[0] for line in out.getvalue().splitlines()]
    tree = names[names.index("substream_length", names.index("substream_length") + 1) + 1:]   # after the container
    assert tree == ["log2_lanes", "nn_compress_flag", "end_of_slice_segment_flag"]
    assert_exact(result)


def test_encoder_and_decoder_traces_agree(force_nn):
    force_nn(lambda x, y, log2: (x + y) % 64 == 0)
    enc = io.StringIO()
    result = Encoder(qp=32, nn_delta_level=True).encode(synthetic_rgb(96, 96, seed=4),
                                                          trace_sink=ChannelTrace(enc, ("syntax", "cabac")))
    dec = io.StringIO()
    decode_full(result.bitstream, trace_sink=ChannelTrace(dec, ("syntax", "cabac")))
    assert "nn_compress_flag" in enc.getvalue() and enc.getvalue() == dec.getvalue()


def test_no_nn_cu_means_no_nn_syntax():
    """Where no CU chose the NN, the picture is written with nn_compress_enable_flag = 0 (no flags)."""
    result = Encoder(qp=32, nn_sizes=(128,)).encode(synthetic_rgb(64, 64))   # no 128x128 CU fits
    header, streams = read_container(result.bitstream)
    assert not header.nn_compress_enable_flag and len(streams) == 1
    assert result.stats.area_by_mode == {"host": 1.0, "nn": 0.0}
    assert_exact(result)


def test_host_picture_check_keeps_the_cheaper_picture(force_nn):
    """NN CUs steered through the CU search only (their real J is higher) lose the picture-level check:
    the hybrid picture is then the host-only one, bit for bit, with a trace that matches the decoder's."""
    force_nn(picture=False)
    picture = synthetic_rgb(64, 96, seed=7)
    host = Encoder(qp=27, mode="host").encode(picture)
    unchecked = Encoder(qp=27, host_picture_check=False).encode(picture)
    enc, dec, rd = io.StringIO(), io.StringIO(), io.StringIO()
    checked = Encoder(qp=27).encode(picture, trace_sink=ChannelTrace(enc, ("syntax", "cabac")))
    decode_full(checked.bitstream, trace_sink=ChannelTrace(dec, ("syntax", "cabac")))
    assert unchecked.stats.area_by_mode["nn"] > 0 and checked.stats.area_by_mode["nn"] == 0
    assert checked.bitstream == host.bitstream and enc.getvalue() == dec.getvalue()
    Encoder(qp=27).encode(picture, trace_sink=ChannelTrace(rd, ("rd",)))
    assert rd.getvalue().splitlines()[-1].startswith("rd host_picture_check ")
    assert rd.getvalue().splitlines()[-1].endswith(" kept=host-only")
    assert checked.stats.nn_trials == unchecked.stats.nn_trials > 0
    encoder = Encoder(qp=27)
    src = prepare_source(picture, encoder.config)
    header = encoder.header_for(src)
    assert encoder._cost(host, src, header) < encoder._cost(unchecked, src, header)


def test_flag_coding_modes_cost_differently(force_nn):
    force_nn(lambda x, y, log2: (x // 32 + y // 32) % 3 == 0)
    bits = {}
    for mode in ("contexts", "one", "bypass"):
        result = Encoder(qp=32, nn_flag_coding=mode).encode(synthetic_rgb(128, 128, seed=6))
        assert_exact(result)
        bits[mode] = result.stats.bits_by_category["nn_flags"]
    assert bits["bypass"] > 0 and len(set(bits.values())) > 1


@pytest.fixture(scope="module")
def forced_stream():
    with pytest.MonkeyPatch.context() as mp:
        steer_nn(mp)
        return Encoder(qp=32).encode(synthetic_rgb(64, 96, seed=8)).bitstream


def test_missing_or_foreign_nn_substream_is_refused(forced_stream):
    header, streams = read_container(forced_stream)
    host_only = write_container(header, streams[:1])
    with pytest.raises(BitstreamError, match="no NN substream"):
        decode_full(host_only)
    with pytest.raises(BitstreamError):
        decode_full(write_container(header, [streams[0], (streams[1][0], streams[1][1][:-2])]))
    with pytest.raises(BitstreamError):
        decode_full(write_container(header, [streams[0], (streams[1][0], streams[1][1] + b"\0\0")]))
    with pytest.raises(ModelMismatchError):
        decode_full(write_container(dataclasses.replace(header, model_id=bytes(16)), streams))


def test_nn_substream_without_nn_enable_is_refused():
    data = Encoder(qp=32, mode="host").encode(synthetic_rgb(32, 32)).bitstream
    header, streams = read_container(data)
    with pytest.raises(BitstreamError, match="nn_compress_enable_flag = 0"):
        decode_full(write_container(header, streams + [(SubstreamType.NN_LATENTS, b"\0")]))


def test_header_nn_fields_round_trip_and_range():
    from bitstream.container import PictureHeader
    base = dict(width=64, height=64, nn_compress_enable_flag=True, model_id=bytes(range(16)), nn_model_name="m")
    header = PictureHeader.build(**base, nn_min_cu_size=64, nn_flag_coding=2, nn_delta_level_enabled_flag=True,
                                 nn_deblocking_enabled_flag=False, nn_level_offset=-3)
    assert read_container(write_container(header, []))[0] == header
    for bad in ({"nn_min_cu_size": 16}, {"nn_min_cu_size": 128, "ctu_size": 64}, {"nn_flag_coding": 3}):
        with pytest.raises(BitstreamError):
            PictureHeader.build(**{**base, **bad})
    with pytest.raises(BitstreamError):
        PictureHeader.build(width=64, height=64, nn_delta_level_enabled_flag=True)   # NN fields without the tool


def test_nn_edges_deblocked_only_when_enabled():
    geo = PictureGeometry(64, 64, 64, 64, 1, 6, 5, False)
    nn = CodingUnit(0, 0, 5, mode=CuMode.NN)
    host = [CodingUnit(32, 0, 5), CodingUnit(0, 32, 5), CodingUnit(32, 32, 5)]
    for cu in host:
        cu.cbf = [0, 0, 0]
    on_ver, on_hor = boundary_strengths([nn] + host, geo, True)
    off_ver, off_hor = boundary_strengths([nn] + host, geo, False)
    assert on_ver[:8, 4].all() and not off_ver[:8, 4].any()      # x = 32 beside the NN CU
    assert on_ver[8:, 4].all() and off_ver[8:, 4].all()          # x = 32 between host CUs
    assert on_hor[4, :8].all() and not off_hor[4, :8].any()
    assert not on_ver[:8, 1:4].any()                             # no edges inside the NN CU


@pytest.mark.parametrize("fmt,options", [("420", {"nn_residual": True}), ("444", {"nn_residual": True}),
                                         ("420", {"nn_dc": True}), ("420", {"nn_dc": True, "nn_residual": True})])
def test_residual_and_dc_modes_are_exact(force_nn, fmt, options):
    """NN CUs coding the residual of the planar prediction or the samples minus a coded DC, mixed with
    direct NN and host CUs."""
    force_nn(lambda x, y, log2: log2 == 5 and x % 64 == 0)
    result = Encoder(qp=32, chroma_format=fmt, **options).encode(synthetic_rgb(96, 128, seed=9))
    assert_exact(result)
    assert nn_cus(result.bitstream)


def test_dc_mode_is_chosen_and_signalled(force_nn):
    """With only the DC-mode candidate winning, every NN CU carries nn_dc_offset values."""
    force_nn(mode_wins=lambda residual: residual is not None and residual[0] == 2)
    result = Encoder(qp=32, nn_dc=True, nn_sizes=(64,)).encode(synthetic_rgb(64, 128, seed=2))
    assert_exact(result)
    cus = nn_cus(result.bitstream)
    assert len(cus) == 2 and all(cu.nn_residual == 2 and len(cu.nn_dc) == 3 for cu in cus)


def test_residual_mode_reconstructs_prediction_plus_nn_output():
    """The normative residual reconstruction: Clip(planar prediction + NN output - 2^(bitDepth-1))."""
    from host.reconstruct import PictureBuffer
    geo = PictureGeometry(64, 64, 64, 64, 1, 6, 5, False)
    buf = PictureBuffer(geo, 8)
    cu = CodingUnit(32, 32, 5, mode=CuMode.NN, nn_residual=1)
    flat = [np.full((32, 32), 128, np.int32), np.full((16, 16), 128, np.int32), np.full((16, 16), 128, np.int32)]
    pred = buf.nn_prediction(cu)
    assert all(np.array_equal(a, b) for a, b in zip(buf.add_nn_residual(cu, flat), pred))
    bright = [np.full_like(p, 255) for p in flat]
    assert all(np.array_equal(a, np.minimum(p + 127, 255)) for a, p in zip(buf.add_nn_residual(cu, bright), pred))
