"""The scale hyperprior as a hybridcodec block codec: both sides of the plugin interface.

Substream (this plugin's own syntax): log2_lanes u(8), then one rANS stream (hybridcodec's
``bitstream.rans``, integer CDF tables stored with the weights) holding, per region in decoding order,
z (table = channel) and then y (table = the scale-table bin of its predicted scale).  The decoder runs
the float networks, as CompressAI's models do: the scale bin of a latent comes from a float h_s, so
another machine could pick another table and decode garbage.  Hence ``deterministic = False``, and the
codec marks its streams nn_nondeterministic_flag = 1.

Planes to the network: Y, Cb, Cr at full resolution in [0, 1] (4:2:0 chroma repeated 2x2, 4:0:0 with
neutral chroma), edge-padded to a multiple of 16; back: rounded, 4:2:0 chroma averaged over 2x2.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bitstream.bitio import BitReader
from bitstream.errors import BitstreamError
from bitstream.header_coder import NN_STREAM_CATEGORY, HeaderReader, HeaderWriter
from bitstream.rans import RansDecoder, RansEncoder, RansTables, estimate_bits, lane_count_for
from nntools.encoder.plugin import BlockCodecEncoder, CodedBlock, PictureContext
from nntools.plugin import BlockCodec
from nntools.weights_id import model_id

from hybridcodec_example_plugin.model import Config, ScaleHyperprior

NAME = "example-hyperprior"
ALIGN = 16
MAX_LOG2_LANES = 16


def planes_to_tensor(planes: list[np.ndarray], chroma_format: int, bit_depth: int) -> torch.Tensor:
    h, w = planes[0].shape
    peak = float((1 << bit_depth) - 1)
    if chroma_format == 0:
        chroma = [np.full((h, w), (1 << (bit_depth - 1)), np.float32)] * 2
    elif chroma_format == 1:
        chroma = [np.repeat(np.repeat(c, 2, 0), 2, 1)[:h, :w] for c in planes[1:]]
    else:
        chroma = planes[1:]
    x = torch.from_numpy(np.stack([planes[0]] + list(chroma)).astype(np.float32) / peak)[None]
    return F.pad(x, (0, -w % ALIGN, 0, -h % ALIGN), mode="replicate")


def tensor_to_planes(x: torch.Tensor, chroma_format: int, bit_depth: int, h: int, w: int) -> list[np.ndarray]:
    peak = (1 << bit_depth) - 1
    x = torch.clamp(torch.round(x[0, :, :h, :w] * peak), 0, peak).to(torch.int32).numpy()
    if chroma_format == 0:
        return [x[0]]
    if chroma_format == 3:
        return [x[0], x[1], x[2]]
    out = [x[0]]
    for c in x[1:]:
        c = np.pad(c.astype(np.int64), ((0, h % 2), (0, w % 2)), mode="edge")
        out.append(((c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2] + 2) >> 2).astype(np.int32))
    return out


class ExampleHyperprior(BlockCodec):
    name = NAME
    deterministic = False

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays
        self.cfg = Config(**json.loads(arrays["config"].tobytes().decode()))
        self.levels = self.cfg.levels
        self.net = ScaleHyperprior(self.cfg).eval()
        state = {k[len("param."):]: torch.from_numpy(v.astype(np.float32)) for k, v in arrays.items()
                 if k.startswith("param.")}
        self.net.load_state_dict(state)
        self.tables = joint_tables(arrays)           # z's tables (one per channel), then y's (one per scale bin)
        self.y_table_base = len(arrays["z_cdf_lengths"])
        self.scale_table = torch.from_numpy(arrays["scale_table"].astype(np.float32))
        self._id = model_id(arrays)

    @property
    def model_id(self) -> bytes:
        return self._id

    @property
    def level_map(self) -> dict[int, np.ndarray]:
        table = self.arrays["level_map"]
        return {8: table[0], 10: table[1]}

    # -- the shared float path ------------------------------------------------------------------
    def y_indexes(self, z_hat: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        """The scale-table bin of every latent: the smallest table scale at least its predicted scale."""
        scale = self.net.scales(z_hat, shape)
        return torch.clamp(torch.bucketize(scale, self.scale_table), 0, len(self.scale_table) - 1)

    def synthesis(self, y_hat: torch.Tensor, level: int) -> torch.Tensor:
        return self.net.g_s(y_hat / torch.abs(self.net.gain[level])[None, :, None, None])

    def open_regions(self, payload: bytes, chroma_format: int, bit_depth: int, trace_sink=None,
                     meter: bool = False) -> "Regions":
        if not payload:
            raise BitstreamError(f"{NAME}: empty payload")
        hr = HeaderReader(BitReader(payload[:1], f"{NAME} substream"), trace_sink)
        hr.category = NN_STREAM_CATEGORY
        log2_lanes = hr.u("log2_lanes", 0, 8)
        if log2_lanes > MAX_LOG2_LANES:
            raise BitstreamError(f"{NAME}: log2_lanes {log2_lanes} > {MAX_LOG2_LANES}")
        rans = RansDecoder(payload[1:], self.tables, lanes=1 << log2_lanes, meter=meter)
        return Regions(self, rans, chroma_format, bit_depth)

    def encoder(self, picture: PictureContext) -> "ExampleEncoder":
        return ExampleEncoder(self, picture)


def joint_tables(arrays: dict[str, np.ndarray]) -> RansTables:
    width = max(arrays["z_cdfs"].shape[1], arrays["y_cdfs"].shape[1])
    padded = [np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=1 << 16)
              for a in (arrays["z_cdfs"], arrays["y_cdfs"])]
    return RansTables(np.concatenate(padded), np.concatenate([arrays["z_cdf_lengths"], arrays["y_cdf_lengths"]]),
                      np.concatenate([arrays["z_offsets"], arrays["y_offsets"]]))


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def latent_shapes(codec: ExampleHyperprior, height: int, width: int) -> tuple[tuple, tuple]:
    """y: one position per 16x16 samples; z: h_a's two stride-2 convolutions on y."""
    hy, wy = ceil_div(height, ALIGN), ceil_div(width, ALIGN)
    return (1, codec.cfg.M, hy, wy), (1, codec.cfg.N, ceil_div(ceil_div(hy, 2), 2), ceil_div(ceil_div(wy, 2), 2))


def z_indexes(shape: tuple) -> np.ndarray:
    return np.broadcast_to(np.arange(shape[1]).reshape(1, -1, 1, 1), shape).reshape(-1)


class Regions:
    """Regions in decoding order from the open stream; ``bits``: the ideal code length read, if metered."""

    def __init__(self, codec: ExampleHyperprior, rans: RansDecoder, chroma_format: int, bit_depth: int):
        self.codec, self.rans, self.chroma_format, self.bit_depth = codec, rans, chroma_format, bit_depth

    @property
    def bits(self) -> float | None:
        return self.rans.bits

    def decode(self, height: int, width: int, level: int) -> list[np.ndarray]:
        codec = self.codec
        if not 0 <= level < codec.levels:
            raise BitstreamError(f"{NAME}: level {level} outside 0..{codec.levels - 1}")
        y_shape, z_shape = latent_shapes(codec, height, width)
        with torch.no_grad():
            z_hat = torch.from_numpy(self.rans.decode_pass(z_indexes(z_shape)).astype(np.float32)).view(z_shape)
            idx = codec.y_indexes(z_hat, y_shape[2:]).numpy().reshape(-1) + codec.y_table_base
            y_hat = torch.from_numpy(self.rans.decode_pass(idx).astype(np.float32)).view(y_shape)
            x_hat = codec.synthesis(y_hat, level)
        return tensor_to_planes(x_hat, self.chroma_format, self.bit_depth, height, width)

    def finish(self) -> None:
        self.rans.finish()


class ExampleEncoder(BlockCodecEncoder):
    """Rounding (no RDOQ), as CompressAI's ``compress``; the reconstruction is the decoder's float path."""

    def code(self, planes: list[np.ndarray], level: int) -> CodedBlock:
        codec, p = self.codec, self.picture
        h, w = planes[0].shape
        with torch.no_grad():
            x = planes_to_tensor(planes, p.chroma_format, p.bit_depth)
            y = torch.round(codec.net.g_a(x) * torch.abs(codec.net.gain[level])[None, :, None, None])
            z = torch.round(codec.net.h_a(torch.abs(y)))
            z_idx = z_indexes(tuple(z.shape))
            y_idx = codec.y_indexes(z, y.shape[2:]).numpy().reshape(-1) + codec.y_table_base
            x_hat = codec.synthesis(y, level)
        passes = [(z.numpy().reshape(-1).astype(np.int32), z_idx), (y.numpy().reshape(-1).astype(np.int32), y_idx)]
        bits = sum(estimate_bits(s, i, codec.tables) for s, i in passes)
        return CodedBlock(tensor_to_planes(x_hat, p.chroma_format, p.bit_depth, h, w), bits, passes)

    def stream(self, blocks: list[CodedBlock]) -> bytes:
        rans = RansEncoder(self.codec.tables)
        for block in blocks:
            for symbols, indexes in block.data:
                rans.encode_pass(symbols, indexes)
        lanes = lane_count_for(sum(b.bits for b in blocks))
        hw = HeaderWriter()
        hw.u("log2_lanes", lanes.bit_length() - 1, 8)
        return hw.output() + rans.finish(lanes)


def load_file(path: str | Path) -> ExampleHyperprior:
    with np.load(path, allow_pickle=False) as f:
        return ExampleHyperprior({k: f[k] for k in f.files})
