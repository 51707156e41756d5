"""The hybridcodec bitstream container: magic, version, picture header, typed substreams.

Layout::

    "HBC" | version u8 | picture_header | num_substreams u8 |
    num_substreams x (substream_type u8 | length u32 big-endian | payload)

picture_header (bit-packed, MSB first)::

    pic_width_minus1 u(15)          pic_height_minus1 u(15)         bit_depth_minus8 u(2)
    chroma_format_idc u(2)          log2_ctu_size_minus6 u(1)       log2_min_cu_size_minus2 u(1)
    log2_max_tu_size_minus5 u(1)    pic_qp u(6)                     deblocking_enabled_flag u(1)
    dst4_enabled_flag u(1)          nn_compress_enable_flag u(1)    nn_level_offset se(v)
    if nn_compress_enable_flag:
        log2_nn_min_cu_size_minus5 u(2)     nn_flag_coding u(2)
        nn_delta_level_enabled_flag u(1)    nn_deblocking_enabled_flag u(1)
        nn_residual_enabled_flag u(1)       nn_dc_enabled_flag u(1)        nn_cbcr_separate_flag u(1)
        nn_patch_size_idc u(3)
        if nn_patch_size_idc: nn_patch_overlap ue(v)
    nn_lf_enabled_flag u(1)
    if nn_lf_enabled_flag:
        nn_lf_luma_mode u(2)                 if nn_lf_luma_mode: nn_lf_scale[0] u(7)
        if ChromaArrayType == 1:
            nn_lf_chroma_mode u(2)           if nn_lf_chroma_mode: nn_lf_scale[1] u(7), nn_lf_scale[2] u(7)
    output_channels_minus1 u(2)     output_bit_depth_16_flag u(1)   color_matrix u(8)
    byte_alignment (zero bits)      model_id 16 bytes (only if nn_compress_enable_flag)
    nn_lf_model_id 16 bytes (only if nn_lf_enabled_flag)
    extension_length ue(v)          byte_alignment                  extension_length bytes

Every field is range-checked as soon as it is read, before anything sized by it is allocated, and
the whole container must be consumed exactly: any inconsistency raises ``BitstreamError``.  The
extension bytes let later versions add header fields that version-1 decoders skip.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

from bitstream.bitio import BitReader, BitWriter
from bitstream.errors import BitstreamError

MAGIC = b"HBC"
VERSION = 2
MAX_DIMENSION = 32768
MAX_SAMPLES = 1 << 28
MODEL_ID_BYTES = 16
MAX_EXTENSION_BYTES = 1024
MAX_SUBSTREAMS = 255
MAX_SUBSTREAM_BYTES = (1 << 32) - 1
COLOR_MATRIX_BT601_FULL = 0   # RGB pictures coded as BT.601 full-range YCbCr, output as RGB
COLOR_MATRIX_YCBCR = 1        # YCbCr pictures (.yuv/.y4m), output as planes
KNOWN_COLOR_MATRICES = (COLOR_MATRIX_BT601_FULL, COLOR_MATRIX_YCBCR)
CHROMA_400, CHROMA_420, CHROMA_444 = 0, 1, 3


NN_FLAG_CONTEXTS, NN_FLAG_ONE_CONTEXT, NN_FLAG_BYPASS = 0, 1, 2   # nn_flag_coding values
NN_PATCH_SIZES = (0,) + tuple(32 << k for k in range(1, 7))      # by nn_patch_size_idc: whole, 64 .. 2048
NN_LF_OFF, NN_LF_ALL_CTUS, NN_LF_PER_CTU = 0, 1, 2                # nn_lf_luma_mode / nn_lf_chroma_mode
NN_LF_SCALE_ONE, NN_LF_SCALE_MAX = 64, 127                        # nn_lf_scale: 6 fractional bits


class SubstreamType(IntEnum):
    HOST_CABAC = 0
    NN_LATENTS = 1


_KNOWN_SUBSTREAM_TYPES = frozenset(int(t) for t in SubstreamType)


@dataclass(frozen=True)
class PictureHeader:
    """Picture-level parameters; constructing one out of range raises ``BitstreamError``."""
    width: int
    height: int
    bit_depth: int = 8
    chroma_format: int = CHROMA_420
    ctu_size: int = 64
    min_cu_size: int = 4
    max_tu_size: int = 32
    qp: int = 32
    deblocking_enabled: bool = True
    dst4_enabled: bool = True
    nn_compress_enable: bool = False
    nn_level_offset: int = 0
    nn_min_cu_size: int = 32          # smallest CU that carries nn_compress_flag (¶167)
    nn_flag_coding: int = NN_FLAG_CONTEXTS
    nn_delta_level_enabled: bool = False
    nn_deblocking_enabled: bool = True
    nn_residual_enabled: bool = False  # NN CUs may code the residual of a planar prediction (¶176-180)
    nn_dc_enabled: bool = False       # NN CUs may code the samples minus a separately coded DC (¶181)
    nn_cbcr_separate: bool = False    # NN CUs carry nn_compress_flag_cbcr: chroma by NN or host (¶159-160)
    nn_patch_size: int = 0            # NN picture coded as patches of this size (0: in one piece)
    nn_patch_overlap: int = 0         # overlap of neighbouring patches, luma samples
    output_channels: int = 3
    output_bit_depth: int = 8
    color_matrix: int = COLOR_MATRIX_BT601_FULL
    model_id: bytes = b""
    nn_lf_enabled_flag: bool = False  # neural loop filter after deblocking (docs/SYNTAX.md §9)
    nn_lf_luma_mode: int = NN_LF_OFF
    nn_lf_chroma_mode: int = NN_LF_OFF
    nn_lf_scale: tuple[int, int, int] = (NN_LF_SCALE_ONE,) * 3   # per component, 64 = 1.0
    nn_lf_model_id: bytes = b""
    extension: bytes = b""

    def __post_init__(self) -> None:
        _check(1 <= self.width <= MAX_DIMENSION, "width", self.width, f"1..{MAX_DIMENSION}")
        _check(1 <= self.height <= MAX_DIMENSION, "height", self.height, f"1..{MAX_DIMENSION}")
        _check(self.width * self.height <= MAX_SAMPLES, "width*height", self.width * self.height,
               "at most 2^28")
        _check(self.bit_depth in (8, 10), "bit_depth", self.bit_depth, "8 or 10")
        _check(self.chroma_format in (CHROMA_400, CHROMA_420, CHROMA_444), "chroma_format",
               self.chroma_format, "0 (4:0:0), 1 (4:2:0) or 3 (4:4:4)")
        _check(self.ctu_size in (64, 128), "ctu_size", self.ctu_size, "64 or 128")
        _check(self.min_cu_size in (4, 8) and self.min_cu_size <= self.ctu_size, "min_cu_size",
               self.min_cu_size, "4 or 8")
        _check(self.max_tu_size in (32, 64), "max_tu_size", self.max_tu_size, "32 or 64")
        _check(0 <= self.qp <= 51, "qp", self.qp, "0..51")
        _check(-8 <= self.nn_level_offset <= 8, "nn_level_offset", self.nn_level_offset, "-8..8")
        _check(self.nn_min_cu_size in (32, 64, 128) and self.nn_min_cu_size <= self.ctu_size,
               "nn_min_cu_size", self.nn_min_cu_size, "32, 64 or 128, at most ctu_size")
        _check(self.nn_flag_coding in (NN_FLAG_CONTEXTS, NN_FLAG_ONE_CONTEXT, NN_FLAG_BYPASS),
               "nn_flag_coding", self.nn_flag_coding, "0 (contexts), 1 (one context) or 2 (bypass)")
        _check(self.nn_patch_size in NN_PATCH_SIZES, "nn_patch_size", self.nn_patch_size,
               f"one of {NN_PATCH_SIZES}")
        _check(self.nn_patch_overlap % 2 == 0 and 0 <= self.nn_patch_overlap <= self.nn_patch_size // 2,
               "nn_patch_overlap", self.nn_patch_overlap, "even, at most half the patch size")
        if not self.nn_compress_enable:
            defaults = (32, NN_FLAG_CONTEXTS, False, True, False, False, False, 0, 0)
            values = (self.nn_min_cu_size, self.nn_flag_coding, self.nn_delta_level_enabled,
                      self.nn_deblocking_enabled, self.nn_residual_enabled, self.nn_dc_enabled, self.nn_cbcr_separate,
                      self.nn_patch_size, self.nn_patch_overlap)
            _check(values == defaults, "NN tool fields", values, f"{defaults} when nn_compress_enable is 0")
        _check(self.output_channels in (1, 3), "output_channels", self.output_channels, "1 or 3")
        _check(self.output_bit_depth in (8, 16), "output_bit_depth", self.output_bit_depth, "8 or 16")
        _check(self.color_matrix in KNOWN_COLOR_MATRICES, "color_matrix", self.color_matrix,
               f"one of {KNOWN_COLOR_MATRICES}")
        model_id_size = MODEL_ID_BYTES if self.nn_compress_enable else 0
        _check(len(self.model_id) == model_id_size, "model_id length", len(self.model_id),
               f"{model_id_size} when nn_compress_enable is {self.nn_compress_enable}")
        self._check_loop_filter()
        _check(len(self.extension) <= MAX_EXTENSION_BYTES, "extension length", len(self.extension),
               f"at most {MAX_EXTENSION_BYTES}")


    def _check_loop_filter(self) -> None:
        modes = (NN_LF_OFF, NN_LF_ALL_CTUS, NN_LF_PER_CTU)
        _check(self.nn_lf_luma_mode in modes, "nn_lf_luma_mode", self.nn_lf_luma_mode, "0, 1 or 2")
        _check(self.nn_lf_chroma_mode in modes, "nn_lf_chroma_mode", self.nn_lf_chroma_mode, "0, 1 or 2")
        _check(len(self.nn_lf_scale) == 3 and all(0 <= s <= NN_LF_SCALE_MAX for s in self.nn_lf_scale),
               "nn_lf_scale", self.nn_lf_scale, f"three values 0..{NN_LF_SCALE_MAX}")
        if not self.nn_lf_enabled_flag:
            values = (self.nn_lf_luma_mode, self.nn_lf_chroma_mode, self.nn_lf_model_id)
            _check(values == (NN_LF_OFF, NN_LF_OFF, b""), "loop filter fields", values,
                   "off and no model id when nn_lf_enabled_flag is 0")
        else:
            _check(len(self.nn_lf_model_id) == MODEL_ID_BYTES, "nn_lf_model_id length", len(self.nn_lf_model_id),
                   f"{MODEL_ID_BYTES} when nn_lf_enabled_flag is 1")
        _check(self.chroma_format == CHROMA_420 or self.nn_lf_chroma_mode == NN_LF_OFF, "nn_lf_chroma_mode",
               self.nn_lf_chroma_mode, "0 unless chroma_format_idc is 1 (4:2:0)")
        used = (self.nn_lf_luma_mode != NN_LF_OFF, self.nn_lf_chroma_mode != NN_LF_OFF, self.nn_lf_chroma_mode != NN_LF_OFF)
        _check(all(u or s == NN_LF_SCALE_ONE for u, s in zip(used, self.nn_lf_scale)), "nn_lf_scale",
               self.nn_lf_scale, f"{NN_LF_SCALE_ONE} (inferred) for a component that is not filtered")

    def without_nn(self) -> "PictureHeader":
        """The same picture with nn_compress_enable = 0 (every NN field back to its default)."""
        return replace(self, nn_compress_enable=False, model_id=b"", nn_level_offset=0, nn_min_cu_size=32,
                       nn_flag_coding=NN_FLAG_CONTEXTS, nn_delta_level_enabled=False, nn_deblocking_enabled=True,
                       nn_residual_enabled=False, nn_dc_enabled=False, nn_cbcr_separate=False, nn_patch_size=0,
                       nn_patch_overlap=0)


def _check(ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise BitstreamError(f"picture header: {field} = {value} out of range (allowed: {allowed})")


def write_picture_header(w: BitWriter, h: PictureHeader) -> None:
    w.u(h.width - 1, 15)
    w.u(h.height - 1, 15)
    w.u(h.bit_depth - 8, 2)
    w.u(h.chroma_format, 2)
    w.u(h.ctu_size.bit_length() - 7, 1)
    w.u(h.min_cu_size.bit_length() - 3, 1)
    w.u(h.max_tu_size.bit_length() - 6, 1)
    w.u(h.qp, 6)
    w.flag(h.deblocking_enabled)
    w.flag(h.dst4_enabled)
    w.flag(h.nn_compress_enable)
    w.se(h.nn_level_offset)
    if h.nn_compress_enable:
        w.u(h.nn_min_cu_size.bit_length() - 6, 2)
        w.u(h.nn_flag_coding, 2)
        w.flag(h.nn_delta_level_enabled)
        w.flag(h.nn_deblocking_enabled)
        w.flag(h.nn_residual_enabled)
        w.flag(h.nn_dc_enabled)
        w.flag(h.nn_cbcr_separate)
        w.u(NN_PATCH_SIZES.index(h.nn_patch_size), 3)
        if h.nn_patch_size:
            w.ue(h.nn_patch_overlap)
    w.flag(h.nn_lf_enabled_flag)
    if h.nn_lf_enabled_flag:
        w.u(h.nn_lf_luma_mode, 2)
        if h.nn_lf_luma_mode:
            w.u(h.nn_lf_scale[0], 7)
        if h.chroma_format == CHROMA_420:
            w.u(h.nn_lf_chroma_mode, 2)
            if h.nn_lf_chroma_mode:
                w.u(h.nn_lf_scale[1], 7)
                w.u(h.nn_lf_scale[2], 7)
    w.u(h.output_channels - 1, 2)
    w.flag(h.output_bit_depth == 16)
    w.u(h.color_matrix, 8)
    w.byte_align()
    w.write_bytes(h.model_id)
    w.write_bytes(h.nn_lf_model_id)
    w.ue(len(h.extension))
    w.byte_align()
    w.write_bytes(h.extension)


def read_picture_header(r: BitReader) -> PictureHeader:
    fields = dict(
        width=r.u(15) + 1,
        height=r.u(15) + 1,
        bit_depth=r.u(2) + 8,
        chroma_format=r.u(2),
        ctu_size=64 << r.u(1),
        min_cu_size=4 << r.u(1),
        max_tu_size=32 << r.u(1),
        qp=r.u(6),
        deblocking_enabled=r.flag(),
        dst4_enabled=r.flag(),
        nn_compress_enable=r.flag(),
        nn_level_offset=r.se(),
    )
    if fields["nn_compress_enable"]:
        fields.update(nn_min_cu_size=32 << r.u(2), nn_flag_coding=r.u(2), nn_delta_level_enabled=r.flag(),
                      nn_deblocking_enabled=r.flag(), nn_residual_enabled=r.flag(), nn_dc_enabled=r.flag(),
                      nn_cbcr_separate=r.flag())
        idc = r.u(3)
        _check(idc < len(NN_PATCH_SIZES), "nn_patch_size_idc", idc, f"0..{len(NN_PATCH_SIZES) - 1}")
        fields["nn_patch_size"] = NN_PATCH_SIZES[idc]
        if idc:
            overlap = r.ue()
            _check(overlap <= NN_PATCH_SIZES[idc] // 2, "nn_patch_overlap", overlap, "at most half the patch")
            fields["nn_patch_overlap"] = overlap
    fields["nn_lf_enabled_flag"] = r.flag()
    if fields["nn_lf_enabled_flag"]:
        scale = [NN_LF_SCALE_ONE] * 3
        fields["nn_lf_luma_mode"] = r.u(2)
        if fields["nn_lf_luma_mode"]:
            scale[0] = r.u(7)
        if fields["chroma_format"] == CHROMA_420:
            fields["nn_lf_chroma_mode"] = r.u(2)
            if fields["nn_lf_chroma_mode"]:
                scale[1], scale[2] = r.u(7), r.u(7)
        fields["nn_lf_scale"] = tuple(scale)
    fields.update(output_channels=r.u(2) + 1, output_bit_depth=16 if r.flag() else 8, color_matrix=r.u(8))
    r.byte_align()
    fields["model_id"] = r.read_bytes(MODEL_ID_BYTES) if fields["nn_compress_enable"] else b""
    fields["nn_lf_model_id"] = r.read_bytes(MODEL_ID_BYTES) if fields["nn_lf_enabled_flag"] else b""
    extension_length = r.ue()                     # checked before its bytes are read
    _check(extension_length <= MAX_EXTENSION_BYTES, "extension length", extension_length,
           f"at most {MAX_EXTENSION_BYTES}")
    r.byte_align()
    fields["extension"] = r.read_bytes(extension_length)
    return PictureHeader(**fields)


def write_container(header: PictureHeader, substreams: list[tuple[int, bytes]]) -> bytes:
    """Serialise a picture: header and (type, payload) substreams in order."""
    if len(substreams) > MAX_SUBSTREAMS:
        raise BitstreamError(f"{len(substreams)} substreams, at most {MAX_SUBSTREAMS} allowed")
    w = BitWriter()
    w.write_bytes(MAGIC)
    w.u(VERSION, 8)
    write_picture_header(w, header)
    w.u(len(substreams), 8)
    for kind, payload in substreams:
        if kind not in _KNOWN_SUBSTREAM_TYPES:
            raise BitstreamError(f"unknown substream type {kind}")
        if len(payload) > MAX_SUBSTREAM_BYTES:
            raise BitstreamError(f"substream of {len(payload)} bytes exceeds the 32-bit length field")
        w.u(int(kind), 8)
        w.u(len(payload), 32)
        w.write_bytes(payload)
    return w.bytes()


def read_container(data: bytes) -> tuple[PictureHeader, list[tuple[SubstreamType, bytes]]]:
    """Parse and validate a container; the data must be consumed exactly."""
    r = BitReader(data, "container")
    if r.bytes_left < len(MAGIC) or r.read_bytes(len(MAGIC)) != MAGIC:
        raise BitstreamError("not a hybridcodec bitstream (bad magic)")
    version = r.u(8)
    if version != VERSION:
        raise BitstreamError(f"unsupported container version {version} (this decoder reads {VERSION})")
    header = read_picture_header(r)
    substreams = []
    for _ in range(r.u(8)):
        kind = r.u(8)
        if kind not in _KNOWN_SUBSTREAM_TYPES:
            raise BitstreamError(f"unknown substream type {kind}")
        length = r.u(32)
        if length > r.bytes_left:
            raise BitstreamError(f"substream length {length} runs past the end ({r.bytes_left} bytes left)")
        substreams.append((SubstreamType(kind), r.read_bytes(length)))
    if r.bytes_left:
        raise BitstreamError(f"{r.bytes_left} trailing bytes after the last substream")
    return header, substreams
