"""Codec planes <-> the neural tool's 6-channel input, and whole-picture NN decoding (normative).

The network works in 4:2:0 (seed 002 ¶99): luma pixel-unshuffled to 4 channels at half resolution,
stacked with Cb and Cr.  4:4:4 pictures enter with chroma averaged over 2x2 and leave with the codec's
normative chroma upsampling (host.color.upsample_chroma); 4:0:0 pictures enter with neutral chroma,
which the decoder discards.  Regions are padded to a multiple of ALIGN (16) luma samples by edge
replication; the decoder crops the padding away.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from bitstream.errors import BitstreamError
from host.color import upsample_chroma
from nntools.codec import ALIGN, NNBundle, decode_latents

def aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def planes_to_input(planes: list[np.ndarray], chroma_format: int, bit_depth: int) -> torch.Tensor:
    """Planes of one region (luma h x w) -> (1, 6, H/2, W/2) float64 in [-0.5, 0.5], H, W aligned."""
    h, w = planes[0].shape
    ha, wa = aligned(h), aligned(w)
    peak = (1 << bit_depth) - 1
    y = np.pad(planes[0], ((0, ha - h), (0, wa - w)), mode="edge").astype(np.float64)
    if chroma_format == 0:
        chroma = [np.full((ha // 2, wa // 2), float(1 << (bit_depth - 1)))] * 2
    else:
        chroma = []
        for c in planes[1:3]:
            c = c.astype(np.int64)
            if chroma_format == 3:
                c = np.pad(c, ((0, h % 2), (0, w % 2)), mode="edge")
                c = (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2] + 2) >> 2
            ch, cw = c.shape
            chroma.append(np.pad(c, ((0, ha // 2 - ch), (0, wa // 2 - cw)), mode="edge").astype(np.float64))
    luma = torch.from_numpy(y)[None, None]
    x = torch.cat([F.pixel_unshuffle(luma, 2)] + [torch.from_numpy(c)[None, None] for c in chroma], dim=1)
    return x / peak - 0.5


def output_to_planes(x_hat: torch.Tensor, chroma_format: int, bit_depth: int, height: int,
                     width: int) -> list[np.ndarray]:
    """Normative: the exact synthesis output -> integer planes of a height x width region."""
    peak = (1 << bit_depth) - 1
    samples = torch.clamp(torch.round((x_hat + 0.5) * peak), 0, peak)
    luma = F.pixel_shuffle(samples[:, :4], 2)[0, 0, :height, :width]
    planes = [luma.numpy().astype(np.int32)]
    if chroma_format == 0:
        return planes
    ch, cw = (height + 1) // 2, (width + 1) // 2
    for c in (4, 5):
        plane = samples[0, c, :ch, :cw].numpy().astype(np.int32)
        planes.append(upsample_chroma(plane, height, width) if chroma_format == 3 else plane)
    return planes


def bundle_for(model_id: bytes) -> NNBundle:
    """The installed model whose identifier the bitstream carries; otherwise a clear refusal."""
    from nntools.weights_id import installed_with_id
    from nntools.zoo import available_models, load_bundle
    return installed_with_id(model_id, available_models(), load_bundle, "neural-tool weights")


def decode_picture(bundle: NNBundle, payload: bytes, chroma_format: int, bit_depth: int, height: int,
                   width: int) -> list[np.ndarray]:
    """nn_picture(): nn_level u(8), then the latent payload of the whole (aligned) picture."""
    if len(payload) < 2:
        raise BitstreamError("NN picture payload too short")
    level = payload[0]
    x_hat = decode_latents(bundle, payload[1:], aligned(height) // 2, aligned(width) // 2, level)
    return output_to_planes(x_hat, chroma_format, bit_depth, height, width)
