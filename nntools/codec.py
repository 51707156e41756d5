"""Coding of a picture or block with the neural tool: latents to bytes and back (normative decode).

Payload of one NN-coded region: ``log2_lanes`` (u8) then one rANS stream with the passes
z (all positions, table = channel), then y stage by stage (checkerboard: anchors, then the rest; or the
four stages), each position's table chosen by its exact scale index.  Dimensions come from the caller
(the region size is known from the picture header or the coding tree).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bitstream.errors import BitstreamError
from bitstream.rans import RansDecoder, RansEncoder, RansTables, estimate_bits, lane_count_for
from nntools.exact import ACT_FRAC, ExactSequential, activation, build_exact
from nntools.model import ModelConfig, NNCodecModel
from nntools.zoo import DELTA_FRAC, LOG_SCALE_MIN, LOG_SCALE_STEP, NUM_SCALES, config_of, float_model

ALIGN = 64            # luma alignment of NN-coded regions: z is 1/64 of luma


@dataclass
class NNBundle:
    """A loaded model: exact decoder networks, encoder analysis networks, steps and tables."""
    name: str
    config: ModelConfig
    model_id: bytes
    analysis: NNCodecModel            # float; encoder-only use of g_a and h_a
    g_s: ExactSequential
    h_s: ExactSequential
    context: list[ExactSequential]
    entropy_parameters: ExactSequential
    delta: torch.Tensor               # (levels, M) float64 on the grid 2^-DELTA_FRAC
    log_delta: torch.Tensor           # (levels, M) float64 on the grid 2^-ACT_FRAC
    tables: RansTables

    @classmethod
    def from_arrays(cls, name: str, arrays: dict[str, np.ndarray], model_id: bytes) -> "NNBundle":
        cfg = config_of(arrays)
        skeleton = NNCodecModel(cfg)
        analysis = float_model(arrays).eval()
        return cls(
            name, cfg, model_id, analysis,
            build_exact(skeleton.g_s, arrays, "g_s"), build_exact(skeleton.h_s, arrays, "h_s"),
            [build_exact(c, arrays, f"context.{i}") for i, c in enumerate(skeleton.context)],
            build_exact(skeleton.entropy_parameters, arrays, "entropy_parameters"),
            torch.from_numpy(arrays["delta"].astype(np.float64)) / 2.0 ** DELTA_FRAC,
            torch.from_numpy(arrays["log_delta"].astype(np.float64)) / 2.0 ** ACT_FRAC,
            RansTables(arrays["cdfs"], arrays["cdf_lengths"], arrays["cdf_offsets"]),
        )

    @property
    def levels(self) -> int:
        return self.config.levels

    def stage_masks(self, h: int, w: int) -> list[torch.Tensor]:
        return [m.double() for m in self.analysis.stage_masks(h, w)]


def scale_indices(logsig: torch.Tensor, log_delta: torch.Tensor) -> torch.Tensor:
    """Exact table index of each latent: log σ in symbol units, binned on the scale table's grid."""
    v = (logsig - log_delta - LOG_SCALE_MIN) / LOG_SCALE_STEP   # exact: dyadic values, power-of-two step
    return torch.clamp(torch.floor(v), 0, NUM_SCALES - 1).to(torch.int64)


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

    def stage_params(self, hyper: torch.Tensor, y_hat: torch.Tensor, seen: torch.Tensor, k: int) -> StageParams:
        m = self.b.config.latent
        if k == 0:
            ctx = torch.zeros_like(hyper)
        else:
            ctx = self.b.context[min(k - 1, len(self.b.context) - 1)](y_hat * seen)
        params = self.b.entropy_parameters(torch.cat([hyper, ctx], dim=1))
        return StageParams(params[:, :m], scale_indices(params[:, m:], self.log_delta))

    def dequantise(self, symbols: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        return activation(symbols * self.delta + mu)


def _z_indexes(bundle: NNBundle, z_shape: tuple[int, ...]) -> np.ndarray:
    channels = z_shape[1]
    idx = NUM_SCALES + np.arange(channels, dtype=np.int64).reshape(1, -1, 1, 1)
    return np.broadcast_to(idx, z_shape).reshape(-1)


def _select(t: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    return torch.masked_select(t, mask.expand_as(t).bool()).numpy()


def encode_latents(bundle: NNBundle, x: torch.Tensor, level: int) -> tuple[bytes, torch.Tensor]:
    """x: (1, 6, H, W) in [-0.5, 0.5], H and W multiples of ALIGN/2.  Returns (payload, exact x_hat)."""
    coder = LatentCoder(bundle, level)
    with torch.no_grad():
        y = bundle.analysis.g_a(x.float()).double()
        z_hat = torch.round(bundle.analysis.h_a(y.float()).double())
    hyper = bundle.h_s(z_hat)
    masks = bundle.stage_masks(y.shape[2], y.shape[3])
    y_hat = torch.zeros_like(y)
    seen = torch.zeros_like(masks[0])
    passes = [(z_hat.numpy().reshape(-1).astype(np.int64), _z_indexes(bundle, tuple(z_hat.shape)))]
    for k, mask in enumerate(masks):
        p = coder.stage_params(hyper, y_hat, seen, k)
        symbols = torch.round((y - p.mu) / coder.delta)
        y_hat = y_hat + coder.dequantise(symbols, p.mu) * mask
        passes.append((_select(symbols, mask).astype(np.int64), _select(p.index, mask)))
        seen = seen + mask
    x_hat = bundle.g_s(y_hat)
    ideal = sum(estimate_bits(s, i, bundle.tables) for s, i in passes)
    lanes = lane_count_for(ideal)
    enc = RansEncoder(bundle.tables, lanes=lanes)
    for s, i in passes:
        enc.encode_pass(s, i)
    return bytes([lanes.bit_length() - 1]) + enc.finish(), x_hat


def decode_latents(bundle: NNBundle, payload: bytes, height: int, width: int, level: int) -> torch.Tensor:
    """Inverse of encode_latents for an input of (6, height, width) half-resolution samples."""
    if not payload:
        raise BitstreamError("empty NN payload")
    log2_lanes = payload[0]
    if log2_lanes > 16:
        raise BitstreamError(f"NN payload: log2_lanes {log2_lanes} > 16")
    coder = LatentCoder(bundle, level)
    cfg = bundle.config
    hy, wy = height // 8, width // 8
    z_shape = (1, cfg.hyper, hy // 4, wy // 4)
    dec = RansDecoder(payload[1:], bundle.tables, lanes=1 << log2_lanes)
    z_hat = torch.from_numpy(dec.decode_pass(_z_indexes(bundle, z_shape)).astype(np.float64)).view(z_shape)
    hyper = bundle.h_s(z_hat)
    masks = bundle.stage_masks(hy, wy)
    y_hat = torch.zeros((1, cfg.latent, hy, wy), dtype=torch.float64)
    seen = torch.zeros_like(masks[0])
    for k, mask in enumerate(masks):
        p = coder.stage_params(hyper, y_hat, seen, k)
        values = dec.decode_pass(_select(p.index, mask))
        symbols = torch.zeros_like(y_hat).masked_scatter(
            mask.expand_as(y_hat).bool(), torch.from_numpy(values.astype(np.float64)))
        y_hat = y_hat + coder.dequantise(symbols, p.mu) * mask
        seen = seen + mask
    dec.finish()
    return bundle.g_s(y_hat)
