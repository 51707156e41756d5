"""Coding of a picture or block with the neural tool: latents to bytes and back (normative decode).

An NN stream (nn_latent_stream()) is ``log2_lanes`` (u8) then one rANS stream holding, for each
NN-coded region in decoding order, the passes z (all positions, table = channel), then y stage by
stage (checkerboard: anchors, then the rest; or the four stages), each position's table chosen by its
exact scale index.  Region sizes come from the caller (the picture header, or the coding tree for
NN-coded CUs).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from bitstream.bitio import BitReader
from bitstream.errors import BitstreamError
from bitstream.header_coder import NN_STREAM_CATEGORY, HeaderCoder, HeaderReader
from bitstream.rans import RansDecoder, RansTables
from nntools.architecture import ModelConfig, networks, stage_masks
from nntools.exact import ACT_FRAC, ExactSequential, activation, build_exact
from nntools.zoo import DELTA_FRAC, LOG_SCALE_MIN, LOG_SCALE_STEP, NUM_SCALES, config_of

ALIGN = 16            # luma alignment of NN-coded regions: one latent position per 16x16 luma
MAX_LOG2_LANES = 16


@dataclass
class NNBundle:
    """A loaded model: exact decoder networks, steps and tables (and its integer arrays, from which the
    encoder builds its float analysis transforms)."""
    name: str
    config: ModelConfig
    model_id: bytes
    g_s: ExactSequential
    h_s: ExactSequential
    context: list[ExactSequential]
    entropy_parameters: ExactSequential
    delta: torch.Tensor               # (levels, M) float64 on the grid 2^-DELTA_FRAC
    log_delta: torch.Tensor           # (levels, M) float64 on the grid 2^-ACT_FRAC
    tables: RansTables
    arrays: dict[str, np.ndarray]

    @classmethod
    def from_arrays(cls, name: str, arrays: dict[str, np.ndarray], model_id: bytes) -> "NNBundle":
        cfg = config_of(arrays)
        nets = networks(cfg)
        return cls(
            name, cfg, model_id,
            build_exact(nets["g_s"], arrays, "g_s"), build_exact(nets["h_s"], arrays, "h_s"),
            [build_exact(nets[f"context.{k}"], arrays, f"context.{k}") for k in range(cfg.context_stages)],
            build_exact(nets["entropy_parameters"], arrays, "entropy_parameters"),
            torch.from_numpy(arrays["delta"].astype(np.float64)) / 2.0 ** DELTA_FRAC,
            torch.from_numpy(arrays["log_delta"].astype(np.float64)) / 2.0 ** ACT_FRAC,
            RansTables(arrays["cdfs"], arrays["cdf_lengths"], arrays["cdf_offsets"]),
            arrays,
        )

    @property
    def levels(self) -> int:
        return self.config.levels

    @cached_property
    def level_map(self) -> dict[int, np.ndarray]:
        """Level_Map[bit depth][QP] (``nntools.training.level_map``)."""
        table = self.arrays["level_map"]
        if table.shape != (2, 52) or table.min() < 0 or table.max() >= self.levels:
            raise BitstreamError(f"weights file {self.name}: malformed level_map")
        return {8: table[0], 10: table[1]}

    def stage_masks(self, h: int, w: int) -> list[torch.Tensor]:
        return [m.double() for m in stage_masks(self.config.context, h, w)]


def scale_indices(logsig: torch.Tensor, log_delta: torch.Tensor) -> torch.Tensor:
    """Exact table index of each latent: log σ in symbol units, binned on the scale table's grid."""
    v = (logsig - log_delta - LOG_SCALE_MIN) / LOG_SCALE_STEP   # exact: dyadic values, power-of-two step
    return torch.clamp(torch.floor(v), 0, NUM_SCALES - 1).to(torch.int64)


CONTEXT_REACH = 2      # latent positions around its own that a context convolution (5 x 5) reads


class Neighbours:
    """Decoded ŷ around a region that its context passes read (§7.1: the last rows of the row of patches
    above): ``field`` (1, M, h + 2R, w + 2R) holds them around the h x w region, R = CONTEXT_REACH, zero
    where nothing is decoded.  Each pass sees them through the same stage masks as the region's own
    positions, as in a picture coded in one piece."""

    def __init__(self, bundle: "NNBundle", field: torch.Tensor):
        r = CONTEXT_REACH
        self.inner = (slice(None), slice(None), slice(r, field.shape[2] - r), slice(r, field.shape[3] - r))
        masks = bundle.stage_masks(field.shape[2], field.shape[3])   # R even: the pattern of the region's own
        self.visible = [field * sum(masks[:k]) for k in range(1, len(masks))]

    def context_input(self, inner: torch.Tensor, k: int) -> torch.Tensor:
        """Pass k's context input: the region's masked ŷ ``inner`` inside the visible neighbours."""
        window = self.visible[k - 1].clone()
        window[self.inner] = inner
        return window


@dataclass
class StageParams:
    mu: torch.Tensor
    index: torch.Tensor


class LatentCoder:
    """Runs the exact entropy-model recursion shared by encoder and decoder."""

    def __init__(self, bundle: NNBundle, level: int):
        if not 0 <= level < bundle.levels:
            raise BitstreamError(f"NN level {level} outside 0..{bundle.levels - 1}")
        self.b = bundle
        self.delta = bundle.delta[level].view(1, -1, 1, 1)
        self.log_delta = bundle.log_delta[level].view(1, -1, 1, 1)

    def stage_params(self, hyper: torch.Tensor, y_hat: torch.Tensor, seen: torch.Tensor, k: int,
                     neighbours: Neighbours | None = None) -> StageParams:
        m = self.b.config.latent
        if k == 0:
            ctx = torch.zeros_like(hyper)
        elif neighbours is None:
            ctx = self.b.context[min(k - 1, len(self.b.context) - 1)](y_hat * seen)
        else:
            window = neighbours.context_input(y_hat * seen, k)
            ctx = self.b.context[min(k - 1, len(self.b.context) - 1)](window)[neighbours.inner]
        params = self.b.entropy_parameters(torch.cat([hyper, ctx], dim=1))
        return StageParams(params[:, :m], scale_indices(params[:, m:], self.log_delta))

    def dequantise(self, symbols: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        return activation(symbols * self.delta + mu)


def hyper_features(bundle: NNBundle, z_hat: torch.Tensor, hy: int, wy: int) -> torch.Tensor:
    """h_s(z) cropped to the latent size: z covers ceil(size / 4) positions, so regions need only be
    multiples of 16 luma samples, not 64."""
    return bundle.h_s(z_hat)[:, :, :hy, :wy]


def z_indexes(bundle: NNBundle, z_shape: tuple[int, ...]) -> np.ndarray:
    channels = z_shape[1]
    idx = NUM_SCALES + np.arange(channels, dtype=np.int64).reshape(1, -1, 1, 1)
    return np.broadcast_to(idx, z_shape).reshape(-1)


def select(t: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    return torch.masked_select(t, mask.expand_as(t).bool()).numpy()


def nn_latent_stream(hc: HeaderCoder, log2_lanes: int = 0) -> int:
    """nn_latent_stream() (docs/SYNTAX.md §7, §8's nn_cu_stream()): log2_lanes u(8), at most
    MAX_LOG2_LANES; the rANS words of every pass of every region follow."""
    hc.category = NN_STREAM_CATEGORY
    log2_lanes = hc.u("log2_lanes", log2_lanes, 8)
    if log2_lanes > MAX_LOG2_LANES:
        raise BitstreamError(f"NN substream: log2_lanes {log2_lanes} > {MAX_LOG2_LANES}")
    return log2_lanes


def open_stream(bundle: NNBundle, payload: bytes, trace_sink=None, meter: bool = False) -> RansDecoder:
    """Parse nn_latent_stream()'s log2_lanes and open its rANS stream (``meter``: counting the bits read)."""
    if not payload:
        raise BitstreamError("empty NN payload")
    log2_lanes = nn_latent_stream(HeaderReader(BitReader(payload[:1], "NN substream"), trace_sink))
    return RansDecoder(payload[1:], bundle.tables, lanes=1 << log2_lanes, meter=meter)


def decode_region(bundle: NNBundle, dec: RansDecoder, height: int, width: int, level: int) -> torch.Tensor:
    """The passes of one region (z, then y stage by stage) from an open stream -> exact synthesis output
    for an input of (6, height, width) half-resolution samples."""
    return bundle.g_s(decode_latent_region(bundle, dec, height, width, level))


def decode_latent_region(bundle: NNBundle, dec: RansDecoder, height: int, width: int, level: int,
                         neighbours: Neighbours | None = None) -> torch.Tensor:
    """The latent ŷ of one region (its synthesis may then run batched with other regions'); a patch's
    context passes also read its decoded ``neighbours`` (``nntools.patches.above``)."""
    coder = LatentCoder(bundle, level)
    cfg = bundle.config
    hy, wy = height // 8, width // 8
    z_shape = (1, cfg.hyper, -(-hy // 4), -(-wy // 4))
    z_hat = torch.from_numpy(dec.decode_pass(z_indexes(bundle, z_shape)).astype(np.float64)).view(z_shape)
    hyper = hyper_features(bundle, z_hat, hy, wy)
    masks = bundle.stage_masks(hy, wy)
    y_hat = torch.zeros((1, cfg.latent, hy, wy), dtype=torch.float64)
    seen = torch.zeros_like(masks[0])
    for k, mask in enumerate(masks):
        p = coder.stage_params(hyper, y_hat, seen, k, neighbours)
        values = dec.decode_pass(select(p.index, mask))
        symbols = torch.zeros_like(y_hat).masked_scatter(
            mask.expand_as(y_hat).bool(), torch.from_numpy(values.astype(np.float64)))
        y_hat = y_hat + coder.dequantise(symbols, p.mu) * mask
        seen = seen + mask
    return y_hat


def decode_latents(bundle: NNBundle, payload: bytes, height: int, width: int, level: int,
                   trace_sink=None) -> torch.Tensor:
    """The latent ŷ of one region alone in a stream (whole-picture NN coding)."""
    dec = open_stream(bundle, payload, trace_sink)
    y_hat = decode_latent_region(bundle, dec, height, width, level)
    dec.finish()
    return y_hat
