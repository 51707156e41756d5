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

from bitstream.bitio import BitReader
from bitstream.errors import BitstreamError
from bitstream.header_coder import NN_STREAM_CATEGORY, HeaderCoder, HeaderReader
from host.color import upsample_chroma
from nntools.codec import ALIGN, NNBundle, decode_latents
from nntools.synthesis import output_samples, synthesise

def aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def output_to_planes(x_hat: torch.Tensor, chroma_format: int, bit_depth: int, height: int,
                     width: int) -> list[np.ndarray]:
    """Normative: the exact synthesis output of one region -> integer planes of a height x width region."""
    luma, cb, cr = output_samples(x_hat, bit_depth)
    planes = [luma[:height, :width]]
    if chroma_format == 0:
        return planes
    ch, cw = (height + 1) // 2, (width + 1) // 2
    for plane in (cb[:ch, :cw], cr[:ch, :cw]):
        planes.append(upsample_chroma(plane, height, width) if chroma_format == 3 else plane)
    return planes


def bundle_for(model_id: bytes) -> NNBundle:
    """The installed model whose identifier the bitstream carries; otherwise a clear refusal."""
    from nntools.weights_id import installed_with_id
    from nntools.zoo import available_models, load_bundle
    return installed_with_id(model_id, available_models(), load_bundle, "neural-tool weights")


def nn_picture(hc: HeaderCoder, nn_level: int = 0, levels: int = 256) -> int:
    """nn_picture() (docs/SYNTAX.md §7): nn_level u(8), a level of the model (0..levels - 1); the
    picture's nn_latent_stream() follows (one region, or the patches of §7.1)."""
    hc.category = NN_STREAM_CATEGORY
    nn_level = hc.u("nn_level", nn_level, 8)
    if nn_level >= levels:
        raise BitstreamError(f"NN picture: nn_level {nn_level} outside 0..{levels - 1}")
    return nn_level


def read_nn_picture(bundle: NNBundle, payload: bytes, trace_sink=None) -> tuple[int, bytes]:
    """(nn_level, the nn_latent_stream() bytes) of an NN picture's substream."""
    if len(payload) < 2:
        raise BitstreamError("NN picture payload too short")
    level = nn_picture(HeaderReader(BitReader(payload[:1], "NN substream"), trace_sink), levels=bundle.levels)
    return level, payload[1:]


def decode_picture(bundle: NNBundle, payload: bytes, chroma_format: int, bit_depth: int, height: int,
                   width: int, trace_sink=None) -> list[np.ndarray]:
    """The whole (aligned) picture as one region, synthesised tile by tile (``nntools.synthesis``)."""
    level, stream = read_nn_picture(bundle, payload, trace_sink)
    y_hat = decode_latents(bundle, stream, aligned(height) // 2, aligned(width) // 2, level, trace_sink)
    return synthesise(bundle, y_hat, height, width, chroma_format, bit_depth)
