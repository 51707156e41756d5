"""Anchor codecs to compare hybridcodec against: JPEG, WebP, JPEG 2000, HEIF, HEVC intra and AV1 intra.

Every anchor takes an RGB uint8 picture and one quality knob and returns the decoded RGB picture, the
coded size in bytes, and encode/decode wall-clock seconds (for the ffmpeg anchors these include starting
the ffmpeg process, so they are upper bounds). Anchors whose library or tool is missing report why through
:func:`available_anchors` instead of failing at import.

Colour handling (metrics are always computed on the returned RGB, the same way for every anchor):

* ``jpeg`` (OpenCV/libjpeg, 4:2:0 forced, optimised Huffman tables) and ``heif`` (libheif, NCLX matrix 6 =
  BT.601, full range, 4:2:0) convert with BT.601 full range themselves; ``webp`` (libwebp) converts with
  BT.601 *limited* range, 4:2:0, which is how the format is defined; ``jpeg2000`` (OpenJPEG via Pillow)
  codes 4:4:4 with its irreversible colour transform (also the BT.601 matrix).
* ``hevc`` and ``av1`` (ffmpeg with libx265 / libaom-av1) get exactly the YCbCr 4:2:0 planes the host
  codec codes (:mod:`host.color`: BT.601 full range, 2x2-mean chroma) and go back to RGB with the host's
  normative conversion, so they differ from the host codec only in coding. ffmpeg only moves raw yuv420p
  samples in and out, so no hidden swscale matrix or range is involved; the bitstreams are tagged full
  range / BT.601 in their VUI or sequence header. Odd sizes are edge-padded to even (as 4:2:0 requires)
  and cropped after decoding.

``hevc`` counts the raw Annex-B HEVC stream (no container; the x265 version SEI is switched off with
``info=0``), ``av1`` the low-overhead OBU stream; ``heif`` is the same x265 intra coding inside a HEIF
container (a few hundred bytes of boxes), so on small pictures it costs visibly more than ``hevc``.
``jpeg2000`` counts the bare J2K codestream (no JP2 boxes).
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from bitstream.errors import CodecError, InputError
from host.color import CHROMA_420, planes_to_rgb, rgb_to_planes
from hybridcodec.imageio import validate_image

FFMPEG_TIMEOUT_S = 300
# Encoder effort: x265's default preset; libaom speed 4 is ~2-3 % better than 6 at ~2x the time (0.6 MP photo).
X265_PRESET = "medium"
AOM_CPU_USED = 4


class AnchorResult(NamedTuple):
    decoded: np.ndarray
    num_bytes: int
    encode_seconds: float
    decode_seconds: float


@dataclass(frozen=True)
class Availability:
    """Whether an anchor can run here; false ones say why. Truthy exactly when available."""

    available: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.available


@dataclass(frozen=True)
class Anchor:
    """One anchor codec and the meaning of its single knob."""

    name: str
    parameter: str          # "quality"/"rate_x1000": higher = better; "qp"/"cq_level": lower = better
    parameter_range: tuple[int, int]
    sweep: tuple[int, ...]  # ~6 values covering roughly 0.1-2 bpp on photographs, low rate first
    run: Callable[[np.ndarray, int], AnchorResult]
    check: Callable[[], Availability]


def available_anchors() -> dict[str, Availability]:
    """Every anchor name mapped to whether it can run on this machine (and why not)."""
    return {name: anchor.check() for name, anchor in ANCHORS.items()}


def default_sweep(name: str) -> list[int]:
    """Knob values for a rate-distortion curve, ordered from low to high rate."""
    return list(_anchor(name).sweep)


def encode_decode(name: str, rgb: np.ndarray, value: int) -> AnchorResult:
    """Code ``rgb`` (HxWx3 uint8) with anchor ``name`` at knob ``value`` and decode it back."""
    anchor = _anchor(name)
    rgb = validate_image(rgb)
    if rgb.ndim != 3 or rgb.dtype != np.uint8:
        raise InputError(f"anchors take HxWx3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
    low, high = anchor.parameter_range
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise InputError(f"{name} {anchor.parameter} must be an integer in {low}..{high}, got {value!r}")
    status = anchor.check()
    if not status:
        raise CodecError(f"anchor {name!r} is unavailable: {status.reason}")
    return anchor.run(rgb, int(value))


# --- OpenCV anchors -------------------------------------------------------------------------------------

def _opencv_round_trip(rgb: np.ndarray, suffix: str, params: list[int]) -> AnchorResult:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    start = time.perf_counter()
    ok, coded = cv2.imencode(suffix, bgr, params)
    encode_seconds = time.perf_counter() - start
    if not ok:
        raise CodecError(f"OpenCV failed to encode {suffix}")
    start = time.perf_counter()
    decoded = cv2.imdecode(coded, cv2.IMREAD_COLOR)
    decode_seconds = time.perf_counter() - start
    if decoded is None:
        raise CodecError(f"OpenCV failed to decode its own {suffix} output")
    return AnchorResult(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), int(coded.size), encode_seconds, decode_seconds)


def _run_jpeg(rgb: np.ndarray, quality: int) -> AnchorResult:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1]
    if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):  # OpenCV >= 4.5.5; older builds default to 4:2:0 anyway
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]
    return _opencv_round_trip(rgb, ".jpg", params)


def _run_webp(rgb: np.ndarray, quality: int) -> AnchorResult:
    return _opencv_round_trip(rgb, ".webp", [cv2.IMWRITE_WEBP_QUALITY, quality])


@functools.cache
def _check_opencv(suffix: str) -> Availability:
    if not cv2.haveImageWriter(suffix):
        return Availability(False, f"this OpenCV build cannot write {suffix}")
    return Availability(True)


# --- JPEG 2000 (OpenJPEG through Pillow) ------------------------------------------------------------------

def _run_jpeg2000(rgb: np.ndarray, rate_x1000: int) -> AnchorResult:
    """Irreversible 9/7 wavelet + ICT, one quality layer at compression ratio 1000 / rate_x1000.

    The knob has OpenCV's IMWRITE_JPEG2000_COMPRESSION_X1000 meaning (coded size = rate_x1000 / 1000 of
    the raw 24-bit size), but OpenCV's writer is not used: it keeps OpenJPEG's lossless defaults (5/3
    wavelet, RCT) and only truncates them, which costs 3-4 dB against a real lossy JPEG 2000 encoder.
    """
    from PIL import Image

    buffer = io.BytesIO()
    start = time.perf_counter()
    Image.fromarray(rgb).save(buffer, format="JPEG2000", no_jp2=True, irreversible=True, mct=1,
                              quality_mode="rates", quality_layers=[1000.0 / rate_x1000])
    encode_seconds = time.perf_counter() - start
    coded = buffer.getvalue()
    start = time.perf_counter()
    with Image.open(io.BytesIO(coded)) as image:
        decoded = np.array(image.convert("RGB"))
    decode_seconds = time.perf_counter() - start
    return AnchorResult(decoded, len(coded), encode_seconds, decode_seconds)


@functools.cache
def _check_jpeg2000() -> Availability:
    try:
        from PIL import features
    except ImportError:
        return Availability(False, "Pillow is not installed (pip install pillow)")
    if not features.check("jpg_2000"):
        return Availability(False, "this Pillow build lacks OpenJPEG (JPEG 2000) support")
    return Availability(True)


# --- HEIF (x265 inside libheif) --------------------------------------------------------------------------

def _run_heif(rgb: np.ndarray, quality: int) -> AnchorResult:
    import pillow_heif

    height, width = rgb.shape[:2]
    buffer = io.BytesIO()
    start = time.perf_counter()
    pillow_heif.encode("RGB", (width, height), rgb.tobytes(), buffer, quality=quality, chroma=420,
                       matrix_coefficients=6, full_range_flag=1, color_primaries=1, transfer_characteristics=13)
    encode_seconds = time.perf_counter() - start
    coded = buffer.getvalue()
    start = time.perf_counter()
    decoded = np.array(pillow_heif.open_heif(io.BytesIO(coded), convert_hdr_to_8bit=True)[0])
    decode_seconds = time.perf_counter() - start
    return AnchorResult(decoded, len(coded), encode_seconds, decode_seconds)


@functools.cache
def _check_heif() -> Availability:
    try:
        import pillow_heif
    except ImportError:
        return Availability(False, "pillow-heif is not installed (pip install pillow-heif)")
    info = pillow_heif.libheif_info()
    if not info.get("HEIF"):
        return Availability(False, "pillow-heif was built without an HEVC encoder")
    if not any("libde265" in name or "hevc" in name.lower() for name in info.get("decoders", {}).values()):
        return Availability(False, "pillow-heif was built without an HEVC decoder")
    return Availability(True)


# --- ffmpeg anchors: HEVC (libx265) and AV1 (libaom-av1) intra ------------------------------------------

def _run_hevc(rgb: np.ndarray, qp: int) -> AnchorResult:
    x265_params = f"qp={qp}:keyint=1:info=0:log-level=error:range=full:colormatrix=bt470bg"
    return _ffmpeg_round_trip(rgb, ["-c:v", "libx265", "-preset", X265_PRESET, "-x265-params", x265_params],
                              "hevc", ".hevc")


def _run_av1(rgb: np.ndarray, cq_level: int) -> AnchorResult:
    aom_args = ["-c:v", "libaom-av1", "-crf", str(cq_level), "-b:v", "0", "-cpu-used", str(AOM_CPU_USED),
                "-still-picture", "1", "-color_range", "pc", "-colorspace", "bt470bg"]
    return _ffmpeg_round_trip(rgb, aom_args, "obu", ".obu")


def _ffmpeg_round_trip(rgb: np.ndarray, encoder_args: list[str], muxer: str, suffix: str) -> AnchorResult:
    height, width = rgb.shape[:2]
    padded = np.pad(rgb, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    planes = [p.astype(np.uint8) for p in rgb_to_planes(padded, 8, CHROMA_420)]
    raw_format = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-color_range", "pc", "-s", f"{padded.shape[1]}x{padded.shape[0]}"]
    with tempfile.TemporaryDirectory(prefix="anchor_") as folder:
        source, coded, reconstructed = (Path(folder) / name for name in ("in.yuv", "out" + suffix, "rec.yuv"))
        source.write_bytes(b"".join(p.tobytes() for p in planes))
        start = time.perf_counter()
        _ffmpeg([*raw_format, "-i", str(source), "-frames:v", "1", *encoder_args, "-f", muxer, str(coded)])
        encode_seconds = time.perf_counter() - start
        start = time.perf_counter()
        # No -pix_fmt: a full-range stream decodes as yuvj420p, and asking for yuv420p would make swscale
        # squeeze it to limited range. Both share one memory layout; the size check below catches others.
        _ffmpeg(["-i", str(coded), "-f", "rawvideo", str(reconstructed)])
        decode_seconds = time.perf_counter() - start
        num_bytes = coded.stat().st_size
        samples = np.frombuffer(reconstructed.read_bytes(), dtype=np.uint8)
    if samples.size != sum(p.size for p in planes):
        raise CodecError(f"ffmpeg decoded {samples.size} samples, expected {sum(p.size for p in planes)}")
    luma_size = planes[0].size
    decoded_planes = [samples[:luma_size].reshape(planes[0].shape),
                      samples[luma_size:luma_size + planes[1].size].reshape(planes[1].shape),
                      samples[luma_size + planes[1].size:].reshape(planes[2].shape)]
    decoded = planes_to_rgb(decoded_planes, 8, CHROMA_420)[:height, :width]
    return AnchorResult(np.ascontiguousarray(decoded), num_bytes, encode_seconds, decode_seconds)


@functools.cache
def _ffmpeg_exe() -> str | None:
    """ffmpeg on PATH, else the static build of the imageio-ffmpeg wheel (libx265 and libaom-av1
    included), so that `pip install imageio-ffmpeg` is enough where no system ffmpeg can be installed."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return None


def _ffmpeg(args: list[str]) -> None:
    command = [_ffmpeg_exe() or "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=FFMPEG_TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        raise CodecError(f"ffmpeg failed: {exc.stderr.decode(errors='replace')[-500:]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise CodecError(f"ffmpeg did not finish in {FFMPEG_TIMEOUT_S} s") from exc


@functools.cache
def _ffmpeg_encoders() -> str | None:
    exe = _ffmpeg_exe()
    if exe is None:
        return None
    try:
        listing = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return listing.stdout.decode(errors="replace")


@functools.cache
def _check_ffmpeg_encoder(encoder: str) -> Availability:
    listing = _ffmpeg_encoders()
    if listing is None:
        return Availability(False, "ffmpeg not found (apt-get install -y ffmpeg, or pip install imageio-ffmpeg)")
    if f" {encoder} " not in listing:
        return Availability(False, f"this ffmpeg build has no {encoder} encoder")
    return Availability(True)


def _anchor(name: str) -> Anchor:
    if name not in ANCHORS:
        raise InputError(f"unknown anchor {name!r}; known: {sorted(ANCHORS)}")
    return ANCHORS[name]


ANCHORS: dict[str, Anchor] = {
    anchor.name: anchor for anchor in (
        Anchor("jpeg", "quality", (1, 100), (5, 15, 30, 50, 75, 90), _run_jpeg,
               lambda: _check_opencv(".jpg")),
        Anchor("webp", "quality", (1, 100), (2, 10, 30, 55, 75, 88), _run_webp,
               lambda: _check_opencv(".webp")),
        Anchor("jpeg2000", "rate_x1000", (1, 1000), (4, 8, 16, 30, 50, 85), _run_jpeg2000, _check_jpeg2000),
        Anchor("heif", "quality", (0, 100), (10, 25, 38, 47, 55, 62), _run_heif, _check_heif),
        Anchor("hevc", "qp", (0, 51), (42, 37, 32, 27, 22, 17), _run_hevc,
               lambda: _check_ffmpeg_encoder("libx265")),
        Anchor("av1", "cq_level", (0, 63), (58, 50, 42, 34, 24, 12), _run_av1,
               lambda: _check_ffmpeg_encoder("libaom-av1")),
    )
}
