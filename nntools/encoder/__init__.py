"""Encoder side of the neural tool (encoder-only): analysis transforms and latent quantisation.

The entropy-model recursion it runs is the normative one of ``nntools.codec``, so the symbols it
chooses decode to exactly the reconstruction it returns.  Regions are coded in batches (every CU
candidate of a CTU at once); the exact networks give each item the result it would get alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bitstream.rans import RansEncoder, estimate_bits, lane_count_for
from bitstream.header_coder import HeaderWriter
from nntools.codec import LatentCoder, NNBundle, hyper_features, nn_latent_stream, select, z_indexes
from nntools.picture import nn_picture, output_to_planes
from nntools.encoder.rdoq import RDOQ_SCALE, Rdoq, rdoq_symbols, synthesis_gains
from nntools.encoder.refine import RefineConfig, refine_latents
from nntools.training.export import float_model
from nntools.training.level_map import training_slopes
from nntools.training.model import NNCodecModel

Pass = tuple[np.ndarray, np.ndarray]      # (symbols, table indexes) of one rANS pass


def _written(syntax, value: int) -> bytes:
    """The bytes of a one-element prefix syntax function (nn_picture(), nn_latent_stream())."""
    hw = HeaderWriter()
    syntax(hw, value)
    return hw.output()
_ANALYSIS: dict[tuple[str, bytes], NNCodecModel] = {}


def analysis(bundle: NNBundle) -> NNCodecModel:
    """The float model with the bundle's stored parameters, for the analysis transforms (built once)."""
    key = (bundle.name, bundle.model_id)
    if key not in _ANALYSIS:
        _ANALYSIS[key] = float_model(bundle.arrays).eval()
    return _ANALYSIS[key]


@dataclass
class CodedRegion:
    passes: list[Pass]
    bits: float                 # ideal code length of the passes (the stream adds its flush words)
    x_hat: torch.Tensor         # (1, 6, H, W) exact synthesis output, as the decoder computes it


def code_regions(bundle: NNBundle, x: torch.Tensor, level: int, refine: RefineConfig | None = None,
                 lam_sse: float = 0.0, peak: int = 255, rdoq_scale: float = RDOQ_SCALE,
                 gains: torch.Tensor | None = None) -> list[CodedRegion]:
    """x: (B, 6, H, W) in [-0.5, 0.5], H and W multiples of 8.  One CodedRegion per batch item.

    The latents are quantised for J = SSE + lam_sse·bits (sample units of ``peak``; ``nntools.encoder.rdoq``,
    plain rounding when lam_sse or rdoq_scale is 0), with the synthesis ``gains`` of ``input_gains``
    (estimated on x when not given).  With an active ``refine`` they are also optimised for that J at
    each learning rate, and each item keeps the coding of lowest J, the unrefined one included:
    refinement never makes an item's J worse."""
    with torch.no_grad():
        y = analysis(bundle).g_a(x.float()).double()
        z_hat = torch.round(analysis(bundle).h_a(y.float()).double())
    rdoq = Rdoq(lam_sse, peak, rdoq_scale)
    if rdoq.active and gains is None:
        gains = synthesis_gains(analysis(bundle).g_s, y)
    best = quantise_regions(bundle, y, z_hat, level, rdoq, gains)
    if refine is None or not refine.active:
        return best

    def cost(region: CodedRegion, b: int) -> float:
        return peak ** 2 * float(((region.x_hat - x[b:b + 1]) ** 2).sum()) + lam_sse * region.bits

    best_cost = [cost(r, b) for b, r in enumerate(best)]
    for lr in refine.lrs:
        y, z_hat = refine_latents(analysis(bundle), x, level, lam_sse, peak, lr, refine)
        for b, region in enumerate(quantise_regions(bundle, y, z_hat, level, rdoq, gains)):
            c = cost(region, b)
            if c < best_cost[b]:
                best[b], best_cost[b] = region, c
    return best


def input_gains(bundle: NNBundle, x: torch.Tensor) -> torch.Tensor:
    """The RDOQ synthesis gains (``nntools.encoder.rdoq.synthesis_gains``) at the latents of x, for callers that
    code many small regions of one picture and estimate them once, on a larger piece of it."""
    with torch.no_grad():
        y = analysis(bundle).g_a(x.float())
    return synthesis_gains(analysis(bundle).g_s, y)


def quantise_regions(bundle: NNBundle, y: torch.Tensor, z_hat: torch.Tensor, level: int,
                     rdoq: Rdoq | None = None, gains: torch.Tensor | None = None) -> list[CodedRegion]:
    """Symbols of given latents through the normative entropy-model recursion, and their exact synthesis.
    Plain rounding, or RDOQ with the synthesis ``gains`` when ``rdoq`` is active."""
    coder = LatentCoder(bundle, level)
    hyper = hyper_features(bundle, z_hat, y.shape[2], y.shape[3])
    masks = bundle.stage_masks(y.shape[2], y.shape[3])
    y_hat = torch.zeros_like(y)
    seen = torch.zeros_like(masks[0])
    z_idx = z_indexes(bundle, (1,) + tuple(z_hat.shape[1:]))
    passes = [[(z_hat[b].numpy().reshape(-1).astype(np.int32), z_idx)] for b in range(len(y))]
    for k, mask in enumerate(masks):
        p = coder.stage_params(hyper, y_hat, seen, k)
        r = (y - p.mu) / coder.delta
        if rdoq is not None and rdoq.active:
            symbols = rdoq_symbols(r, p.index, mask, coder.delta, gains, bundle.tables, rdoq)
        else:
            symbols = torch.round(r)
        y_hat = y_hat + coder.dequantise(symbols, p.mu) * mask
        for b in range(len(y)):
            passes[b].append((select(symbols[b:b + 1], mask).astype(np.int32),
                              select(p.index[b:b + 1], mask).astype(np.int32)))
        seen = seen + mask
    x_hat = bundle.g_s(y_hat)
    return [CodedRegion(item, sum(estimate_bits(s, i, bundle.tables) for s, i in item), x_hat[b:b + 1])
            for b, item in enumerate(passes)]


class StreamWriter:
    """nn_stream() built region by region in decoding order: each region's passes are binarised when
    added, so the caller can drop its symbols at once; the lane count follows from the total size."""

    def __init__(self, bundle: NNBundle):
        self.encoder = RansEncoder(bundle.tables)
        self.bits = 0.0

    def add(self, region: CodedRegion) -> None:
        for symbols, indexes in region.passes:
            self.encoder.encode_pass(symbols, indexes)
        self.bits += region.bits

    def finish(self) -> bytes:
        lanes = lane_count_for(self.bits)
        return _written(nn_latent_stream, lanes.bit_length() - 1) + self.encoder.finish(lanes)


def write_stream(bundle: NNBundle, regions: list[CodedRegion]) -> bytes:
    """nn_stream(): the passes of every region, in decoding order, in one rANS stream."""
    writer = StreamWriter(bundle)
    for region in regions:
        writer.add(region)
    return writer.finish()


def encode_latents(bundle: NNBundle, x: torch.Tensor, level: int, refine: RefineConfig | None = None,
                   lam_sse: float = 0.0, peak: int = 255, rdoq_scale: float = RDOQ_SCALE) -> tuple[bytes, torch.Tensor]:
    """x: (1, 6, H, W).  Returns (payload, exact x_hat)."""
    region = code_regions(bundle, x, level, refine, lam_sse, peak, rdoq_scale)[0]
    return write_stream(bundle, [region]), region.x_hat


def encode_picture(bundle: NNBundle, planes: list[np.ndarray], chroma_format: int, bit_depth: int,
                   level: int, refine: RefineConfig | None = None,
                   rdoq_scale: float = RDOQ_SCALE) -> tuple[bytes, list[np.ndarray]]:
    """Whole-picture NN coding at the λ the level was trained for: (nn_picture payload, the decoder's
    reconstruction of the planes)."""
    from nntools.encoder.input import planes_to_input
    h, w = planes[0].shape
    lam = float(training_slopes(bundle.config.lambdas, bit_depth)[level])
    payload, x_hat = encode_latents(bundle, planes_to_input(planes, chroma_format, bit_depth), level, refine,
                                    lam, (1 << bit_depth) - 1, rdoq_scale)
    return _written(nn_picture, level) + payload, output_to_planes(x_hat, chroma_format, bit_depth, h, w)


def encode_patches(bundle: NNBundle, planes: list[np.ndarray], chroma_format: int, bit_depth: int, level: int,
                   patch: int, overlap: int, batch: int = 8,
                   refine: RefineConfig | None = None,
                   rdoq_scale: float = RDOQ_SCALE) -> tuple[bytes, list[np.ndarray]]:
    """Whole-picture NN coding as overlapping patches (``nntools.patches``): the nn_picture payload and
    the decoder's merged reconstruction.  ``batch`` patches are analysed and synthesised at once, so the
    float tensors never exceed ``batch`` patches whatever the picture size; each coded patch leaves
    only its binarised symbols (8 bytes each) until the stream is written."""
    from nntools.patches import PatchGrid, PatchMerger
    from nntools.encoder.input import planes_to_input
    h, w = planes[0].shape
    grid = PatchGrid(w, h, patch, overlap)
    ph, pw = grid.patch_shape()
    merger = PatchMerger(grid, chroma_format, bit_depth)
    lam, peak = float(training_slopes(bundle.config.lambdas, bit_depth)[level]), (1 << bit_depth) - 1
    writer = StreamWriter(bundle)
    origins = grid.origins()
    for start in range(0, len(origins), batch):
        group = origins[start:start + batch]
        x = torch.cat([planes_to_input(patch_planes(planes, px, py, ph, pw, chroma_format), chroma_format,
                                       bit_depth) for px, py in group])
        coded = code_regions(bundle, x, level, refine, lam, peak, rdoq_scale)
        for (px, py), region in zip(group, coded):
            merger.add(px, py, output_to_planes(region.x_hat, chroma_format, bit_depth, ph, pw))
            writer.add(region)
        del coded
    return _written(nn_picture, level) + writer.finish(), merger.planes()


def patch_planes(planes: list[np.ndarray], x: int, y: int, height: int, width: int,
                 chroma_format: int) -> list[np.ndarray]:
    """The planes of one patch, edge-replicated where it extends past the picture."""
    out = []
    for c, plane in enumerate(planes):
        s = 1 if c and chroma_format == 1 else 0
        region = plane[y >> s:(y + height) >> s, x >> s:(x + width) >> s]
        pad = (((height >> s) - region.shape[0]), ((width >> s) - region.shape[1]))
        out.append(np.pad(region, ((0, pad[0]), (0, pad[1])), mode="edge") if any(pad) else region)
    return out
