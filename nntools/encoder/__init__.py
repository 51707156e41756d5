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
from nntools.codec import (ALIGN, CONTEXT_REACH, LatentCoder, Neighbours, NNBundle, hyper_features,
                           nn_latent_stream, select, z_indexes)
from nntools.synthesis import FieldSynthesis, synthesis_margin, synthesise
from nntools.encoder.rdoq import RDOQ_SCALE, Rdoq, rdoq_symbols, synthesis_gains
from nntools.encoder.refine import Box, RefineConfig, latents_of, refine_latents, region_of
from nntools.training.export import float_model
from nntools.training.level_map import training_slopes
from nntools.training.model import NNCodecModel

Pass = tuple[np.ndarray, np.ndarray]      # (symbols, table indexes) of one rANS pass


def _written(syntax, value: int) -> bytes:
    """The bytes of a one-element prefix syntax function (nn_latent_stream())."""
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
    x_hat: torch.Tensor | None  # (1, 6, H, W) exact synthesis output as the decoder computes it (if asked)
    y_hat: torch.Tensor         # (1, M, H / 8, W / 8) the dequantised latents it was synthesised from
    y: torch.Tensor             # the latents that were quantised (analysed, or refined)


def code_regions(bundle: NNBundle, x: torch.Tensor, level: int, refine: RefineConfig | None = None,
                 lam_sse: float = 0.0, peak: int = 255, rdoq_scale: float = RDOQ_SCALE,
                 gains: torch.Tensor | None = None, core: Box | None = None,
                 synthesise: bool = True) -> list[CodedRegion]:
    """x: (B, 6, H, W) in [-0.5, 0.5], H and W multiples of 8.  One CodedRegion per batch item.
    With ``core`` (top, left, rows, columns in latent positions of x, 8 samples each), x is the region
    with some of its surroundings: the analysis sees them, and only the core's latents are coded.

    The latents are quantised for J = SSE + lam_sse·bits (sample units of ``peak``; ``nntools.encoder.rdoq``,
    plain rounding when lam_sse or rdoq_scale is 0), with the synthesis ``gains`` of ``input_gains``
    (estimated on x when not given).  With an active ``refine`` they are also optimised for that J at
    each learning rate, and each item keeps the coding of lowest J, the unrefined one included:
    refinement never makes an item's J worse.  ``synthesise=False`` leaves x_hat out where the caller
    synthesises the latents itself (a picture's field), unless refinement needs it to compare J."""
    window = x
    x, box = region_of(window, core)
    with torch.no_grad():
        y = latents_of(analysis(bundle).g_a(window.float()).double(), box)
        z_hat = torch.round(analysis(bundle).h_a(y.float()).double())
    rdoq = Rdoq(lam_sse, peak, rdoq_scale)
    if rdoq.active and gains is None:
        gains = synthesis_gains(analysis(bundle).g_s, y, synthesis_margin(bundle))
    refining = refine is not None and refine.active
    best = quantise_regions(bundle, y, z_hat, level, rdoq, gains, synthesise or refining)
    if not refining:
        return best

    def cost(region: CodedRegion, b: int) -> float:
        return peak ** 2 * float(((region.x_hat - x[b:b + 1]) ** 2).sum()) + lam_sse * region.bits

    best_cost = [cost(r, b) for b, r in enumerate(best)]
    for lr in refine.lrs:
        y, z_hat = refine_latents(analysis(bundle), window, level, lam_sse, peak, lr, refine, core)
        # The refinement scored its iterates with plain rounding, which RDOQ may undo: keep either.
        for quantiser in ((rdoq, None) if rdoq.active else (None,)):
            for b, region in enumerate(quantise_regions(bundle, y, z_hat, level, quantiser, gains, True)):
                c = cost(region, b)
                if c < best_cost[b]:
                    best[b], best_cost[b] = region, c
    return best


def input_gains(bundle: NNBundle, x: torch.Tensor) -> torch.Tensor:
    """The RDOQ synthesis gains (``nntools.encoder.rdoq.synthesis_gains``) at the latents of x, for callers that
    code many small regions of one picture and estimate them once, on a larger piece of it."""
    with torch.no_grad():
        y = analysis(bundle).g_a(x.float())
    return synthesis_gains(analysis(bundle).g_s, y, synthesis_margin(bundle))


def quantise_regions(bundle: NNBundle, y: torch.Tensor, z_hat: torch.Tensor, level: int,
                     rdoq: Rdoq | None = None, gains: torch.Tensor | None = None,
                     synthesise: bool = True, hyper: torch.Tensor | None = None,
                     neighbours: Neighbours | None = None) -> list[CodedRegion]:
    """Symbols of given latents through the normative entropy-model recursion, and their exact synthesis.
    Plain rounding, or RDOQ with the synthesis ``gains`` when ``rdoq`` is active.  ``hyper``: the
    hyper-decoder's features to use instead of those of z_hat (an analysis of other entropy models);
    ``neighbours``: the decoded latents a row of patches' context passes read (``nntools.patches.above``)."""
    coder = LatentCoder(bundle, level)
    hyper = hyper_features(bundle, z_hat, y.shape[2], y.shape[3]) if hyper is None else hyper
    masks = bundle.stage_masks(y.shape[2], y.shape[3])
    y_hat = torch.zeros_like(y)
    seen = torch.zeros_like(masks[0])
    z_idx = z_indexes(bundle, (1,) + tuple(z_hat.shape[1:]))
    passes = [[(z_hat[b].numpy().reshape(-1).astype(np.int32), z_idx)] for b in range(len(y))]
    for k, mask in enumerate(masks):
        p = coder.stage_params(hyper, y_hat, seen, k, neighbours)
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
    x_hat = bundle.g_s(y_hat) if synthesise else None
    return [CodedRegion(item, sum(estimate_bits(s, i, bundle.tables) for s, i in item),
                        None if x_hat is None else x_hat[b:b + 1], y_hat[b:b + 1], y[b:b + 1])
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
    """Whole-picture NN coding in one piece at the λ the level was trained for: (the payload after
    nn_picture()'s nn_level, the decoder's reconstruction of the planes, synthesised as the decoder does, tile by tile)."""
    from nntools.encoder.input import planes_to_input
    h, w = planes[0].shape
    lam = float(training_slopes(bundle.config.lambdas, bit_depth)[level])
    region = code_regions(bundle, planes_to_input(planes, chroma_format, bit_depth), level, refine, lam,
                          (1 << bit_depth) - 1, rdoq_scale, synthesise=False)[0]
    payload = write_stream(bundle, [region])
    return payload, synthesise(bundle, region.y_hat, h, w, chroma_format, bit_depth)


def encode_patches(bundle: NNBundle, planes: list[np.ndarray], chroma_format: int, bit_depth: int, level: int,
                   patch: int, context: int = 0, refine: RefineConfig | None = None,
                   rdoq_scale: float = RDOQ_SCALE) -> tuple[bytes, list[np.ndarray]]:
    """Whole-picture NN coding as patches (``nntools.patches``): the payload after nn_level and the
    decoder's reconstruction.  Each patch is analysed (and refined) alone, with ``context`` luma samples of
    the picture around it (the encoder's overlap: its latents then continue their neighbours'), so the
    float tensors never exceed one patch's window whatever the picture size; each row of patches is then
    quantised as one region whose context passes read the row above, as the decoder does, and its
    latents go to the normative synthesis and its symbols to the rANS encoder."""
    from nntools.patches import PatchGrid
    from nntools.encoder.input import planes_to_input
    h, w = planes[0].shape
    grid = PatchGrid(w, h, patch)
    synthesis = FieldSynthesis(bundle, h, w, chroma_format, bit_depth)
    lam, peak = float(training_slopes(bundle.config.lambdas, bit_depth)[level]), (1 << bit_depth) - 1
    rdoq = Rdoq(lam, peak, rdoq_scale)
    extent = -(-context // ALIGN) * ALIGN          # whole latent positions; samples past ``context`` replicated
    writer = StreamWriter(bundle)
    last_rows = None
    for y in grid.ys:
        latents = []
        for x in grid.xs:
            # A patch's window stops at the aligned picture's edge, as one-piece analysis does.
            box = window_box(grid, x, y, extent)
            ph, pw = grid.shape_at(x, y)
            window = planes_to_input(window_planes(planes, x, y, ph, pw, box, context, chroma_format),
                                     chroma_format, bit_depth)
            core = ((y - box[1]) // ALIGN, (x - box[0]) // ALIGN, ph // ALIGN, pw // ALIGN)
            latents.append(patch_latents(bundle, window, core, level, refine, lam, peak, rdoq_scale))
        y_row = torch.cat(latents, dim=3)
        gains = synthesis_gains(analysis(bundle).g_s, y_row, synthesis_margin(bundle)) if rdoq.active else None
        region = quantise_patch_row(bundle, y_row, level, rdoq, gains, last_rows)
        writer.add(region)
        synthesis.add(region.y_hat)
        last_rows = region.y_hat[:, :, -CONTEXT_REACH:]
    return writer.finish(), synthesis.planes()


def quantise_patch_row(bundle: NNBundle, y_row: torch.Tensor, level: int, rdoq: Rdoq, gains: torch.Tensor | None,
                       last_rows: torch.Tensor | None) -> CodedRegion:
    """A row of patches' latents coded as its region (``nntools.patches``): z from the row's hyper-analysis,
    context passes reading ``last_rows``, the last decoded latent rows of the row above (None: first row)."""
    from nntools.patches import above
    with torch.no_grad():
        z_hat = torch.round(analysis(bundle).h_a(y_row.float()).double())
    return quantise_regions(bundle, y_row, z_hat, level, rdoq, gains, synthesise=False,
                            neighbours=above(bundle, last_rows, y_row.shape[2]))[0]


def patch_latents(bundle: NNBundle, window: torch.Tensor, core: Box, level: int, refine: RefineConfig | None,
                  lam_sse: float, peak: int, rdoq_scale: float) -> torch.Tensor:
    """The latents of a patch (``core`` of its analysis ``window``) for its row's coding: analysed, or,
    with refinement, those whose coding of the patch alone had the lowest J (``code_regions``)."""
    if refine is not None and refine.active:
        return code_regions(bundle, window, level, refine, lam_sse, peak, rdoq_scale, core=core,
                            synthesise=False)[0].y
    with torch.no_grad():
        return latents_of(analysis(bundle).g_a(window.float()).double(), region_of(window, core)[1])


def window_box(grid, x: int, y: int, extent: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the patch at (x, y) and ``extent`` samples around it, inside the aligned picture."""
    h, w = grid.shape_at(x, y)
    return (max(0, x - extent), max(0, y - extent), min(grid.aligned_width, x + w + extent),
            min(grid.aligned_height, y + h + extent))


def window_planes(planes: list[np.ndarray], x: int, y: int, height: int, width: int,
                  box: tuple[int, int, int, int], context: int, chroma_format: int) -> list[np.ndarray]:
    """The planes of ``box`` around the height x width region at (x, y): picture samples up to
    ``context`` away from the region, edge-replicated beyond that and beyond the coded picture."""
    out = []
    for c, plane in enumerate(planes):
        s = 1 if c and chroma_format == 1 else 0
        rows = _span(box[1] >> s, box[3] >> s, y >> s, height >> s, context >> s, plane.shape[0])
        cols = _span(box[0] >> s, box[2] >> s, x >> s, width >> s, context >> s, plane.shape[1])
        out.append(plane[np.ix_(rows, cols)])
    return out


def _span(first: int, end: int, start: int, length: int, context: int, size: int) -> np.ndarray:
    """Source indexes of window positions first .. end - 1 for a region at start .. start + length - 1."""
    return np.clip(np.arange(first, end), max(0, start - context), min(size, start + length + context) - 1)
