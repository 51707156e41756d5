"""The loop filter's float network (training only; the decoder runs ``nntools.loop_filter.exact``).

A plain stack of 3x3 convolutions with ReLU on the half-resolution 6-channel stack of a 4:2:0 picture
(four luma phases, Cb, Cr), plus a QP plane and optionally a plane of transform-block edges; it
predicts a correction that is added to its input (residual learning).  Plain convolutions and ReLU are
all the fixed-point decoder has to reproduce, and a stack of L layers has a receptive field of exactly
L samples each side, which is the overlap that makes tiled decoding exact.
"""
from __future__ import annotations

import torch
from torch import nn

from nntools.loop_filter.exact import SAMPLE_CHANNELS, FilterConfig  # noqa: F401  (re-exported for training)

class LoopFilterNet(nn.Module):
    """Input: normalised planes (N, in_channels, H, W); output: the correction of the 6 sample channels.

    ``batch_norm`` (training only) puts a BatchNorm after every hidden convolution; ``folded()`` merges
    it into the convolutions, giving the plain network that is exported."""

    def __init__(self, cfg: FilterConfig, batch_norm: bool = False):
        super().__init__()
        self.cfg = cfg
        widths = [cfg.in_channels] + [cfg.channels] * (cfg.layers - 1) + [SAMPLE_CHANNELS]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm2d(cfg.channels) for _ in range(cfg.layers - 1)) if batch_norm else None
        for conv in self.convs:         # He initialisation: PyTorch's default let the last ReLUs die
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        nn.init.normal_(self.convs[-1].weight, std=1e-3)    # start close to the identity filter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs[-1](self._hidden(x)[-1])

    def activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every hidden layer's output (for choosing the fixed-point activation scales)."""
        return self._hidden(x)[1:]

    def _hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = [x]
        for i, conv in enumerate(self.convs[:-1]):
            y = conv(out[-1])
            out.append(torch.relu(self.norms[i](y) if self.norms is not None else y))
        return out

    @classmethod
    def from_checkpoint(cls, path) -> "LoopFilterNet":
        """The plain network (BatchNorm folded, eval mode) of a ``train_loop_filter`` checkpoint."""
        state = torch.load(path, map_location="cpu")
        net = cls(FilterConfig(**state["cfg"]), state.get("batch_norm", False))
        net.load_state_dict(state["model"])
        return net.eval().folded()

    def folded(self) -> "LoopFilterNet":
        """The same function (BatchNorm in inference mode) as a plain convolution stack."""
        plain = LoopFilterNet(self.cfg)
        plain.load_state_dict({k: v for k, v in self.state_dict().items() if k.startswith("convs.")})
        if self.norms is not None:
            with torch.no_grad():
                for conv, norm in zip(plain.convs, self.norms):
                    g = norm.weight / torch.sqrt(norm.running_var + norm.eps)
                    conv.weight.mul_(g.view(-1, 1, 1, 1))
                    conv.bias.copy_((conv.bias - norm.running_mean) * g + norm.bias)
        return plain.eval()
