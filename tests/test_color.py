"""Colour conversion, chroma resampling and plane padding/cropping."""
import numpy as np
import pytest

from bitstream.errors import InputError
from host.color import (CB_TO_B, CB_TO_G, CR_TO_G, CR_TO_R, RGB_TO_CB, RGB_TO_CR, RGB_TO_Y, crop_planes,
                        pad_planes, planes_to_rgb, rgb_to_planes, upsample_chroma)


def test_fixed_point_constants_are_rounded_bt601():
    def fixed(c):
        return int(np.round(c * 65536))
    assert RGB_TO_Y == (fixed(0.299), fixed(0.587), fixed(0.114))
    assert sum(RGB_TO_Y) == 65536 and sum(RGB_TO_CB) == 0 and sum(RGB_TO_CR) == 0
    assert RGB_TO_CB == (fixed(-0.168736), fixed(-0.331264), fixed(0.5))
    assert RGB_TO_CR == (fixed(0.5), fixed(-0.418688), fixed(-0.081312))
    assert (CR_TO_R, CB_TO_G, CR_TO_G, CB_TO_B) == (fixed(1.402), fixed(-0.344136), fixed(-0.714136),
                                                    fixed(1.772))


def _random_rgb(rng, height, width, dtype=np.uint8, peak=255):
    return rng.integers(0, peak + 1, (height, width, 3)).astype(dtype)


def test_444_round_trip_8bit_within_one():
    rgb = _random_rgb(np.random.default_rng(0), 256, 256)
    planes = rgb_to_planes(rgb, 8, 3)
    assert [p.dtype for p in planes] == [np.int32] * 3
    back = planes_to_rgb(planes, 8, 3)
    assert back.dtype == np.uint8 and back.shape == rgb.shape
    assert np.abs(back.astype(int) - rgb).max() <= 1


def test_444_round_trip_10bit():
    rng = np.random.default_rng(1)
    rgb8 = _random_rgb(rng, 128, 128)
    planes = rgb_to_planes(rgb8, 10, 3)                      # 8-bit source coded at 10 bits
    assert max(int(p.max()) for p in planes) > 255
    assert np.array_equal(planes_to_rgb(planes, 10, 3, output_bit_depth=8), rgb8)
    rgb10 = _random_rgb(rng, 128, 128, np.uint16, 1023)
    back = planes_to_rgb(rgb_to_planes(rgb10, 10, 3), 10, 3)
    assert back.dtype == np.uint16 and np.abs(back.astype(int) - rgb10).max() <= 1


def test_known_colours():
    rgb = np.array([[[255, 255, 255], [0, 0, 0], [128, 128, 128], [255, 0, 0]]], dtype=np.uint8)
    y, cb, cr = rgb_to_planes(rgb, 8, 3)
    assert y[0].tolist() == [255, 0, 128, 76]
    assert cb[0].tolist() == [128, 128, 128, 85]
    assert cr[0].tolist() == [128, 128, 128, 255]


def test_420_sizes_for_odd_dimensions():
    rng = np.random.default_rng(2)
    for height, width in ((5, 7), (1, 1), (2, 3), (9, 4)):
        planes = rgb_to_planes(_random_rgb(rng, height, width), 8, 1)
        assert planes[0].shape == (height, width)
        assert planes[1].shape == planes[2].shape == ((height + 1) // 2, (width + 1) // 2)
        assert planes_to_rgb(planes, 8, 1).shape == (height, width, 3)


def test_420_chroma_is_rounded_2x2_average():
    rgb = np.zeros((2, 4, 3), dtype=np.uint8)
    rgb[:, :2, 2] = [[255, 0], [0, 0]]           # one blue sample in the first 2x2 block
    _, cb, _ = rgb_to_planes(rgb, 8, 1)
    cb_full = rgb_to_planes(rgb, 8, 3)[1]
    assert abs(int(cb[0, 0]) - (int(cb_full[:2, :2].sum()) + 2) // 4) <= 1
    assert cb[0, 1] == 128


def test_420_round_trip_smooth_picture():
    yy, xx = np.mgrid[0:64, 0:96]
    rgb = np.stack([xx * 2, yy * 3, (xx + yy)], axis=-1).astype(np.uint8)
    back = planes_to_rgb(rgb_to_planes(rgb, 8, 1), 8, 1)
    err = np.abs(back.astype(int) - rgb)
    assert err.max() <= 3 and err.mean() < 0.5


def test_upsampling_filter_phases_and_edges():
    chroma = np.array([[0, 64], [64, 128]])
    up = upsample_chroma(chroma, 4, 4)
    # horizontal phases: [c0, (3c0 + c1)/4, (c0 + 3c1)/4, c1] with edge replication, then vertical
    row0 = np.array([0, 16, 48, 64])
    row1 = np.array([64, 80, 112, 128])
    expected = np.stack([row0, (3 * row0 + row1 + 2) // 4, (row0 + 3 * row1 + 2) // 4, row1])
    assert np.array_equal(up, expected)
    assert upsample_chroma(np.full((2, 3), 9), 3, 5).tolist() == [[9] * 5] * 3
    with pytest.raises(InputError):
        upsample_chroma(chroma, 6, 4)


def test_gray_400():
    rng = np.random.default_rng(3)
    gray = rng.integers(0, 256, (5, 6)).astype(np.uint8)
    planes = rgb_to_planes(gray, 8, 0)
    assert len(planes) == 1 and np.array_equal(planes[0], gray)
    assert np.array_equal(rgb_to_planes(gray, 10, 0)[0], gray.astype(int) * 4)
    rgb = planes_to_rgb(planes, 8, 0)
    assert rgb.shape == (5, 6, 3) and all(np.array_equal(rgb[..., c], gray) for c in range(3))


def test_pad_and_crop_round_trip():
    rng = np.random.default_rng(4)
    planes = rgb_to_planes(_random_rgb(rng, 13, 21), 8, 1)
    padded = pad_planes(planes, 8, 8)
    assert [p.shape for p in padded] == [(16, 24), (8, 12), (8, 12)]
    assert np.array_equal(padded[0][13:, :21], np.repeat(planes[0][12:13], 3, axis=0))   # replication
    assert np.array_equal(padded[1][:, 11], padded[1][:, 10])
    cropped = crop_planes(padded, 21, 13)
    assert all(np.array_equal(a, b) for a, b in zip(cropped, planes))
    planes444 = rgb_to_planes(_random_rgb(rng, 9, 9), 8, 3)
    assert [p.shape for p in pad_planes(planes444, 16, 8)] == [(16, 16)] * 3
    one = rgb_to_planes(_random_rgb(rng, 1, 1), 8, 1)            # ambiguous shapes: say the format
    assert [p.shape for p in pad_planes(one, 8, 8, chroma_format=1)] == [(8, 8), (4, 4), (4, 4)]


@pytest.mark.parametrize("bad", [
    np.zeros((4, 4, 3), dtype=np.float32),
    np.zeros((4, 4, 4), dtype=np.uint8),
    np.zeros((4, 4), dtype=np.uint8),
    np.zeros((0, 4, 3), dtype=np.uint8),
    np.full((4, 4, 3), 2000, dtype=np.uint16),
])
def test_bad_input_raises_input_error(bad):
    with pytest.raises(InputError):
        rgb_to_planes(bad, 10, 1)


def test_bad_planes_raise_input_error():
    with pytest.raises(InputError):
        planes_to_rgb([np.zeros((4, 4), np.int32)] * 3, 8, 1)     # chroma should be 2x2
    with pytest.raises(InputError):
        planes_to_rgb([np.zeros((4, 4), np.int32)], 8, 3)
    with pytest.raises(InputError):
        pad_planes([np.zeros((4, 4), np.int32)] + [np.zeros((2, 2), np.int32)] * 2, 7, 8)   # 4:2:0
    with pytest.raises(InputError):
        crop_planes([np.zeros((4, 4), np.int32)], 5, 4)


@pytest.mark.parametrize("chroma_format", [0, 1, 3])
def test_strip_conversion_equals_whole_picture(chroma_format):
    """Colour conversion in strips of rows (bounded memory) gives the whole-picture result exactly."""
    rgb = np.random.default_rng(chroma_format).integers(0, 256, (37, 29, 3)).astype(np.uint8)
    image = rgb if chroma_format else rgb[..., 0]
    for bit_depth in (8, 10):
        planes = rgb_to_planes(image, bit_depth, chroma_format, strip_rows=1 << 20)
        assert all(np.array_equal(a, b) for a, b in zip(rgb_to_planes(image, bit_depth, chroma_format,
                                                                        strip_rows=4), planes))
        whole = planes_to_rgb(planes, bit_depth, chroma_format, strip_rows=1 << 20)
        assert np.array_equal(planes_to_rgb(planes, bit_depth, chroma_format, strip_rows=2), whole)
