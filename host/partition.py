"""Picture geometry, coding-tree structures and the parse-level state shared by encoder and decoder.

Coding order: CTUs in raster order, quadtree nodes in z-order.  The coded picture is the input padded to
a multiple of 8 luma samples (edge replication by the encoder, cropped by the decoder), so every
quadtree leaf of 8x8 lies wholly inside or wholly outside the picture; CTUs that cross the right or
bottom border are split implicitly, as in HEVC/VVC.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from bitstream.container import NN_LF_OFF, NN_LF_PER_CTU, PictureHeader

MIN_CB_LOG2 = 3          # 8x8 coding blocks; NxN intra partitioning gives 4x4 luma blocks
UNIT = 4                 # granularity of the parse-state maps, in luma samples
NN_PLANAR_RESIDUAL, NN_DC_RESIDUAL = 1, 2   # what an NN-coded CU's output is added to (¶176-181)
CODED_SIZE_MULTIPLE = 8


class CuMode(enum.IntEnum):
    """How a coding unit is reconstructed: host intra coding, or the neural tool (nn_compress_flag = 1)."""
    INTRA = 0
    NN = 1


@dataclass(frozen=True)
class PictureGeometry:
    """Everything about block layout that follows from the picture header."""
    width: int                 # output (cropped) size
    height: int
    coded_width: int           # padded to CODED_SIZE_MULTIPLE
    coded_height: int
    chroma_format: int         # 0 = 4:0:0, 1 = 4:2:0, 3 = 4:4:4
    ctu_log2: int
    max_tb_log2: int
    nxn_enabled: bool          # min_cu_size == 4: 8x8 CUs may split into four 4x4 luma blocks
    max_ts_log2: int = 0       # transform blocks up to this log2 size carry transform_skip_flag (0: none)
    cclm_enabled: bool = False # chroma modes include the CCLM modes (host.cclm)
    sign_hiding: bool = False  # transformed blocks hide one sign per sub-block (sign_data_hiding_enabled_flag)
    dep_quant: bool = False    # transformed blocks are dequantised by dependent quantisation (dep_quant_enabled_flag)

    @classmethod
    def from_header(cls, h: PictureHeader) -> "PictureGeometry":
        pad = lambda v: -(-v // CODED_SIZE_MULTIPLE) * CODED_SIZE_MULTIPLE  # noqa: E731
        width, height = h.PicWidthInLumaSamples, h.PicHeightInLumaSamples
        return cls(width, height, pad(width), pad(height), h.chroma_format_idc,
                   h.CtbSizeY.bit_length() - 1, h.MaxTbSizeY.bit_length() - 1, h.MinCbSizeY == 4,
                   h.MaxTsSize.bit_length() - 1 if h.MaxTsSize else 0, h.cclm_enabled_flag,
                   h.sign_data_hiding_enabled_flag, h.dep_quant_enabled_flag)

    @property
    def num_components(self) -> int:
        return 1 if self.chroma_format == 0 else 3

    @property
    def chroma_shift(self) -> int:
        """log2 of the chroma subsampling factor in each direction."""
        return 1 if self.chroma_format == 1 else 0

    def plane_shape(self, c_idx: int) -> tuple[int, int]:
        s = self.chroma_shift if c_idx else 0
        return self.coded_height >> s, self.coded_width >> s

    @property
    def ctu_grid(self) -> tuple[int, int]:
        """(CTU rows, CTU columns)."""
        size = 1 << self.ctu_log2
        return -(-self.coded_height // size), -(-self.coded_width // size)

    def ctu_origins(self) -> list[tuple[int, int]]:
        size = 1 << self.ctu_log2
        return [(x, y) for y in range(0, self.coded_height, size) for x in range(0, self.coded_width, size)]


@dataclass
class ComponentBlock:
    """One transform block of one colour component, in that component's sample coordinates."""
    c_idx: int
    x: int
    y: int
    log2_size: int
    pb: int                    # index of the luma prediction block whose mode it uses (NxN: 0..3)


@dataclass
class CodingUnit:
    x: int
    y: int
    log2_size: int
    mode: CuMode = CuMode.INTRA
    part_nxn: int = 0
    luma_modes: list[int] = field(default_factory=lambda: [1])     # per prediction block
    chroma_mode_idx: int = 4                                        # intra_chroma_pred_mode (4 = DM)
    chroma_mode: int = 1                                            # derived chroma intra mode
    cbf: list[int] = field(default_factory=list)                    # per component block, coding order
    coeffs: list[np.ndarray | None] = field(default_factory=list)   # levels per component block
    ts_blocks: set[int] = field(default_factory=set)   # component blocks with transform_skip_flag = 1
    nn_level: int | None = None                                     # NN rate level (mode NN only)
    nn_residual: int = 0          # NN codes the residual of: 0 nothing, NN_PLANAR_RESIDUAL, NN_DC_RESIDUAL
    nn_dc: list[int] = field(default_factory=list)                  # nn_dc_offset per NN-coded component
    nn_cbcr: int = 1              # nn_compress_flag_cbcr: chroma by the NN (1) or by host intra coding (0)

    @property
    def size(self) -> int:
        return 1 << self.log2_size


def nn_coded_components(cu: CodingUnit, num_components: int) -> int:
    """How many components of an NN CU take the neural tool's samples: all, or luma only when its
    chroma is host-coded (nn_compress_flag_cbcr = 0)."""
    return num_components if cu.nn_cbcr else 1


@dataclass
class CodingNode:
    """A quadtree node: either split into (up to four, inside the picture) children, or one CU."""
    x: int
    y: int
    log2_size: int
    split: bool
    children: list["CodingNode"] = field(default_factory=list)
    cu: CodingUnit | None = None

    def leaves(self):
        if not self.split:
            yield self.cu
        else:
            for child in self.children:
                yield from child.leaves()


def component_blocks(cu: CodingUnit, geo: PictureGeometry) -> list[ComponentBlock]:
    """The transform blocks of a CU in coding order (normative).

    Luma is tiled by the largest transform size (implicit transform split) or by 4x4 for NxN; each luma
    tile is followed by its chroma blocks.  In 4:2:0 an 8x8 CU has a single 4x4 chroma block per
    component, coded after the last luma block (as HEVC does for 4x4 luma).
    """
    blocks: list[ComponentBlock] = []
    n_chroma = geo.num_components - 1
    if cu.part_nxn:
        for pb in range(4):
            x, y = cu.x + 4 * (pb & 1), cu.y + 4 * (pb >> 1)
            blocks.append(ComponentBlock(0, x, y, 2, pb))
            if geo.chroma_format == 3:
                blocks += [ComponentBlock(c, x, y, 2, pb) for c in range(1, 1 + n_chroma)]
        if geo.chroma_format == 1:
            blocks += [ComponentBlock(c, cu.x >> 1, cu.y >> 1, 2, 0) for c in (1, 2)]
        return blocks
    log2_tb = min(cu.log2_size, geo.max_tb_log2)
    tb = 1 << log2_tb
    for dy in range(0, cu.size, tb):
        for dx in range(0, cu.size, tb):
            x, y = cu.x + dx, cu.y + dy
            blocks.append(ComponentBlock(0, x, y, log2_tb, 0))
            s = geo.chroma_shift
            blocks += [ComponentBlock(c, x >> s, y >> s, log2_tb - s, 0) for c in range(1, 1 + n_chroma)]
    return blocks


class ParseState:
    """Parse-level neighbourhood maps (one entry per 4x4 luma unit) used for context and MPM derivation.

    Only syntax-derived values live here, never samples, so parsing never waits for reconstruction.
    """

    def __init__(self, geo: PictureGeometry):
        self.geo = geo
        h, w = geo.coded_height // UNIT, geo.coded_width // UNIT
        self.depth = np.full((h, w), -1, dtype=np.int16)      # CU quadtree depth, -1 = not yet coded
        self.luma_mode = np.full((h, w), -1, dtype=np.int16)  # intra luma mode, -1 = not available
        self.nn_flag = np.zeros((h, w), dtype=np.int8)         # nn_compress_flag of the covering CU
        self.ctu_delta_level: int | None = None                # nn_delta_level of the current CTU

    def mark_cu(self, cu: CodingUnit, depth: int) -> None:
        u = UNIT
        sl = np.s_[cu.y // u:(cu.y + cu.size) // u, cu.x // u:(cu.x + cu.size) // u]
        self.depth[sl] = depth
        self.nn_flag[sl] = int(cu.mode == CuMode.NN)

    def mark_luma_mode(self, x: int, y: int, size: int, mode: int) -> None:
        u = UNIT
        self.luma_mode[y // u:(y + max(size, u)) // u, x // u:(x + max(size, u)) // u] = mode

    def save(self, x: int, y: int, size: int):
        u = UNIT
        sl = np.s_[y // u:(y + size) // u, x // u:(x + size) // u]
        return sl, self.depth[sl].copy(), self.luma_mode[sl].copy(), self.nn_flag[sl].copy(), self.ctu_delta_level

    def restore(self, saved) -> None:
        sl, depth, mode, nn_flag, self.ctu_delta_level = saved
        self.depth[sl] = depth
        self.luma_mode[sl] = mode
        self.nn_flag[sl] = nn_flag

    def neighbour_nn_flags(self, x: int, y: int) -> tuple[int, int]:
        """nn_compress_flag of the left and above neighbours (0 outside the picture or not yet coded)."""
        u = UNIT
        left = self.nn_flag[y // u, x // u - 1] if x > 0 else 0
        above = self.nn_flag[y // u - 1, x // u] if y > 0 else 0
        return int(left), int(above)

    def neighbour_depths(self, x: int, y: int) -> tuple[int, int]:
        """Depths of the left and above neighbours (-1 if outside the picture or not yet coded)."""
        u = UNIT
        left = self.depth[y // u, x // u - 1] if x > 0 else -1
        above = self.depth[y // u - 1, x // u] if y > 0 else -1
        return int(left), int(above)

    def neighbour_modes(self, x: int, y: int, ctu_log2: int) -> tuple[int | None, int | None]:
        """Intra modes left and above for MPM derivation; above is unavailable across a CTU row
        boundary (HEVC), so no line buffer of modes is needed."""
        u = UNIT
        left = int(self.luma_mode[y // u, x // u - 1]) if x > 0 else -1
        above_in_ctu = y > 0 and (y - 1) >> ctu_log2 == y >> ctu_log2
        above = int(self.luma_mode[y // u - 1, x // u]) if above_in_ctu else -1
        return (left if left >= 0 else None), (above if above >= 0 else None)


def visible_area(x: int, y: int, size: int, width: int, height: int) -> int:
    """Luma samples of the size x size block at (x, y) inside a width x height picture (blocks of the
    coded picture may reach past the visible one)."""
    return max(0, min(x + size, width) - x) * max(0, min(y + size, height) - y)


@dataclass
class CtbFlags:
    """A loop filter's on/off flag of every CTU per component, raster order.  A component whose mode
    is per CTU carries the flag; one on for every CTU has it inferred 1, one that is off inferred 0."""
    modes: tuple[int, ...]
    flags: np.ndarray                # (components, CTU rows, CTU columns) of 0/1

    @classmethod
    def inferred(cls, modes: tuple[int, ...], geo: PictureGeometry):
        flags = np.zeros((len(modes), *geo.ctu_grid), dtype=np.uint8)
        for c, mode in enumerate(modes):
            flags[c] = int(mode != NN_LF_OFF)
        return cls(tuple(modes), flags)

    @property
    def coded(self) -> tuple[int, ...]:
        """The components whose flag is coded."""
        return tuple(c for c, mode in enumerate(self.modes) if mode == NN_LF_PER_CTU)
