"""RD search of one CTU (encoder-only): quadtree split, intra modes, quantised levels.

Every candidate is reconstructed with the normative functions of ``host.reconstruct`` and its rate is
measured by running the normative syntax functions on a ``RateEstimator`` — so the costs compared here
are those of the bitstream that will be written.  J = SSE(Y) + SSE(Cb) + SSE(Cr) + λ·R.

In a hybrid picture every node that carries nn_compress_flag is also tried as one CU coded by the
neural tool (``nn``, an encoder-side candidate provider); the host and NN alternatives are compared on
the same J, the NN rate being its latent bits plus the flag (and nn_delta_level) bins.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from bitstream.syntax_coder import RateEstimator
from host.cclm import CCLM_MODES
from host.encoder.cost import satd, sse
from host.encoder.dep_quant import dep_quant
from host.intra import chroma_candidate_modes, most_probable_modes, predict_all_modes_unchecked
from host.partition import (MIN_CB_LOG2, NN_DC_RESIDUAL, NN_PLANAR_RESIDUAL, CodingNode, CodingUnit,
                            ComponentBlock, CuMode, ParseState, PictureGeometry, component_blocks)
from host.encoder.quant import qp_to_lambda, quantize_unchecked
from host.encoder.sign_hiding import hide_signs
from host.reconstruct import PictureBuffer, block_residual, transform_kind
from host.scan import scan_idx_for
from host.syntax import CCLM_CHROMA_IDX, DM_CHROMA_IDX, TreeSyntax
from host.transform import forward_transform_unchecked

LARGE_CU_MODES = (0, 1, 10, 26)   # planar, DC, horizontal, vertical
FAST_RDOQ_TRIALS = ("luma", "nxn", "chroma")   # mode trials of 2Nx2N luma, of NxN 4x4 blocks, of chroma


@dataclass(frozen=True)
class SearchConfig:
    rd_modes: int = 3          # luma modes of the SATD shortlist that get a full RD check
    rdoq: bool = False
    dst4_enabled: bool = True
    early_split_stop: bool = True   # stop evaluating children once their cost exceeds the unsplit CU's
    # Speed heuristics, off here (exhaustive search); EncoderConfig holds the measured defaults.
    zero_cbf_split_stop: bool = False   # do not try to split a CU whose best coding has no residual
    large_cu_bottom_up: bool = False    # CUs above the transform size: try the split first, the
                                        # unsplit CU only if no quadrant split further
    chroma_rd_modes: int = 5            # chroma modes (best by SATD) that get a full RD check
    fast_rdoq: tuple[str, ...] = ()     # mode trials of these kinds (FAST_RDOQ_TRIALS) quantise plainly;
                                        # RDOQ codes the chosen mode only
    nxn_skip_residual_free: bool = False   # no NxN trial for an 8x8 CU whose best 2Nx2N luma has no residual
    nxn_skip_bits: float = 0.0          # no NxN trial where the 8x8 CU's best 2Nx2N luma costs fewer bits
    nxn_rd_modes: int = 3               # rd_modes of the 4x4 blocks of an NxN trial


class CtuSearch:
    def __init__(self, geo: PictureGeometry, qp: int, bit_depth: int, original: list[np.ndarray],
                 buf: PictureBuffer, state: ParseState, syntax: TreeSyntax, est: RateEstimator,
                 cfg: SearchConfig, rd_sink: Callable[[dict], object] | None = None, nn=None):
        self.geo, self.qp, self.bit_depth = geo, qp, bit_depth
        self.nn = nn                # NN candidate provider (hybridcodec.encoder.nn_search.NNCandidates) or None
        self.rd_sink = rd_sink      # trace hook: called with a dict per RD decision (None: off)
        self.org, self.buf, self.state, self.syntax, self.est, self.cfg = original, buf, state, syntax, est, cfg
        self.lam = qp_to_lambda(qp, bit_depth)
        self.sqrt_lam = math.sqrt(self.lam)
        if cfg.rdoq:
            from host.encoder.rdoq import rdoq
            self._rdoq = rdoq
        self._trial_quant = False   # True while fast_rdoq mode trials run: plain quantisation

    # -- checkpoints of everything a trial changes ------------------------------------------------------
    def _checkpoint(self, x: int, y: int, size: int):
        return self.est.snapshot(), self.buf.save_region(x, y, size), self.state.save(x, y, size)

    def _restore(self, ck) -> None:
        self.est.restore(ck[0])
        self.buf.restore_region(ck[1])
        self.state.restore(ck[2])

    # -- quadtree ---------------------------------------------------------------------------------
    def search_node(self, x: int, y: int, log2: int, depth: int) -> tuple[float, CodingNode]:
        geo = self.geo
        size = 1 << log2
        inside = x + size <= geo.coded_width and y + size <= geo.coded_height
        if inside and self.syntax.nn is not None and log2 >= self.syntax.nn.min_log2:
            return self._search_hybrid_node(x, y, log2, depth)
        return self._search_host_node(x, y, log2, depth, inside)

    def _search_hybrid_node(self, x: int, y: int, log2: int, depth: int) -> tuple[float, CodingNode]:
        """nn_compress_flag = 0 followed by the host search, against one CU coded by the neural tool."""
        est, size = self.est, 1 << log2
        start = self._checkpoint(x, y, size)
        b0 = est.bits
        self.syntax.nn_compress_flag(est, x, y, log2, 0)
        flag_cost = self.lam * (est.bits - b0)
        host_cost, host_node = self._search_host_node(x, y, log2, depth, True)
        host_cost += flag_cost
        if self.nn is None or not self.nn.worth_trying(x, y, log2, host_cost):
            return host_cost, host_node
        host_ck = self._checkpoint(x, y, size)
        self._restore(start)
        best = (host_cost, None, None)
        for cu, candidate in self._nn_candidates(x, y, log2):
            cu.nn_level = candidate.level
            variants = [cu]
            if self.syntax.nn.cbcr_separate:
                blocks = len(component_blocks(cu, self.geo))
                variants.append(replace(cu, nn_cbcr=0, nn_dc=cu.nn_dc[:1], cbf=[0] * blocks, coeffs=[None] * blocks))
            for variant in variants:
                nn_cost = self._nn_cost(variant, candidate, depth)
                if self.rd_sink is not None:
                    self.rd_sink({"decision": "nn_compress_flag", "x": x, "y": y, "log2": log2, "J_host": host_cost,
                                  "J_nn": nn_cost, "nn_level": candidate.level, "nn_residual": candidate.residual,
                                  "nn_cbcr": variant.nn_cbcr, "nn_bits": candidate.bits,
                                  "nn_compress_flag": int(nn_cost < host_cost)})
                if nn_cost < best[0]:
                    best = (nn_cost, variant, candidate)
                self._restore(start)
        nn_cost, cu, candidate = best
        if cu is None:
            self._restore(host_ck)
            return host_cost, host_node
        self.syntax.nn_compress_flag(est, x, y, log2, 1)     # the winner again: same bins, same state
        self.syntax.nn_coding_unit(est, x, y, log2, depth, cu)
        self.buf.reconstruct_nn_cu(cu, candidate.planes, self.qp, self.cfg.dst4_enabled)
        return nn_cost, CodingNode(x, y, log2, False, cu=cu)

    def _nn_cost(self, cu: CodingUnit, candidate, depth: int) -> float:
        """J of the node coded as NN CU ``cu`` with ``candidate``'s samples; with nn_cbcr = 0 its chroma
        is decided and coded as a host CU's (left in the buffer and on the estimator)."""
        est = self.est
        b0 = est.bits
        self.syntax.nn_compress_flag(est, cu.x, cu.y, cu.log2_size, 1)
        self.syntax.nn_cu_syntax(est, cu.x, cu.y, cu.log2_size, depth, cu)
        distortion = candidate.distortion
        if not cu.nn_cbcr:                   # the NN's chroma distortion replaced by the host's
            self.buf.store_cu(cu, candidate.planes[:1])
            s = self.geo.chroma_shift
            for c in range(1, self.geo.num_components):
                blk = ComponentBlock(c, cu.x >> s, cu.y >> s, cu.log2_size - s, 0)
                distortion -= sse(self._org_block(blk), candidate.planes[c])
            distortion += self._decide_chroma(cu)
        return distortion + self.lam * (est.bits - b0 + candidate.bits)

    def _nn_candidates(self, x: int, y: int, log2: int) -> list[tuple[CodingUnit, object]]:
        """The NN codings of the node, each with its CU: direct and, when the header enables them, the
        residual of the planar prediction and the samples minus a coded DC."""
        out = [(CodingUnit(x, y, log2, mode=CuMode.NN), self.nn.candidate(x, y, log2))]
        modes = [m for m, on in ((NN_PLANAR_RESIDUAL, self.syntax.nn.residual_enabled),
                                 (NN_DC_RESIDUAL, self.syntax.nn.dc_enabled)) if on]
        for mode in modes:
            cu = CodingUnit(x, y, log2, mode=CuMode.NN, nn_residual=mode)
            if mode == NN_DC_RESIDUAL:                   # offsets: original mean minus the DC prediction
                cu.nn_dc = [0] * self.geo.num_components
                cu.nn_dc = self.nn.dc_offsets(x, y, log2, self.buf.nn_prediction(cu))
            out.append((cu, self.nn.candidate(x, y, log2, residual=(
                mode, self.buf.nn_prediction(cu), lambda samples, cu=cu: self.buf.add_nn_residual(cu, samples)))))
        return out

    def _search_host_node(self, x: int, y: int, log2: int, depth: int, inside: bool) -> tuple[float, CodingNode]:
        geo = self.geo
        size = 1 << log2
        if log2 == MIN_CB_LOG2:
            return self._unsplit(x, y, log2, depth) if inside else (math.inf, None)
        start = self._checkpoint(x, y, size)
        if inside and self.cfg.large_cu_bottom_up and log2 > geo.max_tb_log2:
            return self._search_bottom_up(x, y, log2, depth, start)
        best_cost, best_node, best_ck = math.inf, None, None
        if inside:
            best_cost, best_node = self._unsplit(x, y, log2, depth)
            if self.cfg.zero_cbf_split_stop and not any(best_node.cu.cbf):
                self._report_split(x, y, log2, best_cost, math.inf)
                return best_cost, best_node
            best_ck = self._checkpoint(x, y, size)
        self._restore(start)
        cost, node = self._split(x, y, log2, depth, inside, best_cost)
        self._report_split(x, y, log2, best_cost, cost)
        if cost < best_cost:
            return cost, node
        self._restore(best_ck)
        return best_cost, best_node

    def _search_bottom_up(self, x: int, y: int, log2: int, depth: int, start) -> tuple[float, CodingNode]:
        """Split first; the unsplit CU competes only when every quadrant ended up a single CU (a
        large CU rarely beats quadrants that are themselves split)."""
        split_cost, split_node = self._split(x, y, log2, depth, True, math.inf)
        if any(child.split for child in split_node.children):
            self._report_split(x, y, log2, math.inf, split_cost)
            return split_cost, split_node
        split_ck = self._checkpoint(x, y, 1 << log2)
        self._restore(start)
        cost, node = self._unsplit(x, y, log2, depth)
        self._report_split(x, y, log2, cost, split_cost)
        if split_cost < cost:
            self._restore(split_ck)
            return split_cost, split_node
        return cost, node

    def _report_split(self, x: int, y: int, log2: int, j_unsplit: float, j_split: float) -> None:
        """Record a split decision on the rd trace channel (inf: that alternative was not tried)."""
        if self.rd_sink is not None:
            self.rd_sink({"decision": "split_cu_flag", "x": x, "y": y, "log2": log2, "J_unsplit": j_unsplit,
                          "J_split": j_split, "split": int(j_split < j_unsplit)})

    def _unsplit(self, x: int, y: int, log2: int, depth: int) -> tuple[float, CodingNode]:
        """The node coded as one CU (with split_cu_flag = 0 where it is coded)."""
        b0 = self.est.bits
        if log2 > MIN_CB_LOG2:
            self.syntax.split_cu_flag(self.est, x, y, log2, depth, 0)
        flag_bits = self.est.bits - b0
        cost, cu = self.search_cu(x, y, log2, depth)
        if self.rd_sink is not None:
            self.rd_sink({"decision": "coding_unit", "x": x, "y": y, "log2": log2, "J": cost + self.lam * flag_bits,
                          "part_nxn": cu.part_nxn, "luma_modes": cu.luma_modes,
                          "intra_chroma_pred_mode": cu.chroma_mode_idx, "cbf": cu.cbf})
        return cost + self.lam * flag_bits, CodingNode(x, y, log2, False, cu=cu)

    def _split(self, x: int, y: int, log2: int, depth: int, inside: bool,
               bound: float) -> tuple[float, CodingNode]:
        """The node split into quadrants (those inside the picture), each searched recursively;
        with ``early_split_stop`` the search stops once the cost reaches ``bound``."""
        geo, est = self.geo, self.est
        cost = 0.0
        if inside:
            b0 = est.bits
            self.syntax.split_cu_flag(est, x, y, log2, depth, 1)
            cost = self.lam * (est.bits - b0)
        children = []
        half = 1 << (log2 - 1)
        for dy in (0, half):
            for dx in (0, half):
                if x + dx < geo.coded_width and y + dy < geo.coded_height:
                    c, node = self.search_node(x + dx, y + dy, log2 - 1, depth + 1)
                    cost += c
                    children.append(node)
                    if self.cfg.early_split_stop and cost >= bound:
                        break
        return cost, CodingNode(x, y, log2, True, children=children)

    # -- coding unit ------------------------------------------------------------------------------
    def search_cu(self, x: int, y: int, log2: int, depth: int) -> tuple[float, CodingUnit]:
        """Decide luma, then chroma.  Luma and chroma syntax use disjoint contexts, so coding all luma
        before all chroma leaves the same context states and bit count as the interleaved order of
        ``coding_unit``: the estimator's bits since the CU start are the CU's exact rate."""
        cu = CodingUnit(x, y, log2)
        self.state.mark_cu(cu, depth)
        b0 = self.est.bits
        distortion = self._decide_luma(cu)
        if self.geo.num_components > 1:
            distortion += self._decide_chroma(cu)
        return distortion + self.lam * (self.est.bits - b0), cu

    def _code_blocks(self, cu: CodingUnit, indices: list[int], blocks: list[ComponentBlock]) -> int:
        """Predict, quantise and reconstruct the given transform blocks into the picture buffer, coding
        their cbf/residual syntax on the estimator; returns their SSE."""
        distortion = 0
        for i in indices:
            blk = blocks[i]
            mode = cu.luma_modes[blk.pb] if blk.c_idx == 0 else cu.chroma_mode
            pred = self.buf.predict_block(blk, mode)
            org = self._org_block(blk)
            rec, block_sse = self._code_residual(cu, i, blk, org, pred, mode)
            self.buf.store_block(blk, rec)
            distortion += block_sse
        return distortion

    def _code_residual(self, cu: CodingUnit, i: int, blk: ComponentBlock, org: np.ndarray, pred: np.ndarray,
                       mode: int, coeffs: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """Quantise transform block ``i`` and code its syntax on the estimator; (reconstruction, SSE).
        ``coeffs``: its transform coefficients, if already computed.  Where the block may skip the
        transform (and this is not a mode trial) both codings are tried and the lower J is kept."""
        if blk.log2_size > self.geo.max_ts_log2 or self._trial_quant:
            return self._code_levels(cu, i, blk, org, pred, mode, coeffs, False)
        est = self.est
        start, b0 = est.snapshot(), est.bits
        trials = []
        for skip in (False, True):
            if skip:
                est.restore(start)
            rec, block_sse = self._code_levels(cu, i, blk, org, pred, mode, None if skip else coeffs, skip)
            trials.append((block_sse + self.lam * (est.bits - b0), rec, block_sse, cu.cbf[i], cu.coeffs[i],
                           est.snapshot()))
        best = min(trials, key=lambda t: t[0])          # ties: the transform (listed first)
        _, rec, block_sse, cu.cbf[i], cu.coeffs[i], snap = best
        cu.ts_blocks.add(i) if best is not trials[0] and cu.cbf[i] else cu.ts_blocks.discard(i)
        est.restore(snap)
        return rec, block_sse

    def _code_levels(self, cu: CodingUnit, i: int, blk: ComponentBlock, org: np.ndarray, pred: np.ndarray,
                     mode: int, coeffs: np.ndarray | None, skip: bool) -> tuple[np.ndarray, int]:
        kind = transform_kind(blk, self.cfg.dst4_enabled, skip)
        if coeffs is None:
            coeffs = forward_transform_unchecked(org - pred, 1 << blk.log2_size, kind, self.bit_depth)
        levels = self._quantize(cu, blk, coeffs, mode, skip)
        rec = self._reconstruct(blk, levels, pred, kind,
                                None if self._trial_quant else self.buf.dq_scan_idx(blk, mode, kind))
        cu.cbf[i], cu.coeffs[i] = (0, None) if rec is pred else (1, levels)
        cu.ts_blocks.add(i) if skip and cu.cbf[i] else cu.ts_blocks.discard(i)
        self.syntax.transform_block(self.est, cu, i, blk)
        return rec, sse(org, rec)

    def _quantize(self, cu: CodingUnit, blk: ComponentBlock, coeffs: np.ndarray, mode: int,
                  skip: bool = False) -> np.ndarray:
        """Levels of one block's coefficients.  RDOQ reads the estimator's current context states, so
        it runs just before the block's syntax is coded.  Sign data hiding fixes the parities of every
        coding that may be kept; fast_rdoq mode trials skip it (their sign bits are over-counted
        alike for every candidate)."""
        qp_c = self.buf.qp_for(blk.c_idx, self.qp)
        dependent = self.geo.dep_quant and not skip
        if self._trial_quant or not (self.cfg.rdoq or self.geo.sign_hiding and not skip or dependent):
            return quantize_unchecked(coeffs, qp_c, blk.log2_size, self.bit_depth)
        scan = scan_idx_for(blk.log2_size, blk.c_idx, mode, self.geo.chroma_format == 3)
        if dependent:
            return dep_quant(coeffs, qp_c, 1 << blk.log2_size, blk.c_idx, self.lam, self.est, self.bit_depth,
                             scan_idx=scan, cbf_ctx=self.syntax.cbf_context(cu, blk))
        if self.cfg.rdoq:
            levels = self._rdoq(coeffs, qp_c, 1 << blk.log2_size, blk.c_idx, self.lam, self.est, self.bit_depth,
                                scan_idx=scan, cbf_ctx=self.syntax.cbf_context(cu, blk))
        else:
            levels = quantize_unchecked(coeffs, qp_c, blk.log2_size, self.bit_depth)
        if self.geo.sign_hiding and not skip:
            levels = hide_signs(levels, coeffs, qp_c, blk.log2_size, blk.c_idx, scan, self.bit_depth, self.lam)
        return levels

    def _reconstruct(self, blk: ComponentBlock, levels: np.ndarray, pred: np.ndarray, kind: str,
                     dq_scan_idx: int | None = None) -> np.ndarray:
        """Reconstruction of a block (or a batch of blocks of one kind) from levels and prediction;
        returns ``pred`` itself when every level is zero.  Plainly quantised mode trials reconstruct
        without dependent quantisation (``dq_scan_idx`` None): a model for ranking, never kept."""
        coded = levels.reshape(*levels.shape[:-2], -1).any(axis=-1)
        if not coded.any():
            return pred
        qp_c = self.buf.qp_for(blk.c_idx, self.qp)
        if coded.all():
            return self.buf.add_residual(pred, block_residual(levels, qp_c, blk, kind, self.bit_depth, dq_scan_idx))
        rec = pred.copy()
        rec[coded] = self.buf.add_residual(pred[coded], block_residual(levels[coded], qp_c, blk, kind, self.bit_depth,
                                                                       dq_scan_idx))
        return rec

    def _try(self, cu: CodingUnit, code, mode_trial: str = "") -> float:
        """Cost of one candidate: run ``code`` (which reconstructs and codes), then undo everything.
        A ``mode_trial`` (one of several modes, the winner coded again) quantises plainly under
        ``fast_rdoq``."""
        ck = self._checkpoint(cu.x, cu.y, cu.size)
        b0 = self.est.bits
        outer = self._trial_quant
        self._trial_quant = outer or mode_trial in self.cfg.fast_rdoq
        try:
            distortion = code()
        finally:
            self._trial_quant = outer
        cost = distortion + self.lam * (self.est.bits - b0)
        self._restore(ck)
        return cost

    def _try_single_blocks(self, cu: CodingUnit, candidates: list[int], blocks: list[ComponentBlock],
                           indices: list[int], preds: np.ndarray, code_mode, trial: str) -> tuple[float, int, tuple]:
        """Candidate modes for the transform blocks ``indices`` of the CU when their predictions
        (candidate, block) do not depend on each other's reconstruction: transform, quantisation and
        reconstruction run batched over all candidates, then each candidate's syntax is coded on the
        estimator from the same start (``code_mode(candidate)`` sets the mode in the CU and codes its
        mode syntax).  Costs and tie-breaking are exactly those of trying the candidates one by one.

        Returns (cost, distortion, decision) of the best; ``_apply_single_blocks`` makes it current.
        Only the estimator (and the parse state, through the mode syntax) is changed here.
        """
        est = self.est
        orgs = np.stack([self._org_block(blocks[i]) for i in indices])
        blk0 = blocks[indices[0]]
        kind = transform_kind(blk0, self.cfg.dst4_enabled)
        coeffs = forward_transform_unchecked(orgs - preds, 1 << blk0.log2_size, kind, self.bit_depth)
        # RDOQ depends on the context states of each candidate: without it (or under fast_rdoq, where
        # only the winner is RDOQ-coded again) quantisation runs batched over all candidates; the
        # winner is coded again with RDOQ, sign data hiding and the transform-skip check where on.
        batched = not self.cfg.rdoq or trial in self.cfg.fast_rdoq
        if batched:
            qp_c = self.buf.qp_for(blk0.c_idx, self.qp)
            levels = quantize_unchecked(coeffs, qp_c, blk0.log2_size, self.bit_depth)
            coded = levels.reshape(*levels.shape[:2], -1).any(axis=-1)
            recs = self._reconstruct(blk0, levels, preds, kind)
            distortions = self._batch_sse(orgs, recs)
        start = est.snapshot()
        b0 = est.bits

        def run(k: int, candidate: int, from_batch: bool) -> tuple[float, int, tuple]:
            est.restore(start)
            code_mode(candidate)
            distortion = 0
            per_block = []
            for j, i in enumerate(indices):
                blk = blocks[i]
                if from_batch:
                    rec = recs[k, j]
                    cu.cbf[i], cu.coeffs[i] = (1, levels[k, j]) if coded[k, j] else (0, None)
                    cu.ts_blocks.discard(i)
                    self.syntax.transform_block(est, cu, i, blk)
                    distortion += int(distortions[k, j])
                else:
                    mode = cu.luma_modes[blk.pb] if blk.c_idx == 0 else cu.chroma_mode
                    rec, block_sse = self._code_residual(cu, i, blk, orgs[j], preds[k, j], mode, coeffs[k, j])
                    distortion += block_sse
                per_block.append((cu.cbf[i], cu.coeffs[i], i in cu.ts_blocks, rec))
            return distortion + self.lam * (est.bits - b0), distortion, (candidate, per_block, est.snapshot())

        best = (math.inf, 0, ())
        for k, candidate in enumerate(candidates):
            if batched and distortions[k].sum() >= best[0]:
                continue            # its rate can only add: it cannot win
            result = run(k, candidate, batched)
            if result[0] < best[0]:
                best, best_k = result, k
        if batched and (self.cfg.rdoq or self.geo.sign_hiding or self.geo.dep_quant
                        or blk0.log2_size <= self.geo.max_ts_log2):
            best = run(best_k, best[2][0], False)
        return best

    def _apply_single_blocks(self, cu: CodingUnit, blocks: list[ComponentBlock], indices: list[int],
                             decision: tuple) -> None:
        """Make a decision of ``_try_single_blocks`` current in the estimator, buffer and CU fields."""
        _, per_block, snapshot = decision
        self.est.restore(snapshot)
        for i, (cbf, levels, skip, rec) in zip(indices, per_block):
            cu.cbf[i], cu.coeffs[i] = cbf, levels
            cu.ts_blocks.add(i) if skip else cu.ts_blocks.discard(i)
            self.buf.store_block(blocks[i], rec)

    def _org_block(self, blk: ComponentBlock) -> np.ndarray:
        n = 1 << blk.log2_size
        return self.org[blk.c_idx][blk.y:blk.y + n, blk.x:blk.x + n]

    @staticmethod
    def _batch_sse(orgs: np.ndarray, recs: np.ndarray) -> np.ndarray:
        d = (orgs - recs).astype(np.int64)
        return np.einsum("...ij,...ij->...", d, d)

    # -- luma -------------------------------------------------------------------------------------
    def _luma_shortlist(self, x: int, y: int, log2: int, rd_modes: int | None = None
                        ) -> tuple[list[int], np.ndarray | None]:
        """Luma modes worth a full RD check, and all 35 predictions when the block is a single
        transform block (then they are the candidates' predictions too)."""
        mpm = most_probable_modes(*self.state.neighbour_modes(x, y, self.geo.ctu_log2))
        size = 1 << log2
        if log2 > self.geo.max_tb_log2:
            return list(dict.fromkeys(LARGE_CU_MODES + tuple(mpm))), None
        ref = self.buf.reference(ComponentBlock(0, x, y, log2, 0))
        preds = predict_all_modes_unchecked(ref, size, True, self.bit_depth)
        org = self.org[0][y:y + size, x:x + size]
        mode_bits = np.full(35, 6.0)
        mode_bits[list(mpm)] = (2.0, 3.0, 3.0)
        cost = satd(org[None].astype(np.int64) - preds) + self.sqrt_lam * mode_bits
        order = [int(m) for m in np.argsort(cost, kind="stable")[:rd_modes or self.cfg.rd_modes]]
        return list(dict.fromkeys(order + [mpm[0]])), preds

    def _decide_luma(self, cu: CodingUnit) -> int:
        """Choose the CU's luma coding and leave it in the buffer and on the estimator; its SSE."""
        geo = self.geo
        modes, preds = self._luma_shortlist(cu.x, cu.y, cu.log2_size)
        cu.part_nxn = 0
        blocks = component_blocks(cu, geo)
        cu.cbf, cu.coeffs, cu.ts_blocks = [0] * len(blocks), [None] * len(blocks), set()
        start = self._checkpoint(cu.x, cu.y, cu.size)
        if preds is not None:         # 2Nx2N with one transform block: all candidates at once
            def code_mode(mode: int) -> None:
                cu.luma_modes = [mode]
                self.syntax.luma_intra_modes(self.est, cu)
            cost, distortion, decision = self._try_single_blocks(cu, modes, blocks, [0], preds[modes][:, None],
                                                                 code_mode, "luma")
            best = (cost, lambda: self._apply_single_luma(cu, blocks, decision, distortion))
            cheap = (self.cfg.nxn_skip_residual_free and not decision[1][0][0]
                     or cost - distortion < self.cfg.nxn_skip_bits * self.lam)
        else:
            best, cheap = (math.inf, None), False
            for mode in modes:
                cost = self._try(cu, lambda: self._code_luma(cu, 0, mode), mode_trial="luma")
                if cost < best[0]:
                    best = (cost, lambda m=mode: self._recode_luma(cu, start, 0, m, None))
        if cu.log2_size == MIN_CB_LOG2 and geo.nxn_enabled and not cheap:
            self._restore(start)
            cost = self._try(cu, lambda: self._code_luma(cu, 1, None, budget=best[0]))
            if cost < best[0]:
                nxn_modes = list(cu.luma_modes)
                best = (cost, lambda: self._recode_luma(cu, start, 1, None, nxn_modes))
        return best[1]()

    def _apply_single_luma(self, cu: CodingUnit, blocks: list[ComponentBlock], decision: tuple,
                           distortion: int) -> int:
        cu.part_nxn, cu.luma_modes = 0, [decision[0]]
        self.state.mark_luma_mode(cu.x, cu.y, cu.size, decision[0])
        self._apply_single_blocks(cu, blocks, [0], decision)
        return distortion

    def _recode_luma(self, cu: CodingUnit, start, nxn: int, mode: int | None, modes: list[int] | None) -> int:
        self._restore(start)
        return self._code_luma(cu, nxn, mode, modes)

    def _code_luma(self, cu: CodingUnit, nxn: int, mode: int | None, modes: list[int] | None = None,
                   budget: float = math.inf) -> float:
        """Code the luma of the CU with one mode (2Nx2N) or four (NxN, chosen block by block unless
        given); leaves the luma reconstruction in the buffer and the syntax on the estimator.  Returns
        the SSE, or infinity once a block-by-block NxN choice has cost ``budget`` or more."""
        cu.part_nxn = nxn
        blocks = component_blocks(cu, self.geo)
        cu.cbf = [0] * len(blocks)
        cu.coeffs = [None] * len(blocks)
        cu.ts_blocks = set()
        luma = [i for i, b in enumerate(blocks) if b.c_idx == 0]
        if not nxn:
            cu.luma_modes = [mode]
            self.syntax.luma_intra_modes(self.est, cu)
            return self._code_blocks(cu, luma, blocks)
        if modes is None:
            return self._decide_nxn(cu, blocks, luma, budget)
        cu.luma_modes = list(modes)
        self.syntax.luma_intra_modes(self.est, cu)
        return self._code_blocks(cu, luma, blocks)

    def _decide_nxn(self, cu: CodingUnit, blocks: list[ComponentBlock], luma: list[int], budget: float) -> float:
        """Choose the four 4x4 modes block by block, each block's candidates batched from its
        reconstructed predecessors, and leave the NxN coding on the estimator.  The modes' syntax
        precedes the residuals in the CU, but uses none of their contexts: so the levels chosen block
        by block (RDOQ reads the context states) are those of the coding in syntax order, and only
        the syntax is coded again, not the blocks.  The cost of the blocks chosen so far is a lower
        bound of the NxN cost, so the choice stops (returning infinity) once it reaches ``budget``,
        the cost NxN must beat: an exact early termination."""
        start, b0 = self.est.snapshot(), self.est.bits
        modes: list[int] = []
        distortion = 0
        for pb, i in enumerate(luma):
            blk = blocks[i]
            shortlist, preds = self._luma_shortlist(blk.x, blk.y, 2, self.cfg.nxn_rd_modes)

            def code_mode(mode: int) -> None:
                cu.luma_modes = modes + [mode] * (4 - pb)

            _, block_sse, decision = self._try_single_blocks(cu, shortlist, blocks, [i],
                                                             preds[shortlist][:, None], code_mode, "nxn")
            self._apply_single_blocks(cu, blocks, [i], decision)
            modes.append(decision[0])
            distortion += block_sse
            if distortion + self.lam * (self.est.bits - b0) >= budget:
                return math.inf
        self.est.restore(start)
        cu.luma_modes = modes
        self.syntax.luma_intra_modes(self.est, cu)
        for i in luma:
            self.syntax.transform_block(self.est, cu, i, blocks[i])
        return distortion

    # -- chroma -----------------------------------------------------------------------------------
    def _decide_chroma(self, cu: CodingUnit) -> int:
        """Choose the CU's chroma mode and leave its coding in the buffer and on the estimator; its SSE."""
        blocks = component_blocks(cu, self.geo)
        chroma = [i for i, b in enumerate(blocks) if b.c_idx > 0]
        modes = chroma_candidate_modes(cu.luma_modes[0], self.geo.cclm_enabled)
        candidates = []
        for idx in (DM_CHROMA_IDX, *range(DM_CHROMA_IDX), *range(DM_CHROMA_IDX + 1, len(modes))):
            # DM first; a mode listed twice is tried once
            if all(modes[idx] != modes[c] for c in candidates):
                candidates.append(idx)
        shortlist = self.cfg.chroma_rd_modes < len(candidates)
        if len(chroma) == 2 or shortlist:
            first = chroma[:2]                    # the first Cb and Cr blocks: predicted from outside the CU
            refs = [self.buf.reference(blocks[i]) for i in first]
            lm = [idx for idx in candidates if modes[idx] in CCLM_MODES]
            lm_preds = self.buf.predict_cclm_modes([blocks[i] for i in first], tuple(modes[idx] for idx in lm)) \
                if lm else None
            preds = np.stack([lm_preds[:, lm.index(idx)] if idx in lm else
                              [self.buf.predict_block(blocks[i], modes[idx], ref) for i, ref in zip(first, refs)]
                              for idx in candidates])
        if shortlist:
            keep = self._chroma_shortlist(candidates, [blocks[i] for i in first], preds)
            candidates = [c for c, kept in zip(candidates, keep) if kept]
            preds = preds[keep]
        if len(chroma) == 2:          # one transform block per chroma component: all candidates at once
            def code_mode(idx: int) -> None:
                cu.chroma_mode_idx, cu.chroma_mode = idx, modes[idx]
                self.syntax.chroma_intra_mode(self.est, cu)
            _, distortion, decision = self._try_single_blocks(cu, candidates, blocks, chroma, preds, code_mode,
                                                              "chroma")
            cu.chroma_mode_idx, cu.chroma_mode = decision[0], modes[decision[0]]
            self._apply_single_blocks(cu, blocks, chroma, decision)
            return distortion
        best = (math.inf, 4)
        for idx in candidates:
            cu.chroma_mode_idx, cu.chroma_mode = idx, modes[idx]
            cost = self._try(cu, lambda: self._code_chroma(cu, chroma, blocks), mode_trial="chroma")
            if cost < best[0]:
                best = (cost, idx)
        cu.chroma_mode_idx, cu.chroma_mode = best[1], modes[best[1]]
        return self._code_chroma(cu, chroma, blocks)

    def _chroma_shortlist(self, candidates: list[int], blocks: list[ComponentBlock],
                          preds: np.ndarray) -> np.ndarray:
        """Which chroma candidates get a full RD check: the ``chroma_rd_modes`` best by SATD of the
        first Cb and Cr blocks plus the mode's bits (DM: 1, CCLM: 2, others: 3)."""
        orgs = np.stack([self._org_block(blk) for blk in blocks])
        mode_bits = np.array([1.0 if idx == DM_CHROMA_IDX else 2.0 if idx >= CCLM_CHROMA_IDX else 3.0
                              for idx in candidates])
        cost = satd(orgs[None].astype(np.int64) - preds).sum(axis=1) + self.sqrt_lam * mode_bits
        keep = np.zeros(len(candidates), dtype=bool)
        keep[np.argsort(cost, kind="stable")[:self.cfg.chroma_rd_modes]] = True
        return keep

    def _code_chroma(self, cu: CodingUnit, chroma: list[int], blocks: list[ComponentBlock]) -> int:
        self.syntax.chroma_intra_mode(self.est, cu)
        return self._code_blocks(cu, chroma, blocks)
