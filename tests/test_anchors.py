"""Anchor codecs: availability reporting, round trips, knob direction and colour handling."""

import dataclasses

import numpy as np
import pytest

from bitstream.errors import CodecError, InputError
from hybridcodec.eval import anchors
from host.color import CHROMA_420, planes_to_rgb, rgb_to_planes
from hybridcodec.eval.anchors import ANCHORS, AnchorResult, Availability, available_anchors, default_sweep, encode_decode
from hybridcodec.eval.metrics import psnr_rgb

AVAILABLE = available_anchors()


def gradient_rgb(height: int = 48, width: int = 64) -> np.ndarray:
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([xx * 3.5, yy * 4.5, 200 - (xx + yy) * 1.5], axis=-1) + rng.normal(0, 5, (height, width, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def require(name: str) -> None:
    if not AVAILABLE[name]:
        pytest.skip(f"anchor {name} unavailable: {AVAILABLE[name].reason}")


def test_every_anchor_reports_availability() -> None:
    assert set(AVAILABLE) == {"jpeg", "webp", "jpeg2000", "heif", "hevc", "av1"}
    for name, status in AVAILABLE.items():
        assert isinstance(status, Availability)
        assert bool(status) == status.available
        assert status.available or status.reason, f"{name} is unavailable without a reason"


@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_default_sweep_is_in_range_and_ordered_by_rate(name: str) -> None:
    sweep = default_sweep(name)
    anchor = ANCHORS[name]
    low, high = anchor.parameter_range
    assert len(sweep) == 6 and all(low <= v <= high for v in sweep)
    lower_is_better = anchor.parameter in ("qp", "cq_level")
    assert sweep == sorted(sweep, reverse=lower_is_better)


@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_round_trip_and_rate_grows_with_quality(name: str) -> None:
    require(name)
    img = gradient_rgb()
    sweep = default_sweep(name)
    low_rate, high_rate = (encode_decode(name, img, value) for value in (sweep[1], sweep[-1]))
    for result in (low_rate, high_rate):
        assert isinstance(result, AnchorResult)
        assert result.decoded.shape == img.shape and result.decoded.dtype == np.uint8
        assert result.num_bytes > 0 and result.encode_seconds >= 0 and result.decode_seconds >= 0
    assert high_rate.num_bytes > low_rate.num_bytes
    assert psnr_rgb(img, high_rate.decoded) > psnr_rgb(img, low_rate.decoded) > 15  # tiny picture, low rate


@pytest.mark.parametrize("name", ["hevc", "av1", "heif", "jpeg2000"])
def test_odd_sizes_come_back_whole(name: str) -> None:
    require(name)
    img = gradient_rgb(37, 51)
    result = encode_decode(name, img, default_sweep(name)[-1])
    assert result.decoded.shape == img.shape
    assert psnr_rgb(img, result.decoded) > 25


@pytest.mark.parametrize("name", ["hevc", "av1"])
def test_ffmpeg_anchors_keep_full_range_bt601(name: str) -> None:
    # At the finest sweep point the codec error is small next to what a hidden limited-range squeeze or a
    # BT.709 matrix would cost, so the decoded picture must sit close to our own colour round trip.
    require(name)
    img = gradient_rgb()
    colour_only = planes_to_rgb(rgb_to_planes(img, 8, CHROMA_420), 8, CHROMA_420)
    result = encode_decode(name, img, default_sweep(name)[-1])
    assert psnr_rgb(colour_only, result.decoded) > 38
    means = result.decoded.reshape(-1, 3).mean(axis=0)
    assert np.all(np.abs(means - img.reshape(-1, 3).mean(axis=0)) < 1.5)


def test_jpeg_uses_420_chroma() -> None:
    require("jpeg")
    # Alternating red/blue columns: 4:4:4 would keep them at quality 100, 4:2:0 averages them to purple.
    img = np.zeros((16, 16, 3), np.uint8)
    img[:, 0::2, 0] = 255
    img[:, 1::2, 2] = 255
    decoded = encode_decode("jpeg", img, 100).decoded
    assert psnr_rgb(img, decoded) < 20
    assert np.all(np.abs(decoded[4:12, 4:12, 0].astype(int) - 128) < 60)


def test_input_errors() -> None:
    img = gradient_rgb()
    with pytest.raises(InputError, match="unknown anchor"):
        encode_decode("bpg", img, 30)
    with pytest.raises(InputError, match="unknown anchor"):
        default_sweep("bpg")
    with pytest.raises(InputError, match="integer in 1..100"):
        encode_decode("jpeg", img, 0)
    with pytest.raises(InputError, match="integer"):
        encode_decode("jpeg", img, 50.5)
    with pytest.raises(InputError, match="uint8 RGB"):
        encode_decode("jpeg", img[:, :, 0], 50)
    with pytest.raises(InputError, match="uint8 RGB"):
        encode_decode("jpeg", img.astype(np.uint16), 50)
    with pytest.raises(InputError, match="floating"):
        encode_decode("jpeg", img.astype(np.float32), 50)


def test_unavailable_anchor_raises_codec_error(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = dataclasses.replace(ANCHORS["hevc"], check=lambda: Availability(False, "ffmpeg not found"))
    monkeypatch.setitem(anchors.ANCHORS, "hevc", missing)
    assert not available_anchors()["hevc"]
    with pytest.raises(CodecError, match="ffmpeg not found"):
        encode_decode("hevc", gradient_rgb(), 30)
