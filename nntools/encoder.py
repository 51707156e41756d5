"""Encoder side of the neural tool (encoder-only): analysis transforms and latent quantisation.

The entropy-model recursion it runs is the normative one of ``nntools.codec``, so the symbols it
chooses decode to exactly the reconstruction it returns.
"""
from __future__ import annotations

import numpy as np
import torch

from bitstream.rans import RansEncoder, estimate_bits, lane_count_for
from nntools.codec import LatentCoder, NNBundle, hyper_features, select, z_indexes


def encode_latents(bundle: NNBundle, x: torch.Tensor, level: int) -> tuple[bytes, torch.Tensor]:
    """x: (1, 6, H, W) in [-0.5, 0.5], H and W multiples of 8 (ALIGN luma).  Returns (payload, exact x_hat)."""
    coder = LatentCoder(bundle, level)
    with torch.no_grad():
        y = bundle.analysis.g_a(x.float()).double()
        z_hat = torch.round(bundle.analysis.h_a(y.float()).double())
    hyper = hyper_features(bundle, z_hat, y.shape[2], y.shape[3])
    masks = bundle.stage_masks(y.shape[2], y.shape[3])
    y_hat = torch.zeros_like(y)
    seen = torch.zeros_like(masks[0])
    passes = [(z_hat.numpy().reshape(-1).astype(np.int64), z_indexes(bundle, tuple(z_hat.shape)))]
    for k, mask in enumerate(masks):
        p = coder.stage_params(hyper, y_hat, seen, k)
        symbols = torch.round((y - p.mu) / coder.delta)
        y_hat = y_hat + coder.dequantise(symbols, p.mu) * mask
        passes.append((select(symbols, mask).astype(np.int64), select(p.index, mask)))
        seen = seen + mask
    x_hat = bundle.g_s(y_hat)
    ideal = sum(estimate_bits(s, i, bundle.tables) for s, i in passes)
    lanes = lane_count_for(ideal)
    enc = RansEncoder(bundle.tables, lanes=lanes)
    for s, i in passes:
        enc.encode_pass(s, i)
    return bytes([lanes.bit_length() - 1]) + enc.finish(), x_hat


def encode_picture(bundle: NNBundle, planes: list[np.ndarray], chroma_format: int, bit_depth: int,
                   level: int) -> tuple[bytes, list[np.ndarray]]:
    """Whole-picture NN coding: (nn_picture payload, the decoder's reconstruction of the planes)."""
    from nntools.picture import output_to_planes, planes_to_input
    h, w = planes[0].shape
    payload, x_hat = encode_latents(bundle, planes_to_input(planes, chroma_format, bit_depth), level)
    return bytes([level]) + payload, output_to_planes(x_hat, chroma_format, bit_depth, h, w)
