"""Neural-tool candidates for the hybrid RD search (encoder-only; seed 002 ¶113-136, ¶185-191).

For a CU the search asks for, the picture's block codec (any plugin, through its encoder side
``nntools.encoder.plugin.BlockCodecEncoder``) codes the CU's original samples at the CTU's level and
returns what the decoder will reconstruct, its SSE and its bits.  Candidates are computed on demand and cached per (CU, level), so a CU tried at several levels or
by both the per-CU and the delta-level passes is coded once.  The encoder simplifications decide which
CUs are not worth an NN trial at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from host.partition import CodingNode, CodingUnit, CuMode
from host.syntax import NNTreeParams
from nntools.encoder.plugin import BlockCodecEncoder, CodedBlock


@dataclass(frozen=True)
class NNSearchConfig:
    """Encoder simplifications (¶185-191): skip the NN trial where it cannot win."""
    min_variance: float = 0.0          # luma variance below which a CU is too flat for the NN to win
    max_host_cost_per_sample: float = 0.0            # host J per luma sample below which NN is not tried
    sizes: tuple[int, ...] = (32, 64, 128)           # CU sizes given an NN trial


@dataclass
class NNCandidate:
    block: CodedBlock                  # the codec's coding of the CU (bits, what its stream writes)
    planes: list[np.ndarray]           # reconstruction per component, CU-sized
    distortion: int                    # SSE over Y, Cb, Cr against the original
    level: int
    residual: int = 0                  # what the NN output is added to (CodingUnit.nn_residual)

    @property
    def bits(self) -> float:
        return self.block.bits


class NNCandidates:
    def __init__(self, encoder: BlockCodecEncoder, params: NNTreeParams, cfg: NNSearchConfig = NNSearchConfig()):
        self.encoder, self.params, self.cfg = encoder, params, cfg
        picture = encoder.picture
        self.org, self.chroma_format, self.bit_depth = picture.original, picture.chroma_format, picture.bit_depth
        self.shift = 1 if self.chroma_format == 1 else 0
        self.delta = 0                  # nn_delta_level the encoder uses for the current CTU
        self._cache: dict[tuple, NNCandidate] = {}       # the current CTU's trials
        self._chosen: dict[tuple, CodedBlock] = {}
        self.trials = 0                 # NN codings run (for the simplification measurements)

    @property
    def level(self) -> int:
        return self.params.base_level + self.delta

    def _original(self, x: int, y: int, size: int) -> list[np.ndarray]:
        planes = [self.org[0][y:y + size, x:x + size]]
        s = self.shift
        for plane in self.org[1:]:
            planes.append(plane[y >> s:(y + size) >> s, x >> s:(x + size) >> s])
        return planes

    def dc_offsets(self, x: int, y: int, log2: int, dc_prediction: list[np.ndarray]) -> list[int]:
        """nn_dc_offset per component: the rounded mean of the original minus the DC prediction."""
        org = self._original(x, y, 1 << log2)
        return [int(np.rint(o.mean())) - int(p[0, 0]) for o, p in zip(org, dc_prediction)]

    def worth_trying(self, x: int, y: int, log2: int, host_cost: float) -> bool:
        size = 1 << log2
        cfg = self.cfg
        if size not in cfg.sizes or host_cost < cfg.max_host_cost_per_sample * size * size:
            return False
        return cfg.min_variance <= 0 or float(np.var(self.org[0][y:y + size, x:x + size])) >= cfg.min_variance

    def candidate(self, x: int, y: int, log2: int, level: int | None = None,
                  residual: tuple[int, list[np.ndarray], Callable] | None = None) -> NNCandidate:
        """The CU coded by the NN at ``level`` (default: the CTU's).  ``residual``: (the CU's
        nn_residual mode, its prediction, the normative function from NN output to samples); such a
        candidate depends on the neighbours' reconstruction, so it is recomputed on every request."""
        level = self.level if level is None else level
        key = (x, y, log2, level, residual[0] if residual is not None else 0)
        if residual is not None or key not in self._cache:
            size = 1 << log2
            org = self._original(x, y, size)
            source = org
            if residual is not None:
                mid, peak = 1 << (self.bit_depth - 1), (1 << self.bit_depth) - 1
                source = [np.clip(o.astype(np.int32) - p + mid, 0, peak) for o, p in zip(org, residual[1])]
            block = self.encoder.code(source, level)
            planes = block.planes if residual is None else residual[2](block.planes)
            distortion = sum(int(np.sum((o.astype(np.int64) - r) ** 2)) for o, r in zip(org, planes))
            self._cache[key] = NNCandidate(block, planes, distortion, level, key[-1])
            self.trials += 1
        return self._cache[key]

    def best_delta(self, nn_cus: list[CodingUnit], lam: float) -> int:
        """nn_delta_level (within ±2 and the model's levels) minimising the NN CUs' J, 0 if none."""
        if not nn_cus:
            return 0
        best = (float("inf"), 0)
        for delta in range(-2, 3):
            level = self.params.base_level + delta
            if 0 <= level < self.params.num_levels:
                cost = 0.0
                for cu in nn_cus:
                    c = self.candidate(cu.x, cu.y, cu.log2_size, level)
                    cost += c.distortion + lam * c.bits
                best = min(best, (cost, delta), key=lambda t: (t[0], abs(t[1])))
        return best[1]

    def commit(self, root: CodingNode) -> None:
        """A CTU is decided: keep the candidates its NN CUs use, forget the rest (bounded memory)."""
        for cu in root.leaves():
            if cu.mode == CuMode.NN:
                key = (cu.x, cu.y, cu.log2_size, cu.nn_level, cu.nn_residual)
                self._chosen[key] = self._cache[key].block
        self._cache.clear()

    def stream(self, cus: list[CodingUnit]) -> bytes:
        """The NN substream of the picture's NN-coded CUs, in decoding order."""
        return self.encoder.stream([self._chosen[(cu.x, cu.y, cu.log2_size, cu.nn_level, cu.nn_residual)]
                                    for cu in cus])
