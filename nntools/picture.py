"""The neural tool's output to codec planes, and whole-picture NN decoding (normative).

The network works in 4:2:0 (seed 002 ¶99): luma pixel-unshuffled to 4 channels at half resolution,
stacked with Cb and Cr.  4:4:4 pictures enter with chroma averaged over 2x2 and leave with the codec's
normative chroma upsampling (host.color.upsample_chroma); 4:0:0 pictures enter with neutral chroma,
which the decoder discards.  Regions are padded to a multiple of ALIGN (16) luma samples by edge
replication (the encoder's input: ``nntools.encoder.input``); the decoder crops the padding away.
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
