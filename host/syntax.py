"""Coding-tree syntax of the host codec (normative; docs/SYNTAX.md §coding_tree_unit onward).

Each function runs as writer, reader or rate estimator (see ``bitstream.syntax_coder``).  In write and
estimate mode the structure passed in (a decided ``CodingNode``/``CodingUnit``) is coded; in read mode
the argument is ``None`` and the function builds the structure from the bitstream.  Both update the
``ParseState`` identically, which is what keeps context selection in step between encoder and decoder.
"""
from __future__ import annotations

from dataclasses import dataclass


from bitstream.container import NN_FLAG_BYPASS, NN_FLAG_ONE_CONTEXT, PictureHeader
from bitstream.errors import BitstreamError
from bitstream.syntax_coder import SyntaxCoder
from host.alf import AlfCtbFlags
from host.contexts import HostContexts
from host.intra import NUM_INTRA_MODES, chroma_candidate_modes, most_probable_modes
from host.partition import (MIN_CB_LOG2, CtbFlags, NN_DC_RESIDUAL, NN_PLANAR_RESIDUAL, CodingNode, CodingUnit,
                            ComponentBlock, CuMode, ParseState, PictureGeometry, component_blocks,
                            nn_coded_components)
from host.residual_coding import residual_coding
from host.scan import scan_idx_for

DM_CHROMA_IDX = 4                 # intra_chroma_pred_mode of the derived mode (host.intra.chroma_candidate_modes)
CCLM_CHROMA_IDX = 5               # chroma mode index of LM; LM-L, LM-T follow (cclm_mode_idx 0..2)
CBF_NAMES = ("cbf_luma", "cbf_cb", "cbf_cr")
DC_IDX = 1
MAX_DELTA_LEVEL = 2
MAX_DC_OFFSET = 1 << 10


@dataclass(frozen=True)
class NNTreeParams:
    """Block-level neural-tool syntax of a picture with nn_compress_enable_flag = 1."""
    min_log2: int              # nn_compress_flag is present on CUs of at least 2^min_log2 luma
    flag_coding: int           # nn_flag_coding of the picture header
    delta_level_enabled: bool
    residual_enabled: bool
    dc_enabled: bool
    cbcr_separate: bool        # nn_compress_flag_cbcr present (with chroma)
    base_level: int            # Level_Map[QP] + nn_level_offset, clipped (derived by the caller)
    num_levels: int

    @classmethod
    def from_header(cls, header: PictureHeader, base_level: int, num_levels: int) -> "NNTreeParams | None":
        if not header.nn_compress_enable_flag:
            return None
        return cls(header.NnMinCbSize.bit_length() - 1, header.nn_flag_coding,
                   header.nn_delta_level_enabled_flag, header.nn_residual_enabled_flag, header.nn_dc_enabled_flag,
                   header.nn_cbcr_separate_flag and header.chroma_format_idc != 0, base_level, num_levels)


class LoopFilterCtbFlags(CtbFlags):
    """nn_lf_ctb_flag of every CTU per loop-filter component (0 luma, 1 chroma); modes
    (nn_lf_luma_mode, nn_lf_chroma_mode)."""

    @classmethod
    def from_header(cls, header: PictureHeader, geo: PictureGeometry) -> "LoopFilterCtbFlags | None":
        if not header.nn_lf_enabled_flag:
            return None
        return cls.inferred((header.nn_lf_luma_mode, header.nn_lf_chroma_mode), geo)


class TreeSyntax:
    """Binds the geometry, the parse state and the context bases for one picture; ``nn`` is None when
    nn_compress_enable_flag = 0 (every nn_compress_flag inferred 0), ``lf`` None when nn_lf_enabled_flag = 0,
    ``alf`` None when alf_enabled_flag = 0."""

    def __init__(self, geo: PictureGeometry, state: ParseState, ctx: HostContexts,
                 nn: NNTreeParams | None = None, lf: LoopFilterCtbFlags | None = None,
                 alf: AlfCtbFlags | None = None):
        self.geo = geo
        self.alf = alf
        self.state = state
        self.ctx = ctx
        self.nn = nn
        self.lf = lf

    # -- loop filter flags (VVC's alf_ctb_flag pattern) --------------------------------------------
    def nn_lf_ctb_flags(self, sc: SyntaxCoder, x0: int, y0: int) -> None:
        """nn_lf_ctb_flag of each component whose mode is per CTU; context: left + above CTU's flag."""
        if self.lf is not None:
            self._ctb_flags(sc, "nn_lf_ctb_flag", self.ctx.nn_lf_ctb_flag, self.lf, x0, y0)

    def alf_ctb_flags(self, sc: SyntaxCoder, x0: int, y0: int) -> None:
        """alf_ctb_flag of each component whose mode is per CTU; context: left + above CTU's flag."""
        if self.alf is not None:
            self._ctb_flags(sc, "alf_ctb_flag", self.ctx.alf_ctb_flag, self.alf, x0, y0)

    def _ctb_flags(self, sc: SyntaxCoder, name: str, base: int, ctb: CtbFlags, x0: int, y0: int) -> None:
        row, col = y0 >> self.geo.ctu_log2, x0 >> self.geo.ctu_log2
        flags = ctb.flags
        for c in ctb.coded:
            sc.category = "loop_filter"
            left = int(flags[c, row, col - 1]) if col > 0 else 0
            above = int(flags[c, row - 1, col]) if row > 0 else 0
            flag = sc.decision(base + 3 * c + left + above, int(flags[c, row, col]))
            sc.trace(name, flag, c=c, x=x0, y=y0)
            flags[c, row, col] = flag

    # -- coding_quadtree ------------------------------------------------------------------------------
    def coding_quadtree(self, sc: SyntaxCoder, x0: int, y0: int, log2_size: int, depth: int,
                        node: CodingNode | None) -> CodingNode:
        geo = self.geo
        size = 1 << log2_size
        inside = x0 + size <= geo.coded_width and y0 + size <= geo.coded_height
        if inside and self.nn is not None and log2_size >= self.nn.min_log2:
            nn_cu = node is not None and not node.split and node.cu.mode == CuMode.NN
            if self.nn_compress_flag(sc, x0, y0, log2_size, int(nn_cu)):
                cu = self.nn_coding_unit(sc, x0, y0, log2_size, depth, node.cu if node else None)
                return CodingNode(x0, y0, log2_size, False, cu=cu)
        if inside and log2_size > MIN_CB_LOG2:
            split = self.split_cu_flag(sc, x0, y0, log2_size, depth, node.split if node else 0)
        else:
            split = int(log2_size > MIN_CB_LOG2)   # implicit split across the picture border
        if not split:
            cu = self.coding_unit(sc, x0, y0, log2_size, depth, node.cu if node else None)
            return CodingNode(x0, y0, log2_size, False, cu=cu)
        half = size >> 1
        children = []
        kids = iter(node.children) if node else None
        for dy in (0, half):
            for dx in (0, half):
                x1, y1 = x0 + dx, y0 + dy
                if x1 < geo.coded_width and y1 < geo.coded_height:
                    children.append(self.coding_quadtree(sc, x1, y1, log2_size - 1, depth + 1,
                                                         next(kids) if kids else None))
        return CodingNode(x0, y0, log2_size, True, children=children)

    def split_cu_flag(self, sc: SyntaxCoder, x0: int, y0: int, log2_size: int, depth: int,
                      split: int) -> int:
        left, above = self.state.neighbour_depths(x0, y0)
        sc.category = "partition"
        split = sc.decision(self.ctx.split_cu_flag + (left > depth) + (above > depth), int(split))
        sc.trace("split_cu_flag", split, x=x0, y=y0, log2=log2_size)
        return split

    # -- neural-tool CUs (seed 002 ¶137-175) ---------------------------------------------------------
    def nn_compress_flag(self, sc: SyntaxCoder, x0: int, y0: int, log2_size: int, flag: int) -> int:
        """Context: size class (32, 64, 128) x number of NN-coded left/above neighbours (¶146-151);
        or one context, or bypass, as the picture header selects."""
        sc.category = "nn_flags"
        coding = self.nn.flag_coding
        if coding == NN_FLAG_BYPASS:
            flag = sc.bypass_bits(flag, 1)
        elif coding == NN_FLAG_ONE_CONTEXT:
            flag = sc.decision(self.ctx.nn_compress_flag, flag)
        else:
            left, above = self.state.neighbour_nn_flags(x0, y0)
            size_class = min(log2_size - 5, 2)
            flag = sc.decision(self.ctx.nn_compress_flag + 3 * size_class + left + above, flag)
        sc.trace("nn_compress_flag", flag, x=x0, y=y0, log2=log2_size)
        return flag

    def nn_coding_unit(self, sc: SyntaxCoder, x0: int, y0: int, log2_size: int, depth: int,
                       cu: CodingUnit | None) -> CodingUnit:
        """A CU coded by the neural tool: its NN syntax, then, when nn_compress_flag_cbcr = 0, its
        chroma coded by the host (intra_chroma_pred_mode and the chroma transform blocks, ¶159-160)."""
        cu = self.nn_cu_syntax(sc, x0, y0, log2_size, depth, cu)
        if not cu.nn_cbcr:
            self.host_chroma(sc, cu)
        return cu

    def host_chroma(self, sc: SyntaxCoder, cu: CodingUnit) -> None:
        """Chroma of an NN CU with nn_compress_flag_cbcr = 0: coded as a host CU's chroma."""
        self.chroma_intra_mode(sc, cu)
        for i, blk in enumerate(component_blocks(cu, self.geo)):
            if blk.c_idx:
                self.transform_block(sc, cu, i, blk)

    def nn_cu_syntax(self, sc: SyntaxCoder, x0: int, y0: int, log2_size: int, depth: int,
                     cu: CodingUnit | None) -> CodingUnit:
        """The NN syntax of an NN CU.  Inferred, not coded (¶166-173): no split, intra mode DC for the
        MPM derivation of later CUs, chroma DM, no luma transform blocks.  nn_delta_level is coded with
        the first NN-coded CU of a CTU (like HEVC's cu_qp_delta) when the header enables it;
        nn_compress_flag_cbcr (chroma by the NN or by the host) when the header separates them; and
        nn_residual_flag (the NN codes the residual of a planar prediction, ¶176-180) and nn_dc_flag
        with nn_dc_offset per NN-coded component (the NN codes the samples minus a coded DC, ¶181)
        when enabled."""
        if cu is None:
            cu = CodingUnit(x0, y0, log2_size, mode=CuMode.NN)
        cu.luma_modes = [DC_IDX]
        blocks = component_blocks(cu, self.geo)
        if sc.reading or cu.nn_cbcr:
            cu.chroma_mode_idx, cu.chroma_mode = DM_CHROMA_IDX, DC_IDX
            cu.cbf, cu.coeffs = [0] * len(blocks), [None] * len(blocks)
        elif len(cu.cbf) != len(blocks) or any(cu.cbf[i] for i, b in enumerate(blocks) if b.c_idx == 0):
            raise ValueError(f"NN CU at ({x0},{y0}): only its host-coded chroma has transform blocks")
        self.state.mark_cu(cu, depth)
        self.state.mark_luma_mode(x0, y0, cu.size, DC_IDX)
        nn = self.nn
        if self.state.ctu_delta_level is None:
            delta = 0
            if nn.delta_level_enabled:
                delta = self.nn_delta_level(sc, 0 if sc.reading else cu.nn_level - nn.base_level, x0, y0)
            self.state.ctu_delta_level = delta
        level = min(max(nn.base_level + self.state.ctu_delta_level, 0), nn.num_levels - 1)
        if not sc.reading and cu.nn_level != level:
            raise ValueError(f"NN CU at ({x0},{y0}): level {cu.nn_level}, but the CTU's level is {level}")
        cu.nn_level = level
        sc.category = "nn_flags"
        if nn.cbcr_separate:
            cu.nn_cbcr = sc.decision(self.ctx.nn_compress_flag_cbcr, 1 if sc.reading else cu.nn_cbcr)
            sc.trace("nn_compress_flag_cbcr", cu.nn_cbcr, x=x0, y=y0)
        elif not sc.reading and not cu.nn_cbcr:
            raise ValueError(f"NN CU at ({x0},{y0}): host chroma needs nn_cbcr_separate in the header")
        else:
            cu.nn_cbcr = 1
        target = 0 if sc.reading else cu.nn_residual
        mode = 0
        if nn.residual_enabled:
            flag = sc.decision(self.ctx.nn_residual_flag, int(target == NN_PLANAR_RESIDUAL))
            sc.trace("nn_residual_flag", flag, x=x0, y=y0)
            mode = NN_PLANAR_RESIDUAL if flag else 0
        if nn.dc_enabled and mode != NN_PLANAR_RESIDUAL:
            flag = sc.decision(self.ctx.nn_dc_flag, int(target == NN_DC_RESIDUAL))
            sc.trace("nn_dc_flag", flag, x=x0, y=y0)
            if flag:
                mode = NN_DC_RESIDUAL
                cu.nn_dc = [self.nn_dc_offset(sc, c, 0 if sc.reading else cu.nn_dc[c], x0, y0)
                            for c in range(nn_coded_components(cu, self.geo.num_components))]
        if not sc.reading and mode != target:
            raise ValueError(f"NN CU at ({x0},{y0}): residual mode {cu.nn_residual} not enabled in the header")
        cu.nn_residual = mode
        return cu

    def nn_dc_offset(self, sc: SyntaxCoder, c_idx: int, offset: int, x0: int, y0: int) -> int:
        """nn_dc_offset[c]: |offset| as EG2 (bypass), then a bypass sign bin if non-zero."""
        magnitude = sc.egk(abs(offset), 2)
        if magnitude > MAX_DC_OFFSET:
            raise BitstreamError(f"nn_dc_offset {magnitude} out of range at ({x0},{y0})")
        if magnitude and sc.bypass_bits(int(offset < 0), 1):
            magnitude = -magnitude
        sc.trace("nn_dc_offset", magnitude, x=x0, y=y0, c=c_idx)
        return magnitude

    def nn_delta_level(self, sc: SyntaxCoder, delta: int, x0: int, y0: int) -> int:
        """nn_delta_level: |delta| truncated unary (cMax 2, one context per bin), then a bypass sign."""
        sc.category = "nn_flags"
        magnitude = sc.tu(abs(delta), MAX_DELTA_LEVEL, (self.ctx.nn_delta_level, self.ctx.nn_delta_level + 1))
        if magnitude:
            negative = sc.bypass_bits(int(delta < 0), 1)
            delta = -magnitude if negative else magnitude
        else:
            delta = 0
        sc.trace("nn_delta_level", delta, x=x0, y=y0)
        return delta

    # -- coding_unit -------------------------------------------------------------------------------
    def coding_unit(self, sc: SyntaxCoder, x0: int, y0: int, log2_size: int, depth: int,
                    cu: CodingUnit | None) -> CodingUnit:
        if cu is None:
            cu = CodingUnit(x0, y0, log2_size)
        self.state.mark_cu(cu, depth)
        self.luma_intra_modes(sc, cu)
        self.chroma_intra_mode(sc, cu)
        blocks = component_blocks(cu, self.geo)
        if sc.reading:
            cu.cbf = [0] * len(blocks)
            cu.coeffs = [None] * len(blocks)
        for i, blk in enumerate(blocks):
            self.transform_block(sc, cu, i, blk)
        return cu

    def luma_intra_modes(self, sc: SyntaxCoder, cu: CodingUnit) -> None:
        """part_mode and the luma modes of the prediction blocks via MPM (HEVC 7.3.8.5)."""
        geo, state, ctx = self.geo, self.state, self.ctx
        sc.category = "intra_mode"
        if cu.log2_size == MIN_CB_LOG2 and geo.nxn_enabled:
            cu.part_nxn = sc.decision(ctx.part_mode, cu.part_nxn)
            sc.trace("part_mode", cu.part_nxn, x=cu.x, y=cu.y)
        n_pb = 4 if cu.part_nxn else 1
        pb_size = 4 if cu.part_nxn else cu.size
        if sc.reading:
            cu.luma_modes = [0] * n_pb
        origins = [(cu.x + pb_size * (i & 1), cu.y + pb_size * (i >> 1)) for i in range(n_pb)]
        # Flags of all prediction blocks first, then their indices (HEVC order).  The MPMs of block i
        # depend on the modes of blocks < i, so the writer derives them here while marking its modes,
        # exactly as the reader will when it meets each block's index.
        mpms, flags = [None] * n_pb, [0] * n_pb
        if not sc.reading:
            for i, (x, y) in enumerate(origins):
                mpms[i] = most_probable_modes(*state.neighbour_modes(x, y, geo.ctu_log2))
                flags[i] = int(cu.luma_modes[i] in mpms[i])
                state.mark_luma_mode(x, y, pb_size, cu.luma_modes[i])
        for i in range(n_pb):
            flags[i] = sc.decision(ctx.prev_intra_luma_pred_flag, flags[i])
            sc.trace("prev_intra_luma_pred_flag", flags[i], x=origins[i][0], y=origins[i][1])
        for i, (x, y) in enumerate(origins):
            mpm = mpms[i] or most_probable_modes(*state.neighbour_modes(x, y, geo.ctu_log2))
            if flags[i]:
                idx = sc.tr(mpm.index(cu.luma_modes[i]) if not sc.reading else 0, 2, 0)
                sc.trace("mpm_idx", idx, x=x, y=y)
                mode = mpm[idx]
            else:
                rem = 0
                if not sc.reading:
                    rem = cu.luma_modes[i] - sum(m < cu.luma_modes[i] for m in mpm)
                rem = sc.fl(rem, 5)
                sc.trace("rem_intra_luma_pred_mode", rem, x=x, y=y)
                mode = rem
                for m in sorted(mpm):
                    if mode >= m:
                        mode += 1
                if mode >= NUM_INTRA_MODES:
                    raise BitstreamError(f"intra mode {mode} out of range at ({x},{y})")
            cu.luma_modes[i] = mode
            state.mark_luma_mode(x, y, pb_size, mode)

    def chroma_intra_mode(self, sc: SyntaxCoder, cu: CodingUnit) -> None:
        """cclm_mode_flag and cclm_mode_idx (VVC 7.3.11.5) when CCLM is enabled, else (or when the
        flag is 0) intra_chroma_pred_mode: one context-coded bin (DM or not), then two bypass bins."""
        if self.geo.num_components == 1:
            return
        sc.category = "intra_mode"
        idx = cu.chroma_mode_idx
        x, y = cu.x, cu.y
        cclm = 0
        if self.geo.cclm_enabled:
            cclm = sc.decision(self.ctx.cclm_mode_flag, int(idx >= CCLM_CHROMA_IDX))
            sc.trace("cclm_mode_flag", cclm, x=x, y=y)
            if cclm:
                k = idx - CCLM_CHROMA_IDX
                k = sc.decision(self.ctx.cclm_mode_idx, int(k > 0))
                if k:
                    k += sc.bypass(int(idx - CCLM_CHROMA_IDX == 2))
                sc.trace("cclm_mode_idx", k, x=x, y=y)
                idx = CCLM_CHROMA_IDX + k
        if not cclm:
            is_dm = sc.decision(self.ctx.intra_chroma_pred_mode, int(idx == DM_CHROMA_IDX))
            idx = sc.bypass_bits(idx, 2) if not is_dm else DM_CHROMA_IDX
            sc.trace("intra_chroma_pred_mode", idx, x=x, y=y)
        cu.chroma_mode_idx = idx
        cu.chroma_mode = chroma_candidate_modes(cu.luma_modes[0], self.geo.cclm_enabled)[idx]

    def cbf_context(self, cu: CodingUnit, blk: ComponentBlock) -> int:
        """Context of coded_block_flag: by component, and whether the block covers the whole CU."""
        whole = int(blk.log2_size + (self.geo.chroma_shift if blk.c_idx else 0) == cu.log2_size)
        return (self.ctx.cbf_luma if blk.c_idx == 0 else self.ctx.cbf_chroma) + whole

    def transform_block(self, sc: SyntaxCoder, cu: CodingUnit, i: int, blk: ComponentBlock) -> None:
        """coded_block_flag and, when set, residual_coding of transform block ``i`` of the CU."""
        geo = self.geo
        sc.category = "cbf"
        cbf = sc.decision(self.cbf_context(cu, blk), cu.cbf[i])
        sc.trace(CBF_NAMES[blk.c_idx], cbf, x=blk.x, y=blk.y)
        cu.cbf[i] = cbf
        if cbf:
            if blk.log2_size <= geo.max_ts_log2:
                sc.category = "coeff"
                ts = sc.decision(self.ctx.transform_skip_flag + (blk.c_idx > 0), int(i in cu.ts_blocks))
                sc.trace("transform_skip_flag", ts, c_idx=blk.c_idx)
                if ts:
                    cu.ts_blocks.add(i)
                else:
                    cu.ts_blocks.discard(i)
            mode = cu.luma_modes[blk.pb] if blk.c_idx == 0 else cu.chroma_mode
            scan = scan_idx_for(blk.log2_size, blk.c_idx, mode, geo.chroma_format == 3)
            cu.coeffs[i] = residual_coding(sc, cu.coeffs[i], blk.log2_size, blk.c_idx, scan,
                                           geo.sign_hiding and i not in cu.ts_blocks)
        elif sc.reading:
            cu.coeffs[i] = None


def coding_tree_unit(syntax: TreeSyntax, sc: SyntaxCoder, x0: int, y0: int,
                     node: CodingNode | None = None) -> CodingNode:
    syntax.state.ctu_delta_level = None
    syntax.nn_lf_ctb_flags(sc, x0, y0)
    syntax.alf_ctb_flags(sc, x0, y0)
    return syntax.coding_quadtree(sc, x0, y0, syntax.geo.ctu_log2, 0, node)


