"""The neural tool's networks as the specification describes them: layer lists and context passes.

A model is named by its ``ModelConfig`` (stored in the weights file); ``networks`` gives, for every
network, the ordered layers whose integer parameters the weights file holds under ``<network>.<index>``.
The decoder builds its fixed-point networks from these lists (``nntools.exact``); training builds the
float model from the same lists (``nntools.training.model``), so the two cannot disagree.  No training code here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

# λ per level for D = MSE on [0, 1] samples (CompressAI's MSE ladder), level 0 = lowest rate.
DEFAULT_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)


@dataclass(frozen=True)
class ModelConfig:
    channels: int = 96          # N: width of the analysis/synthesis transforms
    latent: int = 160           # M: channels of y
    hyper: int = 96             # channels of z
    levels: int = 8
    context: str = "checkerboard"   # or "four_pass"
    in_channels: int = 6
    lambdas: tuple[float, ...] = DEFAULT_LAMBDAS

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        d["lambdas"] = tuple(d["lambdas"])
        return cls(**d)

    @property
    def context_stages(self) -> int:
        """Context convolutions: one shared by the passes after the first, or one per later pass."""
        return 1 if self.context == "checkerboard" else 3


@dataclass(frozen=True)
class Layer:
    """One layer: ``conv`` / ``deconv`` (transposed, output padding stride - 1), ``gdn`` / ``igdn`` or
    ``relu``.  ``full_precision`` marks the layers training keeps in float32 under bf16 autocast."""
    kind: str
    cin: int = 0
    cout: int = 0
    kernel: int = 5
    stride: int = 2
    full_precision: bool = False

    @property
    def padding(self) -> int:
        return self.kernel // 2


def _conv(cin: int, cout: int, kernel: int = 5, stride: int = 2, full_precision: bool = False) -> Layer:
    return Layer("conv", cin, cout, kernel, stride, full_precision)


def _deconv(cin: int, cout: int) -> Layer:
    return Layer("deconv", cin, cout)


def networks(cfg: ModelConfig) -> dict[str, list[Layer]]:
    """Every network of the model by its parameter prefix (layer i's parameters under ``<prefix>.<i>``,
    a one-layer network's under ``<prefix>``); g_a and h_a are the encoder's analysis transforms."""
    n, m, h, cin = cfg.channels, cfg.latent, cfg.hyper, cfg.in_channels
    gdn, igdn, relu = Layer("gdn", n, n), Layer("igdn", n, n), Layer("relu")
    nets = {
        "g_a": [_conv(cin, n, 3, 1), gdn, _conv(n, n), gdn, _conv(n, n), gdn, _conv(n, m, full_precision=True)],
        "g_s": [_deconv(m, n), igdn, _deconv(n, n), igdn, _deconv(n, n), igdn,
                _conv(n, cin, 3, 1, full_precision=True)],
        "h_a": [_conv(m, h, 3, 1), relu, _conv(h, h), relu, _conv(h, h, full_precision=True)],
        "h_s": [_deconv(h, h), relu, _deconv(h, m * 3 // 2), relu,
                _conv(m * 3 // 2, 2 * m, 3, 1, full_precision=True)],
    }
    for k in range(cfg.context_stages):
        nets[f"context.{k}"] = [_conv(m, 2 * m, 5, 1)]
    nets["entropy_parameters"] = [_conv(4 * m, 3 * m, 1, 1), relu, _conv(3 * m, 2 * m, 1, 1), relu,
                                  _conv(2 * m, 2 * m, 1, 1, full_precision=True)]
    return nets


def stage_masks(context: str, height: int, width: int, device=None) -> list[torch.Tensor]:
    """The passes of the latent y, as 0/1 masks of shape (1, 1, height, width), in decoding order:
    checkerboard (seed 002 ¶105): anchors ((row + col) even), then the rest; four_pass (¶106, Fig. 13):
    the 2x2 phases (0,0), (1,1), (0,1), (1,0), so that each pass sees the previous ones around it."""
    r = torch.arange(height, device=device).view(-1, 1)
    c = torch.arange(width, device=device).view(1, -1)
    if context == "checkerboard":
        anchor = ((r + c) % 2 == 0).to(torch.float32).view(1, 1, height, width)
        return [anchor, 1 - anchor]
    return [((r % 2 == a) & (c % 2 == b)).to(torch.float32).view(1, 1, height, width)
            for a, b in ((0, 0), (1, 1), (0, 1), (1, 0))]
