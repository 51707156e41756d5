"""Rate-distortion optimised quantisation of the latent (encoder-only).

Plain rounding codes the symbol nearest to (y − μ)/Δ.  Under the Gaussian model the symbol one step
nearer the mean costs fewer bits, so, like a conventional encoder's RDOQ of transform coefficients,
the encoder takes it wherever the saving at its λ outweighs the added distortion.  The decoder is
unchanged: it dequantises whatever symbol it reads.

The distortion of a latent error e in channel c is estimated to first order as scale·gain_c·e², where
gain_c is the synthesis transform's mean squared Jacobian column norm for that channel, estimated on
latents of the picture being coded (Hutchinson: one Jacobian-vector and one vector-Jacobian product of
the float g_s with a seeded Gaussian probe, on at most GAIN_WINDOW² latent positions of the centre of
the region, so that its cost does not grow with the picture, in chunks that bound its memory).  The first-order estimate counts each
change alone; taken together the changes all pull towards the mean and cost more, which ``scale``
accounts for.  Its default was chosen on training pictures, not the dev set (docs/RESULTS.md, issue 3).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bitstream.rans import RansTables, symbol_bits

RDOQ_SCALE = 4.0
GAIN_WINDOW = 32                 # latent positions (512 luma samples) per side of the gain estimate's window
GAIN_CHUNK = 16                  # latent positions per side of the products computed at once


@dataclass(frozen=True)
class Rdoq:
    """What a quantiser needs to weigh bits against distortion; ``lam_sse`` 0 or ``scale`` 0 is plain rounding."""
    lam_sse: float               # λ of J = SSE + λ·bits, SSE in sample units of ``peak``
    peak: int = 255
    scale: float = RDOQ_SCALE

    @property
    def active(self) -> bool:
        return self.lam_sse > 0 and self.scale > 0


def synthesis_gains(g_s: nn.Module, y: torch.Tensor, margin: int, seed: int = 0) -> torch.Tensor:
    """(1, C, 1, 1): mean over positions of diag(JᵀJ) per latent channel of the float synthesis at ``y``,
    for outputs in [-0.5, 0.5] (multiply by peak² for sample units).  Estimated on the centre window of
    the first items of the batch, GAIN_WINDOW² positions at most, GAIN_CHUNK² positions of one item at a
    time (the memory of the two products grows with the area they see), each in its surroundings up to
    ``margin`` positions away, the synthesis' reach (``nntools.synthesis.synthesis_margin``)."""
    _, _, h, w = y.shape
    hh, ww = min(h, GAIN_WINDOW), min(w, GAIN_WINDOW)
    items = max(1, GAIN_WINDOW ** 2 // (hh * ww))
    top, left = (h - hh) // 2, (w - ww) // 2
    at = y[:items, :, top:top + hh, left:left + ww].float().detach()
    probe = torch.randn(at.shape, generator=torch.Generator().manual_seed(seed))
    num = torch.zeros(at.shape[1])
    for i, r, c in ((i, r, c) for i in range(len(at)) for r in range(0, hh, GAIN_CHUNK)
                    for c in range(0, ww, GAIN_CHUNK)):
        # The chunk's probe, in the chunk extended by the synthesis' reach, sees every output it moves.
        r0, c0 = max(0, r - margin), max(0, c - margin)
        part = at[i:i + 1, :, r0:r + GAIN_CHUNK + margin, c0:c + GAIN_CHUNK + margin]
        inside = torch.zeros_like(part)
        inside[:, :, r - r0:r - r0 + GAIN_CHUNK, c - c0:c - c0 + GAIN_CHUNK] = 1
        v = probe[i:i + 1, :, r0:r + GAIN_CHUNK + margin, c0:c + GAIN_CHUNK + margin] * inside
        with torch.enable_grad():
            _, jvp = torch.func.jvp(g_s, (part,), (v,))
            point = part.clone().requires_grad_(True)
            (vjp,) = torch.autograd.grad(g_s(point), point, jvp)
        num += (v * vjp).sum(dim=(0, 2, 3))
    per_channel = num / (probe * probe).sum(dim=(0, 2, 3))
    return per_channel.clamp(min=0).double().view(1, -1, 1, 1)


def rdoq_symbols(r: torch.Tensor, index: torch.Tensor, mask: torch.Tensor, delta: torch.Tensor,
                 gains: torch.Tensor, tables: RansTables, rdoq: Rdoq) -> torch.Tensor:
    """Symbols for the positions of ``mask`` given r = (y − μ)/Δ: round(r), or one step nearer zero where
    that lowers J.  Positions outside ``mask`` keep round(r) (they belong to other passes)."""
    q = torch.round(r)
    nearer = q - torch.sign(q)
    where = (mask.expand_as(r) > 0) & (q != 0)
    if not bool(where.any()):
        return q
    idx = index.expand_as(r)[where].numpy().astype(np.int32)
    q_sel, n_sel = q[where], nearer[where]
    saved_bits = (symbol_bits(q_sel.numpy().astype(np.int32), idx, tables)
                  - symbol_bits(n_sel.numpy().astype(np.int32), idx, tables))
    weight = (rdoq.scale * rdoq.peak ** 2 * gains * delta ** 2).expand_as(r)[where]
    r_sel = r[where]
    added_sse = weight * ((r_sel - n_sel) ** 2 - (r_sel - q_sel) ** 2)
    take = added_sse < rdoq.lam_sse * torch.from_numpy(saved_bits)
    return q.masked_scatter(where, torch.where(take, n_sel, q_sel))
