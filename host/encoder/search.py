"""RD search of one CTU (encoder-only): quadtree split, intra modes, quantised levels.

Every candidate is reconstructed with the normative functions of ``host.reconstruct`` and its rate is
measured by running the normative syntax functions on a ``RateEstimator`` — so the costs compared here
are those of the bitstream that will be written.  J = SSE(Y) + SSE(Cb) + SSE(Cr) + λ·R.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bitstream.syntax_coder import RateEstimator
from host.encoder.cost import satd, sse
from host.intra import chroma_candidate_modes, most_probable_modes, predict_all_modes_unchecked
from host.partition import (MIN_CB_LOG2, CodingNode, CodingUnit, ComponentBlock, ParseState,
                            PictureGeometry, component_blocks)
from host.quant import qp_to_lambda, quantize_unchecked
from host.reconstruct import PictureBuffer, block_residual, transform_kind
from host.scan import scan_idx_for
from host.syntax import TreeSyntax
from host.transform import forward_transform_unchecked

LARGE_CU_MODES = (0, 1, 10, 26)   # planar, DC, horizontal, vertical


@dataclass(frozen=True)
class SearchConfig:
    rd_modes: int = 3          # luma modes of the SATD shortlist that get a full RD check
    rdoq: bool = False
    dst4_enabled: bool = True
    early_split_stop: bool = True   # stop evaluating children once their cost exceeds the unsplit CU's


class CtuSearch:
    def __init__(self, geo: PictureGeometry, qp: int, bit_depth: int, original: list[np.ndarray],
                 buf: PictureBuffer, state: ParseState, syntax: TreeSyntax, est: RateEstimator,
                 cfg: SearchConfig):
        self.geo, self.qp, self.bit_depth = geo, qp, bit_depth
        self.org, self.buf, self.state, self.syntax, self.est, self.cfg = original, buf, state, syntax, est, cfg
        self.lam = qp_to_lambda(qp, bit_depth)
        self.sqrt_lam = math.sqrt(self.lam)
        if cfg.rdoq:
            from host.rdoq import rdoq
            self._rdoq = rdoq

    # -- checkpoints of everything a trial changes ------------------------------------------------------
    def _checkpoint(self, x: int, y: int, size: int):
        return self.est.snapshot(), self.buf.save_region(x, y, size), self.state.save(x, y, size)

    def _restore(self, ck) -> None:
        self.est.restore(ck[0])
        self.buf.restore_region(ck[1])
        self.state.restore(ck[2])

    # -- quadtree ---------------------------------------------------------------------------------
    def search_ctu(self, x: int, y: int) -> CodingNode:
        return self.search_node(x, y, self.geo.ctu_log2, 0)[1]

    def search_node(self, x: int, y: int, log2: int, depth: int) -> tuple[float, CodingNode]:
        geo, est, syntax = self.geo, self.est, self.syntax
        size = 1 << log2
        inside = x + size <= geo.coded_width and y + size <= geo.coded_height
        can_split = log2 > MIN_CB_LOG2
        start = self._checkpoint(x, y, size) if can_split else None
        best_cost, best_node, best_ck = math.inf, None, None
        if inside:
            b0 = est.bits
            if can_split:
                syntax.split_cu_flag(est, x, y, log2, depth, 0)
            flag_bits = est.bits - b0
            cost, cu = self.search_cu(x, y, log2, depth)
            best_cost, best_node = cost + self.lam * flag_bits, CodingNode(x, y, log2, False, cu=cu)
            if can_split:
                best_ck = self._checkpoint(x, y, size)
        if not can_split:
            return best_cost, best_node
        self._restore(start)
        cost = 0.0
        if inside:
            b0 = est.bits
            syntax.split_cu_flag(est, x, y, log2, depth, 1)
            cost = self.lam * (est.bits - b0)
        children = []
        half = size >> 1
        for dy in (0, half):
            for dx in (0, half):
                if x + dx < geo.coded_width and y + dy < geo.coded_height:
                    c, node = self.search_node(x + dx, y + dy, log2 - 1, depth + 1)
                    cost += c
                    children.append(node)
                    if self.cfg.early_split_stop and cost >= best_cost:
                        break
        if cost < best_cost:
            return cost, CodingNode(x, y, log2, True, children=children)
        self._restore(best_ck)
        return best_cost, best_node

    # -- coding unit ------------------------------------------------------------------------------
    def search_cu(self, x: int, y: int, log2: int, depth: int) -> tuple[float, CodingUnit]:
        geo, est = self.geo, self.est
        cu = CodingUnit(x, y, log2)
        self.state.mark_cu(cu, depth)
        est_start = est.snapshot()
        self._decide_luma(cu)
        if geo.num_components > 1:
            self._decide_chroma(cu)
        # Exact rate of the decided CU from the CU-start context states, states advanced past it.
        est.restore(est_start)
        b0 = est.bits
        self.syntax.coding_unit(est, x, y, log2, depth, cu)
        distortion = sum(self._block_sse(blk) for blk in component_blocks(cu, geo))
        return distortion + self.lam * (est.bits - b0), cu

    def _block_sse(self, blk: ComponentBlock) -> int:
        n = 1 << blk.log2_size
        sl = np.s_[blk.y:blk.y + n, blk.x:blk.x + n]
        return sse(self.org[blk.c_idx][sl], self.buf.planes[blk.c_idx][sl])

    def _code_blocks(self, cu: CodingUnit, indices: list[int], blocks: list[ComponentBlock]) -> int:
        """Predict, quantise and reconstruct the given transform blocks into the picture buffer, coding
        their cbf/residual syntax on the estimator; returns their SSE."""
        distortion = 0
        qp, bd = self.qp, self.bit_depth
        for i in indices:
            blk = blocks[i]
            mode = cu.luma_modes[blk.pb] if blk.c_idx == 0 else cu.chroma_mode
            n = 1 << blk.log2_size
            pred = self.buf.predict_block(blk, mode)
            org = self.org[blk.c_idx][blk.y:blk.y + n, blk.x:blk.x + n]
            qp_c = self.buf.qp_for(blk.c_idx, qp)
            coeffs = forward_transform_unchecked(org - pred, n, transform_kind(blk, self.cfg.dst4_enabled), bd)
            if self.cfg.rdoq:
                scan = scan_idx_for(blk.log2_size, blk.c_idx, mode, self.geo.chroma_format == 3)
                levels = self._rdoq(coeffs, qp_c, n, blk.c_idx, self.lam, self.est, bd, scan_idx=scan,
                                    cbf_ctx=self.syntax.cbf_context(cu, blk))
            else:
                levels = quantize_unchecked(coeffs, qp_c, blk.log2_size, bd)
            if levels.any():
                cu.cbf[i], cu.coeffs[i] = 1, levels
                rec = self.buf.add_residual(pred, block_residual(levels, qp_c, blk, self.cfg.dst4_enabled, bd))
            else:
                cu.cbf[i], cu.coeffs[i] = 0, None
                rec = pred
            self.buf.store_block(blk, rec)
            distortion += sse(org, rec)
            self.syntax.transform_block(self.est, cu, i, blk)
        return distortion

    def _try(self, cu: CodingUnit, code) -> float:
        """Cost of one candidate: run ``code`` (which reconstructs and codes), then undo everything."""
        ck = self._checkpoint(cu.x, cu.y, cu.size)
        b0 = self.est.bits
        distortion = code()
        cost = distortion + self.lam * (self.est.bits - b0)
        self._restore(ck)
        return cost

    # -- luma -------------------------------------------------------------------------------------
    def _luma_shortlist(self, x: int, y: int, log2: int) -> list[int]:
        mpm = most_probable_modes(*self.state.neighbour_modes(x, y, self.geo.ctu_log2))
        size = 1 << log2
        if log2 > self.geo.max_tb_log2:
            return list(dict.fromkeys(LARGE_CU_MODES + tuple(mpm)))
        ref = self.buf.reference(ComponentBlock(0, x, y, log2, 0))
        preds = predict_all_modes_unchecked(ref, size, True, self.bit_depth)
        org = self.org[0][y:y + size, x:x + size]
        mode_bits = np.full(35, 6.0)
        mode_bits[list(mpm)] = (2.0, 3.0, 3.0)
        cost = satd(org[None].astype(np.int64) - preds) + self.sqrt_lam * mode_bits
        order = [int(m) for m in np.argsort(cost, kind="stable")[:self.cfg.rd_modes]]
        return list(dict.fromkeys(order + [mpm[0]]))

    def _decide_luma(self, cu: CodingUnit) -> None:
        geo = self.geo
        candidates = [(0, m) for m in self._luma_shortlist(cu.x, cu.y, cu.log2_size)]
        if cu.log2_size == MIN_CB_LOG2 and geo.nxn_enabled:
            candidates.append((1, None))
        best = (math.inf, None)
        for nxn, mode in candidates:
            cost = self._try(cu, lambda: self._code_luma(cu, nxn, mode))
            if cost < best[0]:
                best = (cost, (nxn, mode, list(cu.luma_modes)))
        nxn, mode, modes = best[1]
        self._code_luma(cu, nxn, mode, modes)

    def _code_luma(self, cu: CodingUnit, nxn: int, mode: int | None, modes: list[int] | None = None) -> int:
        """Code the luma of the CU with one mode (2Nx2N) or four (NxN, chosen block by block unless
        given); leaves the luma reconstruction in the buffer and the syntax on the estimator."""
        cu.part_nxn = nxn
        blocks = component_blocks(cu, self.geo)
        cu.cbf = [0] * len(blocks)
        cu.coeffs = [None] * len(blocks)
        luma = [i for i, b in enumerate(blocks) if b.c_idx == 0]
        if not nxn:
            cu.luma_modes = [mode]
            self.syntax.luma_intra_modes(self.est, cu)
            return self._code_blocks(cu, luma, blocks)
        if modes is None:
            # Decide block by block, each predicted from its reconstructed predecessors; then undo and
            # code the four in syntax order below.
            ck = self._checkpoint(cu.x, cu.y, cu.size)
            modes = []
            for pb, i in enumerate(luma):
                blk = blocks[i]
                best = (math.inf, 1)
                for m in self._luma_shortlist(blk.x, blk.y, 2):
                    cu.luma_modes = modes + [m] * (4 - pb)
                    cost = self._try(cu, lambda: self._code_blocks(cu, [i], blocks))
                    if cost < best[0]:
                        best = (cost, m)
                modes.append(best[1])
                cu.luma_modes = modes + [best[1]] * (3 - pb)
                self._code_blocks(cu, [i], blocks)
            self._restore(ck)
        cu.luma_modes = list(modes)
        self.syntax.luma_intra_modes(self.est, cu)
        return self._code_blocks(cu, luma, blocks)

    # -- chroma -----------------------------------------------------------------------------------
    def _decide_chroma(self, cu: CodingUnit) -> None:
        blocks = component_blocks(cu, self.geo)
        chroma = [i for i, b in enumerate(blocks) if b.c_idx > 0]
        modes = chroma_candidate_modes(cu.luma_modes[0])
        best = (math.inf, 4)
        seen = set()
        for idx in (4, 0, 1, 2, 3):
            if modes[idx] in seen:
                continue
            seen.add(modes[idx])
            cu.chroma_mode_idx, cu.chroma_mode = idx, modes[idx]
            cost = self._try(cu, lambda: self._code_chroma(cu, chroma, blocks))
            if cost < best[0]:
                best = (cost, idx)
        cu.chroma_mode_idx, cu.chroma_mode = best[1], modes[best[1]]
        self._code_chroma(cu, chroma, blocks)

    def _code_chroma(self, cu: CodingUnit, chroma: list[int], blocks: list[ComponentBlock]) -> int:
        self.syntax.chroma_intra_mode(self.est, cu)
        return self._code_blocks(cu, chroma, blocks)
