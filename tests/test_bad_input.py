"""Bad bitstreams raise BitstreamError and nothing else, quickly; bad pictures raise InputError."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hybridcodec
from hybridcodec import BitstreamError, InputError, decode
from hybridcodec.imageio import YuvFrame
from pictures import synthetic_rgb

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
                                     dict(min_cu_size=2), dict(bogus=1)])
def test_bad_options(options):
    with pytest.raises(InputError):
        hybridcodec.encode(synthetic_rgb(8, 8), **options)


def test_not_bytes():
    with pytest.raises(BitstreamError):
        decode("HBC")
