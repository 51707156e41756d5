"""Bad bitstreams raise BitstreamError and nothing else, quickly; bad pictures raise InputError."""
import signal
import threading
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hybridcodec
from corruption import truncated_or_flipped
from host.partition import CuMode
from hybridcodec import BitstreamError, InputError, decode
from hybridcodec.imageio import YuvFrame
from pictures import synthetic_rgb
from steering import steer_nn

VALID = hybridcodec.encode(synthetic_rgb(40, 48, seed=1), qp=30)


def decode_or_bitstream_error(data: bytes) -> None:
    try:
        picture = decode(data)
    except BitstreamError:
        return
    assert isinstance(picture, (np.ndarray, YuvFrame))   # a corruption may still decode to *some* picture


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(VALID) - 1))
def test_truncated(cut):
    with pytest.raises(BitstreamError):
        decode(VALID[:cut])


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=8 * len(VALID) - 1), min_size=1, max_size=4))
def test_bit_flips(positions):
    data = bytearray(VALID)
    for p in positions:
        data[p // 8] ^= 1 << (p % 8)
    decode_or_bitstream_error(bytes(data))


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=300), st.booleans())
def test_random_bytes(payload, with_valid_header):
    data = VALID[:24] + payload if with_valid_header else payload
    decode_or_bitstream_error(data)



# Streams with neural-tool syntax, each encoded once per module: a picture coded whole by the NN, one coded
# by the NN in patches, and a hybrid picture with NN-coded CUs.  The hybrid one is steered with
# force_nn's steer_nn (tests/steering.py), scoped here to its one encode: force_nn itself is a function-scoped
# fixture and cannot feed a module-scoped one.
NN_STREAM_MUTATIONS = 50      # per stream: ~20-70 ms a decode on an idle machine, a few seconds in all


def encode_hybrid_with_nn_cus() -> bytes:
    with pytest.MonkeyPatch.context() as mp:
        steer_nn(mp)
        return hybridcodec.encode(synthetic_rgb(64, 64), qp=30)


NN_STREAMS = {
    "nn": lambda: hybridcodec.encode(synthetic_rgb(24, 40), mode="nn", level=2),
    "nn_patches": lambda: hybridcodec.encode(synthetic_rgb(24, 80), mode="nn", level=2, nn_patch_size=64),
    "hybrid_nn_cus": encode_hybrid_with_nn_cus,
}


@pytest.fixture(scope="module", params=list(NN_STREAMS))
def nn_stream(request) -> tuple[str, bytes]:
    return request.param, NN_STREAMS[request.param]()


class DecodeHang(Exception):
    pass


@contextmanager
def hang_guard(seconds: int = 120):
    """Fail (instead of blocking the run) if a decode does not finish within ``seconds``: a generous
    watchdog against hangs, far above the ~1 s these decodes take, so no result depends on machine speed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise DecodeHang(f"decoding a mutated stream took over {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def decode_to_right_shape_or_bitstream_error(data: bytes) -> None:
    """Decodes to a picture of the shape its (possibly mutated) header gives, or raises BitstreamError."""
    try:
        with hang_guard():
            result = hybridcodec.decode_full(data)
    except BitstreamError:
        return
    header, picture = result.header, result.picture
    size = (header.PicHeightInLumaSamples, header.PicWidthInLumaSamples)
    if isinstance(picture, YuvFrame):
        assert picture.planes[0].shape == size
    else:
        assert isinstance(picture, np.ndarray)
        assert picture.shape == (size if header.OutputChannels == 1 else size + (header.OutputChannels,))
        assert picture.dtype == (np.uint16 if header.OutputBitDepth == 16 else np.uint8)


def test_nn_streams_carry_the_syntax_they_are_meant_to(nn_stream):
    kind, data = nn_stream
    result = hybridcodec.decode_full(data)
    assert result.header.nn_compress_enable_flag
    if kind == "hybrid_nn_cus":
        assert result.picture.shape == (64, 64, 3)
        assert any(cu.mode == CuMode.NN for cu in result.host.cus)
    else:
        assert result.host is None                                         # no host substream
        assert bool(result.header.nn_patch_size_idc) == (kind == "nn_patches")
        assert result.picture.shape == ((24, 80, 3) if kind == "nn_patches" else (24, 40, 3))


@settings(max_examples=NN_STREAM_MUTATIONS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutation=st.data())
def test_nn_stream_mutations(nn_stream, mutation):
    """Truncated or bit-flipped streams with NN syntax: a picture of the right shape or BitstreamError."""
    kind, data = nn_stream
    decode_to_right_shape_or_bitstream_error(mutation.draw(truncated_or_flipped(data), label=kind))

@pytest.mark.parametrize("bad", [
    np.zeros((0, 5, 3), np.uint8),
    np.zeros((4, 4, 3), np.float32),
    np.full((4, 4, 3), np.nan),
    np.zeros((4, 4, 3), np.int64),
    np.zeros((4, 4, 5), np.uint8),
    np.zeros((4, 4, 4), np.uint8),
    np.zeros((4,), np.uint8),
    np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), (40000, 40000, 3), (0, 0, 0)),
    "not an image",
])
def test_bad_pictures(bad):
    with pytest.raises(InputError):
        hybridcodec.encode(bad)


@pytest.mark.parametrize("options", [dict(qp=52), dict(qp=-1), dict(mode="jpeg"), dict(ctu_size=32),
                                     dict(internal_bit_depth=9), dict(min_cu_size=2), dict(nn_lf_transforms=3),
                                     dict(nn_lf_transforms=True), dict(nn_lf_transforms=4.0),
                                     dict(bogus=1)])
def test_bad_options(options):
    with pytest.raises(InputError):
        hybridcodec.encode(synthetic_rgb(8, 8), **options)


def test_not_bytes():
    with pytest.raises(BitstreamError):
        decode("HBC")
