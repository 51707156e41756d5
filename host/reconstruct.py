"""Normative reconstruction of host-coded CUs: intra prediction + scaled inverse transform.

The decoder calls it on parsed CUs; the encoder calls exactly the same code for its candidates and for
its final reconstruction, so the two cannot drift apart.
"""
from __future__ import annotations

import numpy as np

from host.cclm import CCLM_MODES, predict_cclm, predict_cclm_modes
from host.intra import INTRA_DC, INTRA_PLANAR, predict_unchecked, reference_samples_unchecked
from host.partition import (NN_DC_RESIDUAL, NN_PLANAR_RESIDUAL, UNIT, CodingUnit, ComponentBlock,
                            PictureGeometry, component_blocks, nn_coded_components)
from host.quant import chroma_qp, dequantize_dependent_unchecked, dequantize_unchecked
from host.scan import COEFF_SCAN, coded_log2_size, scan_idx_for
from host.transform import DCT2, DST7, SKIP, inverse_transform_unchecked


def transform_kind(blk: ComponentBlock, dst4_enabled: bool, transform_skip: bool = False) -> str:
    if transform_skip:
        return SKIP
    return DST7 if (dst4_enabled and blk.c_idx == 0 and blk.log2_size == 2) else DCT2


def block_residual(levels: np.ndarray, qp: int, blk: ComponentBlock, kind: str, bit_depth: int,
                   dq_scan_idx: int | None = None) -> np.ndarray:
    """Dequantised, inverse-transformed (``kind``, see ``transform_kind``) residual of a block's levels
    (integers within 16 bits, as parsed or quantised; a batch (..., N, N) of blocks of one kind works).
    ``dq_scan_idx``: the block's scanIdx when dependent quantisation applies to it, else None."""
    log2_size = blk.log2_size
    if log2_size == 6:        # only the low-frequency 32x32 levels can be non-zero (zero-out)
        levels = levels[..., :32, :32]
    if dq_scan_idx is None:
        coeffs = dequantize_unchecked(levels, qp, log2_size, bit_depth)
    else:
        scan = COEFF_SCAN[(coded_log2_size(log2_size), dq_scan_idx)]
        coeffs = dequantize_dependent_unchecked(levels, qp, log2_size, bit_depth, scan)
    return inverse_transform_unchecked(coeffs, 1 << log2_size, kind, bit_depth)


class PictureBuffer:
    """Reconstructed sample planes (coded size) with per-4x4 availability for intra prediction."""

    def __init__(self, geo: PictureGeometry, bit_depth: int):
        self.geo = geo
        self.bit_depth = bit_depth
        self.max_sample = (1 << bit_depth) - 1
        self._chroma_qp: dict[int, int] = {}
        self.planes = [np.zeros(geo.plane_shape(c), dtype=np.int32) for c in range(geo.num_components)]
        self.avail = [np.zeros((h // UNIT, w // UNIT), dtype=bool)
                      for h, w in (geo.plane_shape(c) for c in range(geo.num_components))]

    def dq_scan_idx(self, blk: ComponentBlock, mode: int, kind: str) -> int | None:
        """scanIdx of a block that dependent quantisation applies to (transformed blocks of a picture
        with dep_quant_enabled_flag), else None: the parity chain runs in the block's coding order."""
        if not self.geo.dep_quant or kind == SKIP:
            return None
        return scan_idx_for(blk.log2_size, blk.c_idx, mode, self.geo.chroma_format == 3)

    def qp_for(self, c_idx: int, qp: int) -> int:
        if c_idx == 0:
            return qp
        qp_c = self._chroma_qp.get(qp)
        if qp_c is None:
            qp_c = self._chroma_qp[qp] = chroma_qp(qp, self.geo.chroma_format)
        return qp_c

    def reference(self, blk: ComponentBlock) -> np.ndarray:
        """The block's intra reference samples from the current reconstruction."""
        return reference_samples_unchecked(self.planes[blk.c_idx], self.avail[blk.c_idx], blk.x, blk.y,
                                           1 << blk.log2_size, self.bit_depth)

    def predict_block(self, blk: ComponentBlock, mode: int, ref: np.ndarray | None = None) -> np.ndarray:
        """Intra prediction of the block; ``ref``: its reference samples, if already gathered."""
        if mode in CCLM_MODES:
            return predict_cclm(self.planes[0], self.planes[blk.c_idx], self.avail[blk.c_idx], blk.x, blk.y,
                                1 << blk.log2_size, mode, self.geo.chroma_shift, self.bit_depth)
        if ref is None:
            ref = self.reference(blk)
        return predict_unchecked(ref, 1 << blk.log2_size, mode, blk.c_idx == 0, self.bit_depth)

    def predict_cclm_modes(self, blks: list[ComponentBlock], modes: tuple[int, ...]) -> np.ndarray:
        """CCLM predictions (len(blks), len(modes), n, n) of chroma blocks at one position (Cb, Cr)."""
        b = blks[0]
        return predict_cclm_modes(self.planes[0], [(self.planes[k.c_idx], self.avail[k.c_idx]) for k in blks],
                                  b.x, b.y, 1 << b.log2_size, modes, self.geo.chroma_shift, self.bit_depth)

    def add_residual(self, pred: np.ndarray, residual: np.ndarray) -> np.ndarray:
        """pred + residual clipped to the sample range."""
        return np.minimum(np.maximum(pred + residual, 0), self.max_sample)

    def store_block(self, blk: ComponentBlock, samples: np.ndarray) -> None:
        size = 1 << blk.log2_size
        self.planes[blk.c_idx][blk.y:blk.y + size, blk.x:blk.x + size] = samples
        u = UNIT
        self.avail[blk.c_idx][blk.y // u:(blk.y + max(size, u)) // u,
                              blk.x // u:(blk.x + max(size, u)) // u] = True

    def store_cu(self, cu: CodingUnit, planes: list[np.ndarray]) -> None:
        """Samples of a whole CU (one array per component), e.g. from the neural tool."""
        for c, samples in enumerate(planes[:self.geo.num_components]):
            s = self.geo.chroma_shift if c else 0
            self.store_block(ComponentBlock(c, cu.x >> s, cu.y >> s, cu.log2_size - s, 0), samples)

    def nn_prediction(self, cu: CodingUnit) -> list[np.ndarray]:
        """What an NN CU's output is added to, per component: the planar prediction from the unfiltered
        neighbours (nn_residual_flag, ¶176-180), or the DC prediction plus nn_dc_offset (nn_dc_flag, ¶181)."""
        preds = []
        for c in range(nn_coded_components(cu, self.geo.num_components)):
            s = self.geo.chroma_shift if c else 0
            blk = ComponentBlock(c, cu.x >> s, cu.y >> s, cu.log2_size - s, 0)
            mode = INTRA_PLANAR if cu.nn_residual == NN_PLANAR_RESIDUAL else INTRA_DC
            pred = predict_unchecked(self.reference(blk), 1 << blk.log2_size, mode, False, self.bit_depth,
                                     filter_enabled=False)
            if cu.nn_residual == NN_DC_RESIDUAL:
                pred = np.full_like(pred, min(max(int(pred[0, 0]) + cu.nn_dc[c], 0), self.max_sample))
            preds.append(pred)
        return preds

    def add_nn_residual(self, cu: CodingUnit, samples: list[np.ndarray]) -> list[np.ndarray]:
        """NN output of a residual-mode CU (residual + 2^(bitDepth-1)) -> reconstructed samples."""
        mid = 1 << (self.bit_depth - 1)
        return [self.add_residual(p, s - mid) for p, s in zip(self.nn_prediction(cu), samples)]

    def reconstruct_block(self, blk: ComponentBlock, mode: int, residual: np.ndarray | None) -> np.ndarray:
        pred = self.predict_block(blk, mode)
        rec = pred if residual is None else self.add_residual(pred, residual)
        self.store_block(blk, rec)
        return rec

    def reconstruct_nn_cu(self, cu: CodingUnit, samples: list[np.ndarray], qp: int, dst4_enabled: bool) -> None:
        """An NN CU: its reconstructed samples (``add_nn_residual`` applied in the residual modes) for
        the components the NN codes, then its host-coded chroma, if any."""
        self.store_cu(cu, samples[:nn_coded_components(cu, self.geo.num_components)])
        if not cu.nn_cbcr:
            self.reconstruct_cu(cu, qp, dst4_enabled, chroma_only=True)

    def reconstruct_cu(self, cu: CodingUnit, qp: int, dst4_enabled: bool, chroma_only: bool = False) -> None:
        for i, blk in enumerate(component_blocks(cu, self.geo)):
            if chroma_only and blk.c_idx == 0:
                continue
            mode = cu.luma_modes[blk.pb] if blk.c_idx == 0 else cu.chroma_mode
            residual = None
            if cu.cbf[i]:
                kind = transform_kind(blk, dst4_enabled, i in cu.ts_blocks)
                residual = block_residual(cu.coeffs[i], self.qp_for(blk.c_idx, qp), blk, kind, self.bit_depth,
                                          self.dq_scan_idx(blk, mode, kind))
            self.reconstruct_block(blk, mode, residual)

    def save_region(self, x: int, y: int, size: int):
        """Snapshot of a luma-coordinate square region in every plane (for encoder trials)."""
        saved = []
        for c in range(self.geo.num_components):
            s = self.geo.chroma_shift if c else 0
            y0, x0, n = y >> s, x >> s, size >> s
            u = UNIT
            sl_a = np.s_[y0 // u:(y0 + n + u - 1) // u, x0 // u:(x0 + n + u - 1) // u]
            saved.append((c, np.s_[y0:y0 + n, x0:x0 + n], self.planes[c][y0:y0 + n, x0:x0 + n].copy(),
                          sl_a, self.avail[c][sl_a].copy()))
        return saved

    def restore_region(self, saved) -> None:
        for c, sl, samples, sl_a, avail in saved:
            self.planes[c][sl] = samples
            self.avail[c][sl_a] = avail
