"""The loop filter's decoding process (normative): an integer CNN run exactly in float32.

Numbers (every one an integer; the weights file fixes the per-layer choices and is hash-bound):

* Input planes, half resolution, ``IN_FRAC`` fractional bits: each 4:2:0 sample at 10-bit scale minus
  512 (four luma phases, Cb, Cr), the QP plane ``(pic_qp - 32) * 16`` and, if the model has one, the
  edge plane (512 where a 2x2 luma block touches a deblocked transform edge, else 0).
* Hidden layers: ``A' = Clip3(0, act_max, (conv(A, w) + b + 2^(k-1)) >> k)`` with int16 weights,
  integer biases and one right shift ``k >= 1`` per output channel.  The export guarantees, per output
  channel, ``sum|w| * max|A| + |b| + 2^(k-1) < 2^23``: every partial sum of the convolution is then an
  integer that float32 holds exactly, whatever the summation order, so the result does not depend on
  the thread count, the convolution algorithm's blocking or the tiling.
* Output layer: the correction in 1/2^OUT_FRAC of a 10-bit sample, clipped to +-CORR_LIMIT.
* Geometric ensemble: with ``NnLfNumTransforms`` n > 1 the network also runs on the picture flipped
  and transposed (``TRANSFORMS``, the first n), each correction is turned back, and the picture takes
  ``(sum + n/2) >> log2(n)``: the average of n estimates is a better one, for n network runs and no
  extra weights.
* Samples: each becomes ``Clip1(rec + ((corr * nn_lf_scale[c] + 2^(s-1)) >> s))`` with
  ``s = OUT_FRAC + SCALE_FRAC + 10 - BitDepth``.

Every convolution zero-pads its input at the picture border (the coded picture).  A network of L
layers sees L half-resolution samples each side, so a tile computed with a halo of L samples (clipped
at the picture border) is exact in its interior: tiled and whole-picture filtering give the same
samples.  4:4:4 chroma enters as the rounded 2x2 mean ``(a + b + c + d + 2) >> 2``; 4:0:0 as 512
(mid-grey); in both only luma is filtered.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from bitstream.container import NN_LF_NUM_TRANSFORMS
from bitstream.errors import BitstreamError
from nntools.weights_id import model_id

IN_FRAC = 9
OUT_FRAC = 4
SCALE_FRAC = 6                      # nn_lf_scale: 64 = 1.0
CORR_LIMIT = 1 << (9 + OUT_FRAC)    # +-512 samples at 10-bit scale
ACC_LIMIT = 1 << 23
TILE = 384                          # half-resolution samples per tile side (768 luma); any value gives the same output
# The transforms of the geometric ensemble in their normative order: "t" transposes the picture, "h"
# reverses its columns, "v" its rows, applied left to right to the input and undone in reverse order
# on the correction.  The first four are the flips (no transposition for n <= 4).
TRANSFORMS = ((), ("h",), ("v",), ("h", "v"), ("t",), ("t", "h"), ("t", "v"), ("t", "h", "v"))
# Where each luma phase channel (0,0) (0,1) (1,0) (1,1) goes under each transform of the full-resolution
# picture (its width and height are even): a flip or a transposition of the half-resolution grid
# that also exchanges phases.
LUMA_PHASES = {"h": [1, 0, 3, 2], "v": [2, 3, 0, 1], "t": [0, 2, 1, 3]}


SAMPLE_CHANNELS = 6           # Y phases (0,0) (0,1) (1,0) (1,1), Cb, Cr at half resolution


@dataclass(frozen=True)
class FilterConfig:
    channels: int = 32
    layers: int = 8               # convolutions, first and last included (receptive radius = layers)
    qp_plane: bool = True
    edge_plane: bool = False

    @property
    def in_channels(self) -> int:
        return SAMPLE_CHANNELS + int(self.qp_plane) + int(self.edge_plane)

    def macs_per_luma_sample(self) -> int:
        """Multiply-accumulates per luma sample (a half-resolution position covers four)."""
        c = self.channels
        per_position = 9 * (self.in_channels * c + (self.layers - 2) * c * c + c * SAMPLE_CHANNELS)
        return per_position // 4

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "FilterConfig":
        return cls(**json.loads(text))


@dataclass
class ExactLayer:
    weight: torch.Tensor            # float32 holding int16 values, (O, I, 3, 3)
    bias: torch.Tensor              # float32 holding integers, (O,)
    shift: torch.Tensor             # int, (O,)

    def __post_init__(self) -> None:
        # The rounding offset 2^(k-1) joins the bias (the accumulation bound counts both, so the sum stays
        # exact) and the shift is a multiplication by 2^-k (exact for a float32 below 2^23); channels-last
        # kernels run about 25% faster here and give the same integers.
        self._kernel = self.weight.contiguous(memory_format=torch.channels_last)
        self._bias = self.bias + torch.exp2(self.shift.float() - 1.0)
        self._scale = torch.exp2(-self.shift.float()).view(1, -1, 1, 1)

    def __call__(self, a: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        acc = F.conv2d(a, self._kernel, self._bias, padding=1)
        return acc.mul_(self._scale).floor_().clamp_(lo, hi)


@dataclass
class LoopFilterWeights:
    """A loop-filter model as the decoder holds it."""
    name: str
    cfg: FilterConfig
    layers: list[ExactLayer]
    act_max: int
    model_id: bytes

    @classmethod
    def from_arrays(cls, name: str, arrays: dict[str, np.ndarray]) -> "LoopFilterWeights":
        cfg = FilterConfig.from_json(arrays["config"].tobytes().decode())
        act_max = int(arrays["act_max"])
        layers = []
        for i in range(cfg.layers):
            w, b = arrays[f"conv{i}.w"], arrays[f"conv{i}.b"]
            k = arrays[f"conv{i}.shift"].astype(np.int64)      # stored as int8: 1 << (k - 1) would wrap
            if np.any(k < 1) or np.any(k > 23):
                raise BitstreamError(f"loop filter {name}: layer {i} shifts outside 1..23")
            in_max = act_max if i else (1 << IN_FRAC)
            bound = (np.abs(w.astype(np.int64)).sum(axis=(1, 2, 3)) * in_max + np.abs(b.astype(np.int64))
                     + (1 << (k - 1)))
            if np.any(bound >= ACC_LIMIT):
                raise BitstreamError(f"loop filter {name}: layer {i} could overflow the exact float32 range")
            layers.append(ExactLayer(torch.from_numpy(w.astype(np.float32)), torch.from_numpy(b.astype(np.float32)),
                                     torch.from_numpy(k)))
        return cls(name, cfg, layers, act_max, model_id(arrays))

    @property
    def halo(self) -> int:
        return self.cfg.layers

    def correction(self, x: torch.Tensor) -> torch.Tensor:
        """The network on one input block (1, in_channels, h, w): the integer correction (1, 6, h, w)."""
        with torch.no_grad():
            x = x.contiguous(memory_format=torch.channels_last)
            for layer in self.layers[:-1]:
                x = layer(x, 0.0, float(self.act_max))
            return self.layers[-1](x, -float(CORR_LIMIT), float(CORR_LIMIT)).contiguous()


def edge_plane(edge_ver: np.ndarray, edge_hor: np.ndarray, half_h: int, half_w: int) -> np.ndarray:
    """1 where a half-resolution position's 2x2 luma block touches a deblocked edge.

    ``edge_ver`` (H/4, W/8): vertical edge at x = 8k over luma rows 4r..4r+3; ``edge_hor`` (H/8, W/4)."""
    rows, cols = np.arange(half_h), np.arange(half_w)
    out = np.zeros((half_h, half_w), dtype=bool)
    for offset in (0, 2):            # the block starts at the edge, or ends just before it
        xs = 2 * cols + offset
        on = (xs % 8 == 0) & (xs // 8 < edge_ver.shape[1])
        out[:, on] |= edge_ver[(2 * rows) // 4][:, xs[on] // 8]
        ys = 2 * rows + offset
        on = (ys % 8 == 0) & (ys // 8 < edge_hor.shape[0])
        out[on, :] |= edge_hor[ys[on] // 8][:, (2 * cols) // 4]
    return out


def input_block(planes: list[np.ndarray], chroma_format: int, bit_depth: int, qp: int, cfg: FilterConfig,
                y0: int, y1: int, x0: int, x1: int, edges: np.ndarray | None = None) -> torch.Tensor:
    """The network's integer input for half-resolution rows y0..y1-1 and columns x0..x1-1."""
    up = 10 - bit_depth
    luma = planes[0][2 * y0:2 * y1, 2 * x0:2 * x1].astype(np.int32) << up
    chans = [luma[0::2, 0::2], luma[0::2, 1::2], luma[1::2, 0::2], luma[1::2, 1::2]]
    for c in (1, 2):
        if chroma_format == 1:
            chans.append(planes[c][y0:y1, x0:x1].astype(np.int32) << up)
        elif chroma_format == 3:
            p = planes[c][2 * y0:2 * y1, 2 * x0:2 * x1].astype(np.int32)
            chans.append(((p[0::2, 0::2] + p[0::2, 1::2] + p[1::2, 0::2] + p[1::2, 1::2] + 2) >> 2) << up)
        else:
            chans.append(np.full_like(chans[0], 512))
    x = np.stack(chans) - 512
    extra = []
    if cfg.qp_plane:
        extra.append(np.full((1,) + x.shape[1:], (qp - 32) * 16, dtype=np.int32))
    if cfg.edge_plane:
        extra.append((edges[None, y0:y1, x0:x1].astype(np.int32)) << IN_FRAC)
    x = np.concatenate([x] + extra) if extra else x
    return torch.from_numpy(x.astype(np.float32))[None]


def tiles(half_h: int, half_w: int, tile: int = TILE):
    """Tile rectangles (y0, y1, x0, x1) in half-resolution samples, raster order."""
    for y in range(0, half_h, tile):
        for x in range(0, half_w, tile):
            yield y, min(y + tile, half_h), x, min(x + tile, half_w)


def _transform(x: torch.Tensor, op: str) -> torch.Tensor:
    """One flip or the transposition (``op`` of ``TRANSFORMS``) of a half-resolution stack (1, C, h, w)
    whose first four channels are the luma phases: the stack of the transformed picture."""
    x = x[:, LUMA_PHASES[op] + list(range(4, x.shape[1]))]
    return x.flip(3) if op == "h" else x.flip(2) if op == "v" else x.transpose(2, 3)


def transform_stack(x: torch.Tensor, ops: tuple[str, ...]) -> torch.Tensor:
    """The stack of the picture transformed by ``ops`` (one entry of ``TRANSFORMS``)."""
    for op in ops:
        x = _transform(x, op)
    return x


def untransform_stack(c: torch.Tensor, ops: tuple[str, ...]) -> torch.Tensor:
    """``transform_stack`` undone (each flip and the transposition is its own inverse)."""
    for op in reversed(ops):
        c = _transform(c, op)
    return c


def transformed_correction(weights: LoopFilterWeights, x: torch.Tensor, ops: tuple[str, ...]) -> torch.Tensor:
    """The network's correction (1, 6, h, w) of the input block transformed by ``ops``, turned back."""
    return untransform_stack(weights.correction(transform_stack(x, ops)), ops)


def ensemble_correction(weights: LoopFilterWeights, x: torch.Tensor, transforms: int) -> torch.Tensor:
    """The correction (1, 6, h, w) of an input block, averaged over the first ``transforms`` (1, 2, 4
    or 8) of ``TRANSFORMS``: ``(sum + n/2) >> log2(n)`` (sums of at most 8 * 2^13 = 2^16, exact in float32)."""
    if transforms not in NN_LF_NUM_TRANSFORMS:
        raise ValueError(f"NnLfNumTransforms is one of {NN_LF_NUM_TRANSFORMS}, not {transforms}")
    total = sum(transformed_correction(weights, x, ops) for ops in TRANSFORMS[:transforms])
    return total if transforms == 1 else torch.floor((total + transforms // 2) / transforms)


def tile_correction(weights: LoopFilterWeights, planes: list[np.ndarray], chroma_format: int, bit_depth: int,
                    qp: int, rect: tuple[int, int, int, int], edges: np.ndarray | None,
                    transforms: int) -> np.ndarray:
    """The correction (6, h, w) of one tile, computed with a halo of ``weights.halo`` samples (every
    transform of the ensemble maps the halo onto a halo, so the interior stays exact)."""
    y0, y1, x0, x1 = rect
    half_h, half_w = planes[0].shape[0] // 2, planes[0].shape[1] // 2
    h = weights.halo
    ey0, ey1, ex0, ex1 = max(0, y0 - h), min(half_h, y1 + h), max(0, x0 - h), min(half_w, x1 + h)
    x = input_block(planes, chroma_format, bit_depth, qp, weights.cfg, ey0, ey1, ex0, ex1, edges)
    corr = ensemble_correction(weights, x, transforms)[0].numpy().astype(np.int32)
    return corr[:, y0 - ey0:y1 - ey0, x0 - ex0:x1 - ex0]


def apply_correction(rec: np.ndarray, corr: np.ndarray, scale: int, bit_depth: int) -> np.ndarray:
    """Clip1(rec + ((corr * scale + 2^(s-1)) >> s)) for one component's block."""
    s = OUT_FRAC + SCALE_FRAC + 10 - bit_depth
    delta = (corr.astype(np.int64) * scale + (1 << (s - 1))) >> s
    return np.clip(rec + delta, 0, (1 << bit_depth) - 1).astype(rec.dtype)


def luma_correction(corr: np.ndarray) -> np.ndarray:
    """The four luma phase channels of a correction, interleaved back to full resolution."""
    h, w = corr.shape[1:]
    out = np.empty((2 * h, 2 * w), dtype=corr.dtype)
    out[0::2, 0::2], out[0::2, 1::2], out[1::2, 0::2], out[1::2, 1::2] = corr[0], corr[1], corr[2], corr[3]
    return out

