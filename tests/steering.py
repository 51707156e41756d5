"""Steering the hybrid encoder's choice towards the NN, for tests of NN syntax and reconstruction.

The shipped weights rarely beat the host, so tests make NN candidates report a hugely negative
distortion to the CU search, and let a picture with NN CUs win the picture-level check against
host-only coding.  Latents, bitstream and reconstruction stay real: only the choice is steered.
"""
import dataclasses

from hybridcodec.encoder import Encoder
from hybridcodec.encoder.nn_search import NNCandidates


def steer_nn(mp, wins=lambda x, y, log2: True, spoil_chroma=False, mode_wins=lambda residual: True,
             distortion: int = -(1 << 40), picture: bool = True) -> None:
    """NN candidates win where ``wins(x, y, log2)`` and ``mode_wins(residual)`` hold (``residual``: None
    for direct coding, else the (mode, ...) of the residual/DC candidate) by reporting ``distortion``
    (losers report 2^40); ``mp``: a pytest MonkeyPatch.  ``picture``: steer the picture-level check too.
    ``spoil_chroma``: the NN's chroma is made useless (inverted), so that with separate luma/chroma
    flags every NN CU leaves its chroma to the host (whose chroma the decoder then reconstructs)."""
    real_candidate, real_cost = NNCandidates.candidate, Encoder._cost

    def candidate(self, x, y, log2, level=None, residual=None):
        c = dataclasses.replace(real_candidate(self, x, y, log2, level, residual))
        c.distortion = distortion if wins(x, y, log2) and mode_wins(residual) else 1 << 40
        if spoil_chroma:
            peak = (1 << self.bit_depth) - 1
            c.planes = c.planes[:1] + [peak - p for p in c.planes[1:]]
        return c

    def cost(self, result, src, header):
        return real_cost(self, result, src, header) - (1 << 60) * result.stats.area_by_mode.get("nn", 0.0)
    mp.setattr(NNCandidates, "candidate", candidate)
    if picture:
        mp.setattr(Encoder, "_cost", cost)
