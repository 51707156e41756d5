"""Raw bit I/O and the container: round trips, range checks on write and read, malformed data."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitstream.bitio import MAX_UE_PREFIX, BitReader, BitWriter
from bitstream.container import (MAGIC, VERSION, PictureHeader, SubstreamType, picture_header, read_container,
                                 write_container)
from bitstream.header_coder import HeaderWriter
from bitstream.errors import BitstreamError
from corruption import truncated_or_flipped

NN_HEADER = PictureHeader.build(width=1920, height=1080, bit_depth=10, chroma_format_idc=3, ctu_size=128,
                                min_cu_size=8, max_tu_size=64, pic_qp=51, deblocking_enabled_flag=False,
                                dst4_enabled_flag=False, nn_compress_enable_flag=True, nn_level_offset=-8,
                                output_channels=1, output_bit_depth=16, model_id=bytes(range(16)),
                                nn_model_name="my-codec_2.1", nn_nondeterministic_flag=True,
                                extension_data=b"future")
SUBSTREAMS = [(SubstreamType.HOST_CABAC, b"\x01\x02\x03"), (SubstreamType.NN_LATENTS, b""),
              (SubstreamType.HOST_CABAC, bytes(range(256)) * 3)]


# ---- bit I/O -------------------------------------------------------------------------------

def test_bitio_round_trip() -> None:
    w = BitWriter()
    w.u(5, 3)
    w.flag(True)
    for v in (0, 1, 2, 3, 254, (1 << 33) - 2):
        w.ue(v)
    for v in (0, 1, -1, 8, -8, 1000):
        w.se(v)
    w.byte_align()
    w.write_bytes(b"xyz")
    w.u(0xABCDE, 20)
    data = w.bytes()
    r = BitReader(data)
    assert r.u(3) == 5 and r.flag()
    assert [r.ue() for _ in range(6)] == [0, 1, 2, 3, 254, (1 << 33) - 2]
    assert [r.se() for _ in range(6)] == [0, 1, -1, 8, -8, 1000]
    r.byte_align()
    assert r.read_bytes(3) == b"xyz" and r.u(20) == 0xABCDE
    r.byte_align()
    assert r.bytes_left == 0
    with pytest.raises(BitstreamError, match="truncated"):
        r.u(1)


def test_bitio_exp_golomb_codes_and_bounds() -> None:
    w = BitWriter()
    for v in (0, 1, 2, 3):
        w.ue(v)
    assert w.bytes() == bytes([0b10100110, 0b01000000])     # 1 010 011 00100
    with pytest.raises(ValueError):
        BitWriter().ue((1 << (MAX_UE_PREFIX + 1)) - 1)
    with pytest.raises(ValueError):
        BitWriter().u(4, 2)
    with pytest.raises(BitstreamError, match="prefix"):
        BitReader(bytes(8) + b"\xff").ue()                  # 64 leading zeros
    with pytest.raises(BitstreamError, match="truncated"):
        BitReader(b"\x00").ue()
    with pytest.raises(BitstreamError, match="alignment"):
        r = BitReader(b"\x41")
        r.u(1)
        r.byte_align()
    with pytest.raises(BitstreamError, match="truncated"):
        BitReader(b"ab").read_bytes(3)


# ---- container -------------------------------------------------------------------------------

def test_container_round_trip() -> None:
    for header in (PictureHeader(pic_width_minus1=0, pic_height_minus1=0), NN_HEADER,
                   PictureHeader.build(width=32768, height=8192, chroma_format_idc=0)):
        data = write_container(header, SUBSTREAMS)
        assert data[:4] == MAGIC + bytes([VERSION])
        parsed, substreams = read_container(data)
        assert parsed == header and substreams == SUBSTREAMS
        assert all(isinstance(kind, SubstreamType) for kind, _ in substreams)
    assert read_container(write_container(NN_HEADER, []))[1] == []


@pytest.mark.parametrize("field, value", [
    ("pic_width_minus1", -1), ("pic_width_minus1", 32768), ("pic_height_minus1", -1),
    ("pic_height_minus1", 40000), ("pic_width_minus1", 32767),  # 32768^2 > 2^28
    ("bit_depth_minus8", 1), ("bit_depth_minus8", 4), ("chroma_format_idc", 2), ("chroma_format_idc", 4),
    ("log2_ctu_size_minus6", 2), ("log2_min_cu_size_minus2", 2), ("log2_max_tu_size_minus5", -1), ("pic_qp", -1),
    ("pic_qp", 52), ("nn_level_offset", 9), ("nn_level_offset", -9), ("output_channels_minus1", 1),
    ("color_matrix", 7), ("model_id", b"short"), ("extension_data", bytes(1025)), ("nn_patch_size_idc", 7),
])
def test_header_fields_are_range_checked_on_write(field: str, value: object) -> None:
    base = dataclasses.asdict(NN_HEADER) | ({"pic_height_minus1": 32767} if value == 32767 else {})
    with pytest.raises(BitstreamError, match="picture header"):
        PictureHeader(**(base | {field: value}))


def test_sizes_without_a_code_are_refused() -> None:
    for size in (dict(ctu_size=32), dict(min_cu_size=16), dict(max_tu_size=16), dict(nn_patch_size=100)):
        with pytest.raises(BitstreamError, match="picture header"):
            PictureHeader.build(width=8, height=8, **size)


def test_derived_variables_follow_the_elements() -> None:
    h = NN_HEADER
    assert (h.PicWidthInLumaSamples, h.PicHeightInLumaSamples, h.BitDepth, h.ChromaArrayType) == (1920, 1080, 10, 3)
    assert (h.CtbSizeY, h.MinCbSizeY, h.MaxTbSizeY, h.NnMinCbSize, h.NnPatchSize) == (128, 8, 64, 32, 0)
    assert (h.OutputChannels, h.OutputBitDepth) == (1, 16)


def test_model_id_only_with_the_neural_tool() -> None:
    with pytest.raises(BitstreamError, match="model_id"):
        PictureHeader.build(width=8, height=8, model_id=bytes(16))
    with pytest.raises(BitstreamError, match="model_id"):
        PictureHeader.build(width=8, height=8, nn_compress_enable_flag=True, nn_model_name="m")
    with pytest.raises(BitstreamError, match="nn_model_name"):
        PictureHeader.build(width=8, height=8, nn_compress_enable_flag=True, model_id=bytes(16))
    for bad in ("", "-lead", "has space", "x" * 65, "caf\u00e9"):
        with pytest.raises(BitstreamError, match="nn_model_name"):
            PictureHeader.build(width=8, height=8, nn_compress_enable_flag=True, model_id=bytes(16), nn_model_name=bad)
    with pytest.raises(BitstreamError, match="NN tool elements"):
        PictureHeader.build(width=8, height=8, nn_model_name="m")


def raw_header(**codes: int) -> bytes:
    """A container whose header fields are given as raw codes (so invalid codes can be written)."""
    code = dict(w=1919, h=1079, bd=0, cf=1, ctu=0, mincu=0, maxtu=0, qp=32, dbk=1, dst=1, ctxinit=1, ts=0,
                maxts=0, dq=0, sdh=0, cclm=0, nn=0, off=0, lf=0, lf_luma=0, lf_chroma=0, alf=0, alf_luma=0,
                alf_filters=0, alf_idx=0, alf_coeff=0, alf_cb=0, ch=2, obd=0, cm=0, ext=0) | codes
    w = BitWriter()
    w.write_bytes(MAGIC)
    w.u(VERSION, 8)
    for name, n in (("w", 15), ("h", 15), ("bd", 2), ("cf", 2), ("ctu", 1), ("mincu", 1), ("maxtu", 1),
                    ("qp", 6), ("dbk", 1), ("dst", 1), ("ctxinit", 1), ("ts", 1)):
        w.u(code[name], n)
    if code["ts"]:
        w.u(code["maxts"], 2)
    w.u(code["dq"], 1)
    if not code["dq"]:
        w.u(code["sdh"], 1)
    if code["cf"]:
        w.u(code["cclm"], 1)
    w.u(code["nn"], 1)
    w.se(code["off"])
    w.u(code["lf"], 1)
    if code["lf"]:
        w.u(code.get("lf_transforms", 0), 2)                    # log2_nn_lf_num_transforms
        w.u(code["lf_luma"], 2)
        if code["lf_luma"]:
            w.u(64, 7)
        w.u(code["lf_chroma"], 2)
        if code["lf_chroma"]:
            w.u(64, 7)
            w.u(64, 7)
    w.u(code["alf"], 1)
    if code["alf"]:
        w.u(code["alf_luma"], 2)
        if code["alf_luma"]:
            w.u(code["alf_filters"], 5)
            if code["alf_filters"]:
                for _ in range(25):
                    w.u(code["alf_idx"], code["alf_filters"].bit_length())
            for _ in range(12 * (code["alf_filters"] + 1)):
                w.se(code["alf_coeff"])
        w.u(code["alf_cb"], 2)
        w.u(0, 2)                                               # alf_cr_mode
    w.u(code["ch"], 2)
    w.u(code["obd"], 1)
    w.u(code["cm"], 8)
    w.byte_align()
    if code["lf"]:
        w.write_bytes(bytes(16))                                # nn_lf_model_id
    w.ue(code["ext"])
    w.byte_align()
    w.u(0, 8)                                                  # no substreams
    return w.bytes()


def test_raw_header_helper_matches_the_writer() -> None:
    w = BitWriter()
    w.write_bytes(MAGIC)
    w.u(VERSION, 8)
    picture_header(HeaderWriter(w), PictureHeader.build(width=1920, height=1080))
    w.u(0, 8)
    assert raw_header() == w.bytes()


@pytest.mark.parametrize("codes, field", [
    ({"bd": 1}, "bit_depth_minus8"), ({"bd": 3}, "bit_depth_minus8"), ({"cf": 2}, "chroma_format_idc"),
    ({"qp": 52}, "pic_qp"), ({"qp": 63}, "pic_qp"), ({"off": 9}, "nn_level_offset"), ({"off": -100}, "nn_level_offset"),
    ({"ch": 1}, "output_channels_minus1"), ({"ch": 3}, "output_channels_minus1"), ({"cm": 200}, "color_matrix"),
    ({"w": 32767, "h": 32767}, "width"), ({"ext": 1025}, "extension_length"),
    ({"ext": 10 ** 9}, "extension_length"), ({"lf": 1, "lf_luma": 3}, "nn_lf_luma_mode"),
    ({"lf": 1, "lf_chroma": 3}, "nn_lf_chroma_mode"), ({"alf": 1, "alf_luma": 3}, "alf_luma_mode"),
    ({"alf": 1, "alf_cb": 3}, "alf_cb_mode"), ({"alf": 1, "alf_luma": 1, "alf_filters": 25}, "alf_luma_num_filters"),
    ({"alf": 1, "alf_luma": 1, "alf_filters": 2, "alf_idx": 3}, "alf_luma_coeff_delta_idx"),
    ({"alf": 1, "alf_luma": 1, "alf_coeff": 128}, "alf_luma_coeff"), ({"alf": 1, "alf_luma": 1, "alf_coeff": -300}, "alf_luma_coeff"),
])
def test_header_fields_are_range_checked_on_read(codes: dict[str, int], field: str) -> None:
    with pytest.raises(BitstreamError, match=field):
        read_container(raw_header(**codes))


def test_container_inconsistencies_are_rejected() -> None:
    data = write_container(NN_HEADER, SUBSTREAMS)
    for bad, message in ((b"HBD" + data[3:], "magic"), (data[:3] + bytes([VERSION + 1]) + data[4:], "version"),
                         (data + b"\x00", "trailing"), (b"", "magic"), (b"HB", "magic")):
        with pytest.raises(BitstreamError, match=message):
            read_container(bad)
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            read_container(data[:n])
    one = write_container(PictureHeader.build(width=8, height=8), [(0, b"abc")])
    type_pos = len(one) - 3 - 4 - 1
    with pytest.raises(BitstreamError, match="unknown substream type"):
        read_container(one[:type_pos] + b"\x07" + one[type_pos + 1:])
    with pytest.raises(BitstreamError, match="past the end"):
        read_container(one[:type_pos + 1] + (100).to_bytes(4, "big") + b"abc")
    with pytest.raises(BitstreamError, match="unknown substream type"):
        write_container(NN_HEADER, [(9, b"")])
    with pytest.raises(BitstreamError, match="substreams"):
        write_container(NN_HEADER, [(0, b"")] * 256)


VALID = write_container(NN_HEADER, SUBSTREAMS[:2])


malformed_containers = st.one_of(
    truncated_or_flipped(VALID),
    st.binary(max_size=200),
    st.binary(max_size=120).map(lambda tail: MAGIC + bytes([VERSION]) + tail),
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(malformed_containers)
def test_read_container_on_malformed_data_raises_only_bitstream_error(data: bytes) -> None:
    try:
        header, substreams = read_container(data)
    except BitstreamError:
        return
    assert write_container(header, substreams) == data          # whatever parses is canonical


def test_loop_filter_fields_round_trip_and_are_checked() -> None:
    lf = dict(nn_lf_enabled_flag=True, nn_lf_luma_mode=2, nn_lf_chroma_mode=1, nn_lf_scale=(70, 50, 64),
              nn_lf_model_id=bytes(range(16)))
    header = PictureHeader.build(width=72, height=40, **lf)
    assert read_container(write_container(header, SUBSTREAMS[:1]))[0] == header
    for n in range(4):
        header = PictureHeader.build(width=72, height=40, **lf, log2_nn_lf_num_transforms=n)
        assert read_container(write_container(header, SUBSTREAMS[:1]))[0].NnLfNumTransforms == 1 << n
    for bad, field in ((dict(lf, nn_lf_model_id=b""), "nn_lf_model_id"),
                       (dict(lf, nn_lf_scale=(128, 64, 64)), "nn_lf_scale"),
                       (dict(lf, nn_lf_chroma_mode=0, nn_lf_scale=(64, 50, 64)), "nn_lf_scale"),
                       (dict(nn_lf_luma_mode=1), "loop filter elements"),
                       (dict(log2_nn_lf_num_transforms=2), "loop filter elements"),
                       (dict(lf, log2_nn_lf_num_transforms=4), "log2_nn_lf_num_transforms")):
        with pytest.raises(BitstreamError, match=field):
            PictureHeader.build(width=72, height=40, **bad)
    with pytest.raises(BitstreamError, match="nn_lf_chroma_mode"):
        PictureHeader.build(width=72, height=40, chroma_format_idc=3, **lf)
