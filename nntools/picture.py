"""The built-in neural tool's output to codec planes (normative).

The network works in 4:2:0 (seed 002 ¶99): luma pixel-unshuffled to 4 channels at half resolution,
stacked with Cb and Cr.  4:4:4 pictures enter with chroma averaged over 2x2 and leave with the codec's
normative chroma upsampling (host.color.upsample_chroma); 4:0:0 pictures enter with neutral chroma,
which the decoder discards.  Regions are padded to a multiple of ALIGN (16) luma samples by edge
replication (the encoder's input: ``nntools.encoder.input``); the decoder crops the padding away.
"""
from __future__ import annotations

import numpy as np
import torch

from host.color import upsample_chroma
from nntools.codec import ALIGN
from nntools.synthesis import output_samples

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
