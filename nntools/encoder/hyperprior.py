"""The encoder side of the built-in block codec ``hyperprior-4p`` (encoder-only).

Latent RDOQ at the host's λ with synthesis gains estimated once per picture, optional online refinement
(``nn_refine_*``), whole pictures in one piece or as patches; the options come from the EncoderConfig.
"""
from __future__ import annotations

import numpy as np

from nntools.encoder import code_regions, encode_patches, encode_picture, input_gains, write_stream
from nntools.encoder.input import planes_to_input
from nntools.encoder.plugin import BlockCodecEncoder, CodedBlock, PictureContext
from nntools.encoder.rdoq import GAIN_WINDOW, RDOQ_SCALE
from nntools.picture import output_to_planes


class HyperpriorEncoder(BlockCodecEncoder):
    def __init__(self, codec, picture: PictureContext):
        super().__init__(codec, picture)
        c = picture.config
        self.bundle = codec.bundle
        self.rdoq_scale = RDOQ_SCALE if c is None else c.nn_rdoq_scale
        self.refine = None if c is None else c.refine_config()
        self._gains = None

    def gains(self):
        """The synthesis gains for latent RDOQ, estimated once on the picture's centre (the estimate's
        whole window, 256x256 at most): a CU's own latents are too few for it, and the gains vary little
        across a picture."""
        p = self.picture
        if self._gains is None and self.rdoq_scale > 0 and p.lam > 0:
            h, w = p.original[0].shape
            size = min(8 * GAIN_WINDOW, 1 << (min(h, w).bit_length() - 1))
            x, y = ((w - size) // 2) & ~1, ((h - size) // 2) & ~1
            s = 1 if p.chroma_format == 1 else 0
            centre = [p.original[0][y:y + size, x:x + size]] + [
                c[y >> s:(y + size) >> s, x >> s:(x + size) >> s] for c in p.original[1:]]
            self._gains = input_gains(self.bundle, planes_to_input(centre, p.chroma_format, p.bit_depth))
        return self._gains

    def code(self, planes: list[np.ndarray], level: int) -> CodedBlock:
        p = self.picture
        h, w = planes[0].shape
        region = code_regions(self.bundle, planes_to_input(planes, p.chroma_format, p.bit_depth), level,
                              self.refine, p.lam, (1 << p.bit_depth) - 1, self.rdoq_scale, self.gains())[0]
        return CodedBlock(output_to_planes(region.x_hat, p.chroma_format, p.bit_depth, h, w), region.bits, region)

    def stream(self, blocks: list[CodedBlock]) -> bytes:
        return write_stream(self.bundle, [b.data for b in blocks])

    def code_picture(self, level: int, patch_size: int = 0) -> tuple[bytes, list[np.ndarray]]:
        """At the λ the level was trained for (the picture has no host λ to meet)."""
        p, c = self.picture, self.picture.config
        if patch_size:
            payload, planes = encode_patches(self.bundle, p.original, p.chroma_format, p.bit_depth, level,
                                             patch_size, c.nn_patch_overlap, self.refine,
                                             self.rdoq_scale)
        else:
            payload, planes = encode_picture(self.bundle, p.original, p.chroma_format, p.bit_depth, level,
                                             self.refine, self.rdoq_scale)
        return payload, planes
