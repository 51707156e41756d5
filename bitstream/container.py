"""The hybridcodec bitstream container: magic, version, picture header, typed substreams.

Layout::

    "HBC" | version u8 | picture_header | num_substreams u8 |
    num_substreams x (substream_type u8 | length u32 big-endian | payload)

picture_header (bit-packed, MSB first)::

    pic_width_minus1 u(15)          pic_height_minus1 u(15)         bit_depth_minus8 u(2)
    chroma_format_idc u(2)          log2_ctu_size_minus6 u(1)       log2_min_cu_size_minus2 u(1)
    log2_max_tu_size_minus5 u(1)    pic_qp u(6)                     deblocking_enabled_flag u(1)
    dst4_enabled_flag u(1)          context_init_flag u(1)          transform_skip_enabled_flag u(1)
    if transform_skip_enabled_flag: log2_max_transform_skip_size_minus2 u(2)
    dep_quant_enabled_flag u(1)
    if !dep_quant_enabled_flag: sign_data_hiding_enabled_flag u(1)
    if ChromaArrayType != 0: cclm_enabled_flag u(1)
    nn_compress_enable_flag u(1)    nn_level_offset se(v)
    if nn_compress_enable_flag:
        log2_nn_min_cu_size_minus5 u(2)     nn_flag_coding u(2)
        nn_delta_level_enabled_flag u(1)    nn_deblocking_enabled_flag u(1)
        nn_residual_enabled_flag u(1)       nn_dc_enabled_flag u(1)        nn_cbcr_separate_flag u(1)
        nn_patch_size_idc u(3)              nn_nondeterministic_flag u(1)
    nn_lf_enabled_flag u(1)
    if nn_lf_enabled_flag:
        log2_nn_lf_num_transforms u(2)
        nn_lf_luma_mode u(2)                 if nn_lf_luma_mode: nn_lf_scale[0] u(7)
        if ChromaArrayType == 1:
            nn_lf_chroma_mode u(2)           if nn_lf_chroma_mode: nn_lf_scale[1] u(7), nn_lf_scale[2] u(7)
    alf_enabled_flag u(1)
    if alf_enabled_flag:
        alf_luma_mode u(2)
        if alf_luma_mode:
            alf_luma_num_filters_signalled_minus1 u(5)
            if alf_luma_num_filters_signalled_minus1: 25 x alf_luma_coeff_delta_idx u(Ceil(Log2(num filters)))
            alf_luma_clip_flag u(1)
            per filter: 12 x alf_luma_coeff se(v), if alf_luma_clip_flag: 12 x alf_luma_clip_idx u(2)
        if ChromaArrayType != 0: alf_cb_mode u(2) (6 x alf_cb_coeff se(v), 6 x alf_cb_clip_idx u(2)),
                                 alf_cr_mode u(2) (likewise for Cr)
    output_channels_minus1 u(2)     output_bit_depth_16_flag u(1)   color_matrix u(8)
    byte_alignment (zero bits)
    if nn_compress_enable_flag:
        model_id 16 bytes               nn_model_name_length u(8)       nn_model_name (that many bytes)
    nn_lf_model_id 16 bytes (only if nn_lf_enabled_flag)
    extension_length ue(v)          byte_alignment                  extension_data (extension_length bytes)

``picture_header`` is the one syntax function that writes, reads and traces it (bitstream.header_coder).
Every field is range-checked as soon as it is read, before anything sized by it is allocated, and
the whole container must be consumed exactly: any inconsistency raises ``BitstreamError``.  The
extension bytes let later versions add header fields that version-1 decoders skip.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

from bitstream.bitio import BitReader
from bitstream.errors import BitstreamError
from bitstream.header_coder import CONTAINER_CATEGORY, HEADER_CATEGORY, HeaderCoder, HeaderReader, HeaderWriter

MAGIC = b"HBC"
VERSION = 8
MAX_DIMENSION = 32768
MAX_SAMPLES = 1 << 28
MODEL_ID_BYTES = 16
MODEL_NAME_MAX = 64              # nn_model_name: 1..64 characters of [A-Za-z0-9._+-], not starting with ._+-
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
NN_LF_MAX_TRANSFORMS_LOG2 = 3                                     # log2_nn_lf_num_transforms: 0..3
NN_LF_NUM_TRANSFORMS = tuple(1 << k for k in range(NN_LF_MAX_TRANSFORMS_LOG2 + 1))   # NnLfNumTransforms: 1, 2, 4, 8
ALF_CLASSES, ALF_LUMA_COEFFS, ALF_CHROMA_COEFFS, ALF_COEFF_MAX = 25, 12, 6, 127   # host.alf


class SubstreamType(IntEnum):
    HOST_CABAC = 0
    NN_LATENTS = 1


_KNOWN_SUBSTREAM_TYPES = frozenset(int(t) for t in SubstreamType)


@dataclass(frozen=True)
class PictureHeader:
    """picture_header() of docs/SYNTAX.md §3: one field per coded element, named as there, derived
    variables as properties with the specification's names.  Constructing one out of range raises
    ``BitstreamError``; ``PictureHeader.build`` takes sizes instead of their log2 codes."""
    pic_width_minus1: int
    pic_height_minus1: int
    bit_depth_minus8: int = 0
    chroma_format_idc: int = CHROMA_420
    log2_ctu_size_minus6: int = 0
    log2_min_cu_size_minus2: int = 0
    log2_max_tu_size_minus5: int = 0
    pic_qp: int = 32
    deblocking_enabled_flag: bool = True
    dst4_enabled_flag: bool = True
    context_init_flag: bool = True           # contexts start from the trained table (host/context_init.py)
    transform_skip_enabled_flag: bool = False  # transform blocks up to MaxTsSize may skip the transform
    log2_max_transform_skip_size_minus2: int = 0
    dep_quant_enabled_flag: bool = False     # transformed blocks use dependent (trellis-coded) quantisation
    sign_data_hiding_enabled_flag: bool = False  # one sign per coefficient sub-block is inferred from parity
    cclm_enabled_flag: bool = False          # chroma may be predicted from luma (host.cclm)
    nn_compress_enable_flag: bool = False
    nn_level_offset: int = 0
    log2_nn_min_cu_size_minus5: int = 0      # smallest CU that carries nn_compress_flag (¶167)
    nn_flag_coding: int = NN_FLAG_CONTEXTS
    nn_delta_level_enabled_flag: bool = False
    nn_deblocking_enabled_flag: bool = True
    nn_residual_enabled_flag: bool = False   # NN CUs may code the residual of a planar prediction (¶176-180)
    nn_dc_enabled_flag: bool = False         # NN CUs may code the samples minus a separately coded DC (¶181)
    nn_cbcr_separate_flag: bool = False      # NN CUs carry nn_compress_flag_cbcr (¶159-160)
    nn_patch_size_idc: int = 0               # NN picture coded as patches of NnPatchSize (0: in one piece)
    nn_nondeterministic_flag: bool = False   # the block codec does not promise exact decoding (PLUGINS.md)
    nn_lf_enabled_flag: bool = False         # neural loop filter after deblocking (§9)
    log2_nn_lf_num_transforms: int = 0       # the network runs on 1, 2, 4 or 8 flips/transposes, averaged (§9.2)
    nn_lf_luma_mode: int = NN_LF_OFF
    nn_lf_chroma_mode: int = NN_LF_OFF
    nn_lf_scale: tuple[int, int, int] = (NN_LF_SCALE_ONE,) * 3   # per component, 64 = 1.0
    alf_enabled_flag: bool = False           # adaptive loop filter after the neural one (host.alf, §10)
    alf_luma_mode: int = NN_LF_OFF           # off, on for every CTU, or alf_ctb_flag per CTU
    alf_cb_mode: int = NN_LF_OFF
    alf_cr_mode: int = NN_LF_OFF
    alf_luma_num_filters_signalled_minus1: int = 0
    alf_luma_coeff_delta_idx: tuple[int, ...] = ()        # filter of each of the 25 classes (luma on)
    alf_luma_clip_flag: bool = False                      # luma filters carry clip indices (non-linear ALF)
    alf_luma_coeff: tuple[tuple[int, ...], ...] = ()      # 12 coefficients per luma filter, 1/128 units
    alf_luma_clip_idx: tuple[tuple[int, ...], ...] = ()   # 12 clip indices per luma filter (clip flag on)
    alf_cb_coeff: tuple[int, ...] = ()                    # 6 coefficients (Cb on)
    alf_cb_clip_idx: tuple[int, ...] = ()                 # 6 clip indices (Cb on)
    alf_cr_coeff: tuple[int, ...] = ()
    alf_cr_clip_idx: tuple[int, ...] = ()
    output_channels_minus1: int = 2
    output_bit_depth_16_flag: bool = False
    color_matrix: int = COLOR_MATRIX_BT601_FULL
    model_id: bytes = b""
    nn_model_name: str = ""                  # the registered name of the block codec (nntools.registry)
    nn_lf_model_id: bytes = b""
    extension_data: bytes = b""

    @classmethod
    def build(cls, width: int, height: int, bit_depth: int = 8, ctu_size: int = 64, min_cu_size: int = 4,
              max_tu_size: int = 32, nn_min_cu_size: int = 32, nn_patch_size: int = 0, output_channels: int = 3,
              output_bit_depth: int = 8, **elements) -> "PictureHeader":
        """A header from picture sizes and the other elements (what an encoder knows); sizes that no
        element can code raise ``BitstreamError``."""
        def log2_code(what: str, size: int, allowed: tuple[int, ...]) -> int:
            _check(size in allowed, what, size, f"one of {allowed}")
            return allowed.index(size)
        return cls(pic_width_minus1=width - 1, pic_height_minus1=height - 1, bit_depth_minus8=bit_depth - 8,
                   log2_ctu_size_minus6=log2_code("CtbSizeY", ctu_size, (64, 128)),
                   log2_min_cu_size_minus2=log2_code("MinCbSizeY", min_cu_size, (4, 8)),
                   log2_max_tu_size_minus5=log2_code("MaxTbSizeY", max_tu_size, (32, 64)),
                   log2_nn_min_cu_size_minus5=log2_code("NnMinCbSize", nn_min_cu_size, (32, 64, 128)),
                   nn_patch_size_idc=log2_code("NnPatchSize", nn_patch_size, NN_PATCH_SIZES[:-1]),
                   output_channels_minus1=output_channels - 1, output_bit_depth_16_flag=output_bit_depth == 16,
                   **elements)

    # -- derived variables (docs/SYNTAX.md §3) ---------------------------------------------------------
    @property
    def PicWidthInLumaSamples(self) -> int:  # noqa: N802  (the specification's name)
        return self.pic_width_minus1 + 1

    @property
    def PicHeightInLumaSamples(self) -> int:  # noqa: N802
        return self.pic_height_minus1 + 1

    @property
    def BitDepth(self) -> int:  # noqa: N802
        return self.bit_depth_minus8 + 8

    @property
    def ChromaArrayType(self) -> int:  # noqa: N802
        return self.chroma_format_idc

    @property
    def CtbSizeY(self) -> int:  # noqa: N802
        return 64 << self.log2_ctu_size_minus6

    @property
    def MinCbSizeY(self) -> int:  # noqa: N802
        return 4 << self.log2_min_cu_size_minus2

    @property
    def MaxTbSizeY(self) -> int:  # noqa: N802
        return 32 << self.log2_max_tu_size_minus5

    @property
    def MaxTsSize(self) -> int:  # noqa: N802
        """Largest transform block that may carry transform_skip_flag (0: transform skip off)."""
        return 4 << self.log2_max_transform_skip_size_minus2 if self.transform_skip_enabled_flag else 0

    @property
    def NnMinCbSize(self) -> int:  # noqa: N802
        return 32 << self.log2_nn_min_cu_size_minus5

    @property
    def NnPatchSize(self) -> int:  # noqa: N802
        return NN_PATCH_SIZES[self.nn_patch_size_idc] if self.nn_patch_size_idc < len(NN_PATCH_SIZES) else -1

    @property
    def NnLfNumTransforms(self) -> int:  # noqa: N802
        return 1 << self.log2_nn_lf_num_transforms

    @property
    def OutputChannels(self) -> int:  # noqa: N802
        return self.output_channels_minus1 + 1

    @property
    def OutputBitDepth(self) -> int:  # noqa: N802
        return 16 if self.output_bit_depth_16_flag else 8

    def __post_init__(self) -> None:
        width, height = self.PicWidthInLumaSamples, self.PicHeightInLumaSamples
        _check(0 <= self.pic_width_minus1 < MAX_DIMENSION, "pic_width_minus1", self.pic_width_minus1,
               f"0..{MAX_DIMENSION - 1}")
        _check(0 <= self.pic_height_minus1 < MAX_DIMENSION, "pic_height_minus1", self.pic_height_minus1,
               f"0..{MAX_DIMENSION - 1}")
        _check(width * height <= MAX_SAMPLES, "width*height", width * height, "at most 2^28")
        _check(self.bit_depth_minus8 in (0, 2), "bit_depth_minus8", self.bit_depth_minus8, "0 or 2 (8 or 10 bits)")
        _check(self.chroma_format_idc in (CHROMA_400, CHROMA_420, CHROMA_444), "chroma_format_idc",
               self.chroma_format_idc, "0 (4:0:0), 1 (4:2:0) or 3 (4:4:4)")
        for name in ("log2_ctu_size_minus6", "log2_min_cu_size_minus2", "log2_max_tu_size_minus5"):
            _check(getattr(self, name) in (0, 1), name, getattr(self, name), "0 or 1")
        _check(0 <= self.pic_qp <= 51, "pic_qp", self.pic_qp, "0..51")
        _check(self.log2_max_transform_skip_size_minus2 in range(4) and
               (self.transform_skip_enabled_flag or self.log2_max_transform_skip_size_minus2 == 0),
               "log2_max_transform_skip_size_minus2", self.log2_max_transform_skip_size_minus2,
               "0..3, and 0 (inferred) when transform_skip_enabled_flag is 0")
        _check(not self.cclm_enabled_flag or self.chroma_format_idc != CHROMA_400, "cclm_enabled_flag",
               self.cclm_enabled_flag, "0 (inferred) in 4:0:0")
        _check(-8 <= self.nn_level_offset <= 8, "nn_level_offset", self.nn_level_offset, "-8..8")
        _check(self.log2_nn_min_cu_size_minus5 in (0, 1, 2) and self.NnMinCbSize <= self.CtbSizeY,
               "log2_nn_min_cu_size_minus5", self.log2_nn_min_cu_size_minus5, "0..2, NnMinCbSize at most CtbSizeY")
        _check(self.nn_flag_coding in (NN_FLAG_CONTEXTS, NN_FLAG_ONE_CONTEXT, NN_FLAG_BYPASS),
               "nn_flag_coding", self.nn_flag_coding, "0 (contexts), 1 (one context) or 2 (bypass)")
        _check(0 <= self.nn_patch_size_idc < len(NN_PATCH_SIZES), "nn_patch_size_idc", self.nn_patch_size_idc,
               f"0..{len(NN_PATCH_SIZES) - 1}")
        if not self.nn_compress_enable_flag:
            defaults = (0, NN_FLAG_CONTEXTS, False, True, False, False, False, 0, False, "")
            values = (self.log2_nn_min_cu_size_minus5, self.nn_flag_coding, self.nn_delta_level_enabled_flag,
                      self.nn_deblocking_enabled_flag, self.nn_residual_enabled_flag, self.nn_dc_enabled_flag,
                      self.nn_cbcr_separate_flag, self.nn_patch_size_idc, self.nn_nondeterministic_flag,
                      self.nn_model_name)
            _check(values == defaults, "NN tool elements", values,
                   f"{defaults} (inferred) when nn_compress_enable_flag is 0")
        _check(self.output_channels_minus1 in (0, 2), "output_channels_minus1", self.output_channels_minus1, "0 or 2")
        _check(self.color_matrix in KNOWN_COLOR_MATRICES, "color_matrix", self.color_matrix,
               f"one of {KNOWN_COLOR_MATRICES}")
        model_id_size = MODEL_ID_BYTES if self.nn_compress_enable_flag else 0
        _check(len(self.model_id) == model_id_size, "model_id length", len(self.model_id),
               f"{model_id_size} when nn_compress_enable_flag is {int(self.nn_compress_enable_flag)}")
        if self.nn_compress_enable_flag:
            _check(valid_model_name(self.nn_model_name), "nn_model_name", repr(self.nn_model_name),
                   f"1..{MODEL_NAME_MAX} characters of A-Z a-z 0-9 . _ + -, not starting with . _ + -")
        _check(not (self.dep_quant_enabled_flag and self.sign_data_hiding_enabled_flag),
               "sign_data_hiding_enabled_flag", 1, "0 (inferred) when dep_quant_enabled_flag is 1")
        self._check_loop_filter()
        self._check_alf()
        _check(len(self.extension_data) <= MAX_EXTENSION_BYTES, "extension_length", len(self.extension_data),
               f"at most {MAX_EXTENSION_BYTES}")

    def _check_loop_filter(self) -> None:
        modes = (NN_LF_OFF, NN_LF_ALL_CTUS, NN_LF_PER_CTU)
        _check(self.nn_lf_luma_mode in modes, "nn_lf_luma_mode", self.nn_lf_luma_mode, "0, 1 or 2")
        _check(self.nn_lf_chroma_mode in modes, "nn_lf_chroma_mode", self.nn_lf_chroma_mode, "0, 1 or 2")
        _check(len(self.nn_lf_scale) == 3 and all(0 <= s <= NN_LF_SCALE_MAX for s in self.nn_lf_scale),
               "nn_lf_scale", self.nn_lf_scale, f"three values 0..{NN_LF_SCALE_MAX}")
        _check(0 <= self.log2_nn_lf_num_transforms <= NN_LF_MAX_TRANSFORMS_LOG2, "log2_nn_lf_num_transforms",
               self.log2_nn_lf_num_transforms, f"0..{NN_LF_MAX_TRANSFORMS_LOG2}")
        if not self.nn_lf_enabled_flag:
            values = (self.nn_lf_luma_mode, self.nn_lf_chroma_mode, self.nn_lf_model_id, self.log2_nn_lf_num_transforms)
            _check(values == (NN_LF_OFF, NN_LF_OFF, b"", 0), "loop filter elements", values,
                   "off, one transform and no model id when nn_lf_enabled_flag is 0")
        else:
            _check(len(self.nn_lf_model_id) == MODEL_ID_BYTES, "nn_lf_model_id length", len(self.nn_lf_model_id),
                   f"{MODEL_ID_BYTES} when nn_lf_enabled_flag is 1")
        _check(self.ChromaArrayType == CHROMA_420 or self.nn_lf_chroma_mode == NN_LF_OFF, "nn_lf_chroma_mode",
               self.nn_lf_chroma_mode, "0 unless ChromaArrayType is 1 (4:2:0)")
        used = (self.nn_lf_luma_mode != NN_LF_OFF,) + (self.nn_lf_chroma_mode != NN_LF_OFF,) * 2
        _check(all(u or s == NN_LF_SCALE_ONE for u, s in zip(used, self.nn_lf_scale)), "nn_lf_scale",
               self.nn_lf_scale, f"{NN_LF_SCALE_ONE} (inferred) for a component that is not filtered")

    def _check_alf(self) -> None:
        modes = (self.alf_luma_mode, self.alf_cb_mode, self.alf_cr_mode)
        _check(all(m in (NN_LF_OFF, NN_LF_ALL_CTUS, NN_LF_PER_CTU) for m in modes), "alf modes", modes, "0, 1 or 2")
        _check(self.alf_enabled_flag or modes == (NN_LF_OFF,) * 3, "alf modes", modes,
               "0 (inferred) when alf_enabled_flag is 0")
        _check(self.ChromaArrayType != CHROMA_400 or modes[1:] == (NN_LF_OFF,) * 2, "alf_cb_mode / alf_cr_mode",
               modes[1:], "0 (inferred) in 4:0:0")
        num = self.alf_luma_num_filters_signalled_minus1 + 1
        luma = modes[0] != NN_LF_OFF
        _check(1 <= num <= ALF_CLASSES and (luma or num == 1), "alf_luma_num_filters_signalled_minus1", num - 1,
               f"0..{ALF_CLASSES - 1}, 0 (inferred) when alf_luma_mode is 0")
        _check(len(self.alf_luma_coeff_delta_idx) == (ALF_CLASSES if luma else 0)
               and all(0 <= i < num for i in self.alf_luma_coeff_delta_idx), "alf_luma_coeff_delta_idx",
               self.alf_luma_coeff_delta_idx, f"{ALF_CLASSES} filter indices below {num} when luma is filtered")
        _check(len(self.alf_luma_coeff) == (num if luma else 0)
               and all(len(f) == ALF_LUMA_COEFFS and all(abs(v) <= ALF_COEFF_MAX for v in f) for f in self.alf_luma_coeff),
               "alf_luma_coeff", self.alf_luma_coeff, f"{ALF_LUMA_COEFFS} values in -{ALF_COEFF_MAX}..{ALF_COEFF_MAX} per filter")
        clips = self.alf_luma_clip_idx
        _check((luma or not self.alf_luma_clip_flag) and len(clips) == (num if self.alf_luma_clip_flag else 0)
               and all(len(f) == ALF_LUMA_COEFFS and all(0 <= v < 4 for v in f) for f in clips),
               "alf_luma_clip_idx", clips, f"{ALF_LUMA_COEFFS} values 0..3 per filter when alf_luma_clip_flag is 1")
        for name, clip_name, mode in (("alf_cb_coeff", "alf_cb_clip_idx", modes[1]),
                                      ("alf_cr_coeff", "alf_cr_clip_idx", modes[2])):
            coeff, clip = getattr(self, name), getattr(self, clip_name)
            _check(len(coeff) == (ALF_CHROMA_COEFFS if mode else 0) and all(abs(v) <= ALF_COEFF_MAX for v in coeff),
                   name, coeff, f"{ALF_CHROMA_COEFFS} values in -{ALF_COEFF_MAX}..{ALF_COEFF_MAX} when filtered")
            _check(len(clip) == len(coeff) and all(0 <= v < 4 for v in clip), clip_name, clip,
                   f"{ALF_CHROMA_COEFFS} values 0..3 when filtered")

    def without_nn(self) -> "PictureHeader":
        """The same picture with nn_compress_enable_flag = 0 (every NN element back to its inferred value)."""
        return replace(self, nn_compress_enable_flag=False, model_id=b"", nn_level_offset=0,
                       log2_nn_min_cu_size_minus5=0, nn_flag_coding=NN_FLAG_CONTEXTS,
                       nn_delta_level_enabled_flag=False, nn_deblocking_enabled_flag=True,
                       nn_residual_enabled_flag=False, nn_dc_enabled_flag=False, nn_cbcr_separate_flag=False,
                       nn_patch_size_idc=0, nn_nondeterministic_flag=False, nn_model_name="")


def valid_model_name(name: str) -> bool:
    return (isinstance(name, str) and 1 <= len(name) <= MODEL_NAME_MAX and name.isascii()
            and all(c.isalnum() or c in "._+-" for c in name) and name[0].isalnum())


def _check(ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise BitstreamError(f"picture header: {field} = {value} out of range (allowed: {allowed})")


def picture_header(hc: HeaderCoder, h: PictureHeader | None = None) -> PictureHeader:
    """picture_header() (docs/SYNTAX.md §3) for a ``HeaderWriter`` (``h``: what to write) or a
    ``HeaderReader`` (``h`` None).  Elements whose range decides what is read next are checked at once,
    before anything sized by them is read."""
    hc.category = HEADER_CATEGORY
    e: dict[str, object] = {}

    def value(name: str, default=0):
        return default if h is None else getattr(h, name)

    def u(name: str, n: int) -> int:
        e[name] = hc.u(name, int(value(name)), n)
        return e[name]

    def flag(name: str) -> bool:
        e[name] = bool(hc.u(name, int(value(name)), 1))
        return e[name]

    for name, n in (("pic_width_minus1", 15), ("pic_height_minus1", 15), ("bit_depth_minus8", 2),
                    ("chroma_format_idc", 2), ("log2_ctu_size_minus6", 1), ("log2_min_cu_size_minus2", 1),
                    ("log2_max_tu_size_minus5", 1), ("pic_qp", 6)):
        u(name, n)
    flag("deblocking_enabled_flag")
    flag("dst4_enabled_flag")
    flag("context_init_flag")
    if flag("transform_skip_enabled_flag"):
        u("log2_max_transform_skip_size_minus2", 2)
    if not flag("dep_quant_enabled_flag"):
        flag("sign_data_hiding_enabled_flag")
    if e["chroma_format_idc"] != CHROMA_400:
        flag("cclm_enabled_flag")
    flag("nn_compress_enable_flag")
    e["nn_level_offset"] = hc.se("nn_level_offset", value("nn_level_offset"))
    if e["nn_compress_enable_flag"]:
        u("log2_nn_min_cu_size_minus5", 2)
        u("nn_flag_coding", 2)
        for name in ("nn_delta_level_enabled_flag", "nn_deblocking_enabled_flag", "nn_residual_enabled_flag",
                     "nn_dc_enabled_flag", "nn_cbcr_separate_flag"):
            flag(name)
        idc = u("nn_patch_size_idc", 3)
        _check(idc < len(NN_PATCH_SIZES), "nn_patch_size_idc", idc, f"0..{len(NN_PATCH_SIZES) - 1}")
        flag("nn_nondeterministic_flag")
    if flag("nn_lf_enabled_flag"):
        scale = list(value("nn_lf_scale", (NN_LF_SCALE_ONE,) * 3))
        u("log2_nn_lf_num_transforms", 2)
        if u("nn_lf_luma_mode", 2):
            scale[0] = hc.u("nn_lf_scale[0]", scale[0], 7)
        if e["chroma_format_idc"] == CHROMA_420 and u("nn_lf_chroma_mode", 2):
            scale[1] = hc.u("nn_lf_scale[1]", scale[1], 7)
            scale[2] = hc.u("nn_lf_scale[2]", scale[2], 7)
        e["nn_lf_scale"] = tuple(scale)
    if flag("alf_enabled_flag"):
        _alf_parameters(hc, e, value)
    u("output_channels_minus1", 2)
    flag("output_bit_depth_16_flag")
    u("color_matrix", 8)
    hc.byte_alignment()
    if e["nn_compress_enable_flag"]:
        e["model_id"] = hc.bytes("model_id", value("model_id", b""), MODEL_ID_BYTES)
        name = value("nn_model_name", "")
        length = hc.u("nn_model_name_length", len(name), 8)
        _check(1 <= length <= MODEL_NAME_MAX, "nn_model_name_length", length, f"1..{MODEL_NAME_MAX}")
        e["nn_model_name"] = hc.text("nn_model_name", name, length)
    if e["nn_lf_enabled_flag"]:
        e["nn_lf_model_id"] = hc.bytes("nn_lf_model_id", value("nn_lf_model_id", b""), MODEL_ID_BYTES)
    length = hc.ue("extension_length", len(value("extension_data", b"")))
    _check(length <= MAX_EXTENSION_BYTES, "extension_length", length, f"at most {MAX_EXTENSION_BYTES}")
    hc.byte_alignment()
    e["extension_data"] = hc.bytes("extension_data", value("extension_data", b""), length)
    return PictureHeader(**e)


def _alf_parameters(hc: HeaderCoder, e: dict, value) -> None:
    """The adaptive loop filter's modes and coefficients (alf_enabled_flag = 1)."""
    if _u_checked(hc, e, value, "alf_luma_mode", 2, 3):
        num = 1 + _u_checked(hc, e, value, "alf_luma_num_filters_signalled_minus1", 5, ALF_CLASSES)
        idx = value("alf_luma_coeff_delta_idx", ()) or (0,) * ALF_CLASSES
        if num > 1:
            idx = tuple(_in_range(hc.u("alf_luma_coeff_delta_idx", idx[k], (num - 1).bit_length(), k=k),
                               "alf_luma_coeff_delta_idx", num - 1, 0) for k in range(ALF_CLASSES))
        e["alf_luma_coeff_delta_idx"] = tuple(idx)
        clip_flag = bool(hc.u("alf_luma_clip_flag", int(value("alf_luma_clip_flag", False)), 1))
        e["alf_luma_clip_flag"] = clip_flag
        coeff = value("alf_luma_coeff", ((0,) * ALF_LUMA_COEFFS,) * num)
        clip = value("alf_luma_clip_idx", ((0,) * ALF_LUMA_COEFFS,) * num) or ((0,) * ALF_LUMA_COEFFS,) * num
        coeffs, clips = [], []
        for f in range(num):
            coeffs.append(tuple(_in_range(hc.se("alf_luma_coeff", coeff[f][j], f=f, j=j), "alf_luma_coeff")
                                for j in range(ALF_LUMA_COEFFS)))
            if clip_flag:
                clips.append(tuple(hc.u("alf_luma_clip_idx", clip[f][j], 2, f=f, j=j) for j in range(ALF_LUMA_COEFFS)))
        e["alf_luma_coeff"], e["alf_luma_clip_idx"] = tuple(coeffs), tuple(clips)
    if e["chroma_format_idc"] != CHROMA_400:
        for mode, name, clip_name in (("alf_cb_mode", "alf_cb_coeff", "alf_cb_clip_idx"),
                                      ("alf_cr_mode", "alf_cr_coeff", "alf_cr_clip_idx")):
            if _u_checked(hc, e, value, mode, 2, 3):
                coeff = value(name, (0,) * ALF_CHROMA_COEFFS)
                e[name] = tuple(_in_range(hc.se(name, coeff[j], j=j), name) for j in range(ALF_CHROMA_COEFFS))
                clip = value(clip_name, (0,) * ALF_CHROMA_COEFFS)
                e[clip_name] = tuple(hc.u(clip_name, clip[j], 2, j=j) for j in range(ALF_CHROMA_COEFFS))


def _u_checked(hc: HeaderCoder, e: dict, value, name: str, n: int, limit: int) -> int:
    """u(n) element ``name`` into ``e``, which must be below ``limit``."""
    e[name] = hc.u(name, int(value(name)), n)
    _check(e[name] < limit, name, e[name], f"0..{limit - 1}")
    return e[name]


def _in_range(v: int, name: str, high: int = ALF_COEFF_MAX, low: int = -ALF_COEFF_MAX) -> int:
    """``v``, checked to lie in low..high (by default a coefficient's range)."""
    _check(low <= v <= high, name, v, f"{low}..{high}")
    return v


def hybridcodec_picture(hc: HeaderCoder, header: PictureHeader | None = None,
                        substreams: list[tuple[int, bytes]] | None = None
                        ) -> tuple[PictureHeader, list[tuple[SubstreamType, bytes]]]:
    """hybridcodec_picture() (docs/SYNTAX.md §2) for a ``HeaderWriter`` (``header``, ``substreams``:
    what to write) or a ``HeaderReader``; payloads are not traced (their own syntax is)."""
    substreams = substreams or []
    hc.category = CONTAINER_CATEGORY
    if hc.reading and hc.r.bytes_left < len(MAGIC):
        raise BitstreamError("not a hybridcodec bitstream (bad magic)")
    if hc.bytes("magic", MAGIC, len(MAGIC)) != MAGIC:
        raise BitstreamError("not a hybridcodec bitstream (bad magic)")
    version = hc.u("version", VERSION, 8)
    if version != VERSION:
        raise BitstreamError(f"unsupported container version {version} (this decoder reads {VERSION})")
    header = picture_header(hc, header)
    hc.category = CONTAINER_CATEGORY
    if len(substreams) > MAX_SUBSTREAMS:
        raise BitstreamError(f"{len(substreams)} substreams, at most {MAX_SUBSTREAMS} allowed")
    parsed = []
    for i in range(hc.u("num_substreams", len(substreams), 8)):
        kind, payload = substreams[i] if not hc.reading else (0, b"")
        kind = hc.u("substream_type", int(kind), 8, i=i)
        if kind not in _KNOWN_SUBSTREAM_TYPES:
            raise BitstreamError(f"unknown substream type {kind}")
        if len(payload) > MAX_SUBSTREAM_BYTES:
            raise BitstreamError(f"substream of {len(payload)} bytes exceeds the 32-bit length field")
        length = hc.u("substream_length", len(payload), 32, i=i)
        if hc.reading and length > hc.r.bytes_left:
            raise BitstreamError(f"substream length {length} runs past the end ({hc.r.bytes_left} bytes left)")
        parsed.append((SubstreamType(kind), hc.payload(payload, length)))
    return header, parsed


def write_container(header: PictureHeader, substreams: list[tuple[int, bytes]], trace_sink=None) -> bytes:
    """Serialise a picture: header and (type, payload) substreams in order (framing and header traced)."""
    hw = HeaderWriter(trace_sink=trace_sink)
    hybridcodec_picture(hw, header, substreams)
    return hw.output()


def read_container(data: bytes, trace_sink=None) -> tuple[PictureHeader, list[tuple[SubstreamType, bytes]]]:
    """Parse and validate a container (framing and header traced); the data must be consumed exactly."""
    hr = HeaderReader(BitReader(data, "container"), trace_sink)
    header, substreams = hybridcodec_picture(hr)
    if hr.r.bytes_left:
        raise BitstreamError(f"{hr.r.bytes_left} trailing bytes after the last substream")
    return header, substreams
