"""The decoded picture equals the encoder's reconstruction bit for bit, across sizes, QPs and modes."""
import numpy as np
import pytest

from hybridcodec import Encoder, EncoderConfig, decode, decode_full
from hybridcodec.frame import YuvFrame
from pictures import synthetic_gray, synthetic_rgb


def roundtrip(image, **options):
    result = Encoder(EncoderConfig(**{"mode": "host", **options})).encode(image)
    decoded = decode(result.bitstream)
    assert decoded.shape == image.shape and decoded.dtype == image.dtype
    assert np.array_equal(decoded, result.reconstruction)
    return result


@pytest.mark.parametrize("height,width", [(1, 1), (7, 13), (129, 65), (1000, 3), (3, 1000)])
def test_awkward_sizes(height, width):
    roundtrip(synthetic_rgb(height, width, seed=height), qp=32)


@pytest.mark.parametrize("qp", [22, 27, 32, 37])
@pytest.mark.parametrize("chroma_format", ["420", "444"])
def test_qps_and_chroma_formats(qp, chroma_format):
    roundtrip(synthetic_rgb(72, 88, seed=qp), qp=qp, chroma_format=chroma_format)


@pytest.mark.parametrize("qp", [22, 37])
def test_gray_is_400(qp):
    roundtrip(synthetic_gray(61, 90, seed=3), qp=qp)


def test_16_bit_input_coded_at_10_bits():
    roundtrip(synthetic_rgb(40, 56, seed=5, dtype=np.uint16), qp=27)
    roundtrip(synthetic_gray(33, 41, seed=6, dtype=np.uint16), qp=32)


@pytest.mark.parametrize("chroma_format,qp", [("420", 32), ("444", 37)])
def test_8_bit_input_coded_at_10_bits(chroma_format, qp):
    """internal_bit_depth=10: coded at 10 bits (with whichever loop filters the encoder chooses; forced
    CNN-filter flags at 10 bits are tested in test_loop_filter.py), returned as 8 bits, exactly."""
    image = synthetic_rgb(61, 90, seed=12)
    header = coded_header(roundtrip(image, qp=qp, internal_bit_depth=10, chroma_format=chroma_format))
    assert header.BitDepth == 10 and header.OutputBitDepth == 8
    assert coded_header(roundtrip(synthetic_gray(33, 41, seed=13), qp=27, internal_bit_depth=10)).BitDepth == 10
    result = roundtrip(synthetic_rgb(40, 56, seed=5, dtype=np.uint16), qp=27, internal_bit_depth=8)
    assert coded_header(result).BitDepth == 8


def coded_header(result):
    return decode_full(result.bitstream).header


def test_10_bit_coding_keeps_the_8_bit_conversion_precision():
    """At QP 0 the 10-bit coding loses less than the 8-bit one (whose planes round the colour conversion)."""
    image = synthetic_rgb(48, 64, seed=14)
    errors = [np.abs(roundtrip(image, qp=0, internal_bit_depth=b, nn_loop_filter=False, alf=False)
                     .reconstruction.astype(int) - image).mean() for b in (8, 10)]
    assert errors[1] < errors[0]


@pytest.mark.parametrize("frame_bits,internal", [(8, 10), (10, 8)])
def test_yuv_frames_come_back_at_their_own_bit_depth(frame_bits, internal):
    rng = np.random.default_rng(frame_bits)
    dtype = np.uint8 if frame_bits == 8 else np.uint16
    peak = (1 << frame_bits) - 1
    ramp = np.linspace(0, peak, 40)[None, :] * np.ones((24, 1))
    planes = [np.clip(ramp + rng.normal(0, peak / 60, ramp.shape), 0, peak).astype(dtype)] + \
             [np.full((12, 20), peak // 2 + k, dtype) for k in (3, -5)]
    frame = YuvFrame(planes, frame_bits, "420")
    result = Encoder(EncoderConfig(mode="host", qp=22, internal_bit_depth=internal)).encode(frame)
    decoded = decode(result.bitstream)
    assert coded_header(result).BitDepth == internal
    assert isinstance(decoded, YuvFrame) and decoded.bit_depth == frame_bits
    for a, b, c in zip(decoded.planes, result.reconstruction.planes, planes):
        assert a.dtype == dtype and np.array_equal(a, b)
        assert np.abs(a.astype(int) - c).mean() < peak / 40


@pytest.mark.parametrize("options", [
    dict(ctu_size=64),
    dict(min_cu_size=4),
    dict(min_cu_size=4, chroma_format="444"),
    dict(max_tu_size=64),
    dict(rdoq=False),
    dict(deblocking=False),
    dict(dst4=False, min_cu_size=4),
    dict(context_init=False),
    dict(context_init=False, min_cu_size=4, chroma_format="444"),
    dict(qp=0),
    dict(qp=51),
])
def test_coding_options(options):
    options = {"qp": 30, **options}
    roundtrip(synthetic_rgb(96, 136, seed=9), **options)


def test_quality_and_rate_follow_qp():
    image = synthetic_rgb(64, 64, seed=11)
    sizes, errors = [], []
    for qp in (22, 32, 42):
        r = roundtrip(image, qp=qp)
        sizes.append(len(r.bitstream))
        errors.append(np.mean((r.reconstruction.astype(float) - image) ** 2))
    assert sizes[0] > sizes[1] > sizes[2]
    assert errors[0] < errors[1] < errors[2]


@pytest.mark.slow
def test_full_hd():
    roundtrip(synthetic_rgb(1080, 1920, seed=2), qp=37, rd_modes=1)


@pytest.mark.parametrize("mode", ["host", "hybrid"])
def test_decoding_without_the_coding_tree(mode, force_nn):
    """decode() drops each CTU's coding tree once it is reconstructed (memory holds samples only): the
    picture is the one decoded keeping the tree, and its edge map is the tree's."""
    from host.edges import boundary_strengths
    from host.partition import CuMode, PictureGeometry
    from hybridcodec.decoder import decode_full
    if mode == "hybrid":
        force_nn()
    result = Encoder(EncoderConfig(mode=mode, qp=32)).encode(
        synthetic_rgb(80, 136, seed=9))
    kept, lean = decode_full(result.bitstream), decode_full(result.bitstream, keep_structure=False)
    assert np.array_equal(lean.picture, kept.picture) and np.array_equal(lean.picture, result.reconstruction)
    assert kept.host.ctus and not lean.host.ctus
    assert (mode == "hybrid") == any(cu.mode == CuMode.NN for cu in kept.host.cus)
    h = kept.header
    whole = boundary_strengths(kept.host.cus, PictureGeometry.from_header(h), h.nn_deblocking_enabled_flag)
    assert all(np.array_equal(a, b) for a, b in zip(whole, lean.host.edges.strengths()))


def test_packed_decisions_write_the_same_stream():
    """The encoder keeps each CTU's decisions packed until the picture is written; the unpacked trees,
    written again, give the same payload."""
    from host.encoder.packed import PackedCtus
    from host.encoder.picture import encode_host, serialise
    from host.partition import PictureGeometry
    from hybridcodec.encoder.source import prepare_source
    enc = Encoder(EncoderConfig(mode="host", qp=27, ctu_size=64))
    src = prepare_source(synthetic_rgb(96, 136, seed=4), enc.config)
    coded = encode_host(enc.header_for(src), src.planes, enc.search_config())
    assert isinstance(coded.ctus, PackedCtus) and len(coded.ctus) == 2 * 3
    trees = list(coded.ctus)
    assert [(t.x, t.y) for t in trees] == [(t.x, t.y) for t in coded.ctus[0:6]]
    payload, _ = serialise(coded.header, PictureGeometry.from_header(coded.header), trees, lf=coded.lf,
                           alf=coded.alf)
    assert payload == coded.payload
