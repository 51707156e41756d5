"""Image/YUV file I/O and input validation."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from bitstream.errors import InputError
from hybridcodec.imageio import YuvFrame, plane_shapes, read_image, validate_image, write_image, write_y4m, write_yuv


def gradient_rgb(height: int = 48, width: int = 64, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([xx * 3.0, yy * 4.0, (xx + yy) * 1.5], axis=-1) + rng.normal(0, 4, (height, width, 3))
    img = np.clip(np.rint(img), 0, 255)
    return (img * 257).astype(np.uint16) if dtype == np.uint16 else img.astype(np.uint8)


def random_frame(width: int, height: int, chroma_format: str, bit_depth: int, seed: int = 0) -> YuvFrame:
    rng = np.random.default_rng(seed)
    dtype = np.uint16 if bit_depth > 8 else np.uint8
    shapes = plane_shapes(width, height, chroma_format)
    planes = [rng.integers(0, 1 << bit_depth, shape, dtype=dtype) for shape in shapes]
    return YuvFrame(planes, bit_depth, chroma_format)


def assert_frames_equal(a: YuvFrame, b: YuvFrame) -> None:
    assert (a.bit_depth, a.chroma_format) == (b.bit_depth, b.chroma_format)
    assert len(a.planes) == len(b.planes)
    for pa, pb in zip(a.planes, b.planes):
        assert pa.dtype == pb.dtype
        np.testing.assert_array_equal(pa, pb)


# --- OpenCV formats ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".png", ".bmp", ".ppm", ".tif", ".webp"])
def test_lossless_formats_round_trip_rgb(tmp_path: Path, suffix: str) -> None:
    img = gradient_rgb()
    write_image(tmp_path / f"a{suffix}", img)
    back = read_image(tmp_path / f"a{suffix}")
    assert back.shape == img.shape and back.dtype == np.uint8
    np.testing.assert_array_equal(back, img)


@pytest.mark.parametrize("suffix", [".png", ".pgm", ".tif"])
def test_gray_stays_two_dimensional(tmp_path: Path, suffix: str) -> None:
    gray = gradient_rgb()[:, :, 1]
    write_image(tmp_path / f"g{suffix}", gray)
    back = read_image(tmp_path / f"g{suffix}")
    assert back.shape == gray.shape
    np.testing.assert_array_equal(back, gray)


@pytest.mark.parametrize("shape", [(48, 64, 3), (48, 64)])
def test_sixteen_bit_png_stays_uint16(tmp_path: Path, shape: tuple) -> None:
    img = gradient_rgb(dtype=np.uint16)
    img = img if len(shape) == 3 else img[:, :, 0]
    img[0, 0, ...] = 65535
    img[0, 1, ...] = 1  # not a multiple of 257: proves no 8-bit detour
    write_image(tmp_path / "deep.png", img)
    back = read_image(tmp_path / "deep.png")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, img)


def test_jpeg_reads_as_rgb_close_to_source(tmp_path: Path) -> None:
    img = gradient_rgb()
    write_image(tmp_path / "a.jpg", img)
    back = read_image(tmp_path / "a.jpg")
    assert back.shape == img.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - img).mean() < 6


def test_channel_order_is_rgb(tmp_path: Path) -> None:
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 2] = 255  # pure red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    rgb = read_image(tmp_path / "red.png")
    assert rgb[0, 0].tolist() == [255, 0, 0]


def test_alpha_is_dropped_keeping_stored_colour(tmp_path: Path) -> None:
    bgra = np.zeros((4, 5, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = 10, 20, 30, 0  # fully transparent
    cv2.imwrite(str(tmp_path / "alpha.png"), bgra)
    rgb = read_image(tmp_path / "alpha.png")
    assert rgb.shape == (4, 5, 3)
    assert rgb[0, 0].tolist() == [30, 20, 10]


def test_non_ascii_path(tmp_path: Path) -> None:
    img = gradient_rgb(8, 8)
    write_image(tmp_path / "bild_äöü.png", img)
    np.testing.assert_array_equal(read_image(tmp_path / "bild_äöü.png"), img)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"this is not a png")
    with pytest.raises(InputError, match="cannot decode"):
        read_image(tmp_path / "junk.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError):
        read_image(tmp_path / "empty.png")
    (tmp_path / "a.xyz").write_bytes(b"\x00" * 10)
    with pytest.raises(InputError, match="unknown image format"):
        read_image(tmp_path / "a.xyz")
    with pytest.raises(InputError, match="unknown image format"):
        write_image(tmp_path / "out.xyz", gradient_rgb())


def test_float_tiff_is_rejected_with_conversion_hint(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "f.tif"), np.full((4, 4, 3), 0.5, np.float32))
    with pytest.raises(InputError, match="convert"):
        read_image(tmp_path / "f.tif")


# --- raw .yuv --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chroma_format", ["400", "420", "444"])
@pytest.mark.parametrize("bit_depth", [8, 10])
def test_yuv_round_trip(tmp_path: Path, chroma_format: str, bit_depth: int) -> None:
    frames = [random_frame(20, 12, chroma_format, bit_depth, seed) for seed in range(3)]
    path = tmp_path / "seq.yuv"
    for index, frame in enumerate(frames):
        write_yuv(path, frame.planes, bit_depth, append=index > 0)
    for index, frame in enumerate(frames):
        back = read_image(path, size="20x12", bit_depth=bit_depth, chroma_format=chroma_format, frame=index)
        assert isinstance(back, YuvFrame) and (back.width, back.height) == (20, 12)
        assert_frames_equal(back, frame)


def test_ten_bit_yuv_is_little_endian(tmp_path: Path) -> None:
    luma = np.full((2, 2), 0x0123, np.uint16)
    write_yuv(tmp_path / "y.yuv", [luma], 10)
    assert (tmp_path / "y.yuv").read_bytes() == bytes([0x23, 0x01]) * 4


def test_odd_sized_420_rounds_chroma_up(tmp_path: Path) -> None:
    frame = random_frame(7, 5, "420", 8)
    assert frame.planes[1].shape == (3, 4)
    write_yuv(tmp_path / "odd.yuv", frame.planes, 8)
    assert (tmp_path / "odd.yuv").stat().st_size == 7 * 5 + 2 * 3 * 4
    assert_frames_equal(read_image(tmp_path / "odd.yuv", size=(7, 5)), frame)


def test_yuv_errors(tmp_path: Path) -> None:
    frame = random_frame(16, 8, "420", 8)
    path = tmp_path / "a.yuv"
    write_yuv(path, frame.planes, 8)
    with pytest.raises(InputError, match="size"):
        read_image(path)
    with pytest.raises(InputError, match="whole number"):
        read_image(path, size="16x9")
    with pytest.raises(InputError, match="frame 1"):
        read_image(path, size="16x8", frame=1)
    with pytest.raises(InputError, match="WxH|1920x1080"):
        read_image(path, size="16 by 8")
    with pytest.raises(InputError, match="bit depth"):
        read_image(path, size="16x8", bit_depth=7)
    with pytest.raises(InputError, match="chroma format"):
        read_image(path, size="16x8", chroma_format="422")
    with pytest.raises(InputError, match="exceeds"):
        read_image(path, size="40000x2")


def test_yuv_frame_checks_planes() -> None:
    with pytest.raises(InputError, match="shapes"):
        YuvFrame([np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8)], 8, "420")
    with pytest.raises(InputError, match="dtype"):
        YuvFrame([np.zeros((4, 4), np.uint8)], 10, "400")
    with pytest.raises(InputError, match="range"):
        YuvFrame([np.full((4, 4), 1024, np.uint16)], 10, "400")


# --- .y4m ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chroma_format,bit_depth", [("420", 8), ("444", 8), ("400", 8), ("420", 10), ("444", 10)])
def test_y4m_round_trip(tmp_path: Path, chroma_format: str, bit_depth: int) -> None:
    frames = [random_frame(18, 10, chroma_format, bit_depth, seed) for seed in range(3)]
    write_y4m(tmp_path / "a.y4m", frames)
    for index, frame in enumerate(frames):
        assert_frames_equal(read_image(tmp_path / "a.y4m", frame=index), frame)


@pytest.mark.parametrize("colourspace,chroma_format,bit_depth", [
    ("", "420", 8), ("C420jpeg", "420", 8), ("C420mpeg2", "420", 8), ("C420", "420", 8), ("C444", "444", 8),
    ("Cmono", "400", 8), ("C420p10", "420", 10), ("C444p10", "444", 10), ("Cmono10", "400", 10)])
def test_y4m_header_colourspaces(tmp_path: Path, colourspace: str, chroma_format: str, bit_depth: int) -> None:
    frame = random_frame(6, 4, chroma_format, bit_depth)
    raw = b"".join(p.astype("<u2" if bit_depth > 8 else np.uint8).tobytes() for p in frame.planes)
    header = f"YUV4MPEG2 W6 H4 F30000:1001 It A0:0 {colourspace} XCOLORRANGE=FULL\n".encode()
    (tmp_path / "h.y4m").write_bytes(header + b"FRAME Ixyz\n" + raw)
    assert_frames_equal(read_image(tmp_path / "h.y4m"), frame)


def test_y4m_errors(tmp_path: Path) -> None:
    frame = random_frame(6, 4, "420", 8)
    write_y4m(tmp_path / "a.y4m", frame)
    data = (tmp_path / "a.y4m").read_bytes()
    with pytest.raises(InputError, match="header says"):
        read_image(tmp_path / "a.y4m", size="8x4")
    with pytest.raises(InputError, match="holds 1 frame"):
        read_image(tmp_path / "a.y4m", frame=1)
    (tmp_path / "trunc.y4m").write_bytes(data[:-3])
    with pytest.raises(InputError, match="truncated"):
        read_image(tmp_path / "trunc.y4m")
    (tmp_path / "magic.y4m").write_bytes(b"NOTY4M W6 H4\n")
    with pytest.raises(InputError, match="not a YUV4MPEG2"):
        read_image(tmp_path / "magic.y4m")
    (tmp_path / "c422.y4m").write_bytes(b"YUV4MPEG2 W6 H4 C422\nFRAME\n" + bytes(48))
    with pytest.raises(InputError, match="colourspace"):
        read_image(tmp_path / "c422.y4m")
    (tmp_path / "huge.y4m").write_bytes(b"YUV4MPEG2 W99999 H99999 C420\nFRAME\n")
    with pytest.raises(InputError, match="exceeds"):
        read_image(tmp_path / "huge.y4m")
    with pytest.raises(InputError, match="share"):
        write_y4m(tmp_path / "mixed.y4m", [frame, random_frame(8, 4, "420", 8)])


# --- validate_image -------------------------------------------------------------------------------------

@pytest.mark.parametrize("array", [
    np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5, 3), np.uint16), np.zeros((4, 5), np.uint8),
    np.zeros((4, 5), np.uint16)])
def test_validate_accepts(array: np.ndarray) -> None:
    out = validate_image(array)
    assert out.shape == array.shape and out.dtype == array.dtype and out.flags.c_contiguous


def test_validate_squeezes_single_channel_and_makes_contiguous() -> None:
    assert validate_image(np.zeros((4, 5, 1), np.uint8)).shape == (4, 5)
    strided = np.zeros((8, 10, 3), np.uint8)[::2, ::2]
    assert validate_image(strided).flags.c_contiguous


@pytest.mark.parametrize("bad,message", [
    ([[1, 2], [3, 4]], "numpy.ndarray"),
    (np.zeros((0, 5, 3), np.uint8), "empty"),
    (np.full((4, 4, 3), np.nan), "floating-point.*convert"),
    (np.zeros((4, 4, 3), np.float32), "floating-point.*convert"),
    (np.zeros((4, 4, 3), bool), "dtype"),
    (np.zeros((4, 4, 3), np.int64), "dtype"),
    (np.zeros((4, 4, 3), np.int16), "dtype"),
    (np.zeros(16, np.uint8), "dimensions"),
    (np.zeros((2, 4, 4, 3), np.uint8), "dimensions"),
    (np.zeros((4, 4, 4), np.uint8), "drop alpha first"),
    (np.zeros((4, 4, 5), np.uint8), "1 or 3 channels"),
    (np.zeros((4, 4, 2), np.uint8), "1 or 3 channels"),
])
def test_validate_rejects(bad: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate_image(bad)


@pytest.mark.parametrize("shape", [(40000, 10, 3), (10, 40000), (20000, 20000, 3)])
def test_validate_rejects_absurd_sizes_without_allocating(shape: tuple) -> None:
    # A zero-stride view of one sample: any copy would need gigabytes, so passing means nothing was copied.
    huge = np.broadcast_to(np.uint8(0), shape)
    with pytest.raises(InputError, match="exceeds"):
        validate_image(huge)
