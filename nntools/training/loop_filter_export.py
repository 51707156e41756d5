"""Fixed-point export of a trained loop filter (training side): the integer weights file.

Activation scales are powers of two chosen from the activations on calibration pairs; each output
channel's weights get the finest power-of-two grid that keeps the layer's accumulation below the exact
float32 bound of ``nntools.loop_filter.exact``.  The export measures what quantisation cost.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from nntools.loop_filter.exact import ACC_LIMIT, IN_FRAC, OUT_FRAC, LoopFilterWeights
from nntools.training.loop_filter_model import LoopFilterNet

ACT_MAX = 511
PEAK_QUANTILE = 0.99999


def activation_fracs(net: LoopFilterNet, inputs: list[torch.Tensor], act_max: int = ACT_MAX) -> list[int]:
    """Fractional bits of every hidden layer's output, so that its calibration peak fits ``act_max``."""
    peaks = None
    with torch.no_grad():
        for x in inputs:
            acts = [float(torch.quantile(a.flatten()[::7], PEAK_QUANTILE)) for a in net.activations(x)]
            peaks = acts if peaks is None else [max(p, a) for p, a in zip(peaks, acts)]
    return [int(math.floor(math.log2(act_max / max(p, 1e-6)))) for p in peaks]


def quantize_layer(w: np.ndarray, b: np.ndarray, f_in: int, f_out: int, in_max: int) -> dict[str, np.ndarray]:
    """int16 weights, integer biases and per-channel shifts of one convolution."""
    ws, bs, ks = [], [], []
    for o in range(w.shape[0]):
        for fw in range(30, -8, -1):
            wq = np.round(w[o] * 2.0 ** fw)
            bq = np.round(b[o] * 2.0 ** (fw + f_in))
            k = fw + f_in - f_out
            if k < 1 or np.abs(wq).max() > 32767:
                continue
            if np.abs(wq).sum() * in_max + abs(bq) + 2 ** (k - 1) < ACC_LIMIT and k <= 23:
                break
        else:
            raise ValueError(f"output channel {o}: no weight grid fits the exact range")
        ws.append(wq)
        bs.append(bq)
        ks.append(k)
    return {"w": np.stack(ws).astype(np.int16), "b": np.asarray(bs, dtype=np.int64), "shift": np.asarray(ks, dtype=np.int8)}


def export_arrays(net: LoopFilterNet, inputs: list[torch.Tensor], act_max: int = ACT_MAX) -> dict[str, np.ndarray]:
    fracs = [IN_FRAC] + activation_fracs(net, inputs, act_max) + [IN_FRAC + OUT_FRAC]
    arrays = {"config": np.frombuffer(net.cfg.to_json().encode(), dtype=np.uint8),
              "act_max": np.asarray(act_max, dtype=np.int32)}
    for i, conv in enumerate(net.convs):
        q = quantize_layer(conv.weight.detach().double().numpy(), conv.bias.detach().double().numpy(),
                           fracs[i], fracs[i + 1], act_max if i else 1 << IN_FRAC)
        arrays.update({f"conv{i}.{k}": v for k, v in q.items()})
    return arrays


def export(net: LoopFilterNet, calibration_pairs: list[Path], path: Path, act_max: int = ACT_MAX) -> bytes:
    """Write the weights file; print the float and fixed-point PSNR gains on the calibration pairs."""
    from nntools.training.train_loop_filter import pair_tensors
    data = [pair_tensors(p, net.cfg) for p in calibration_pairs]
    inputs = [torch.from_numpy(x[None].astype(np.float32) / (1 << IN_FRAC)) for x, _ in data]
    arrays = export_arrays(net, inputs, act_max)
    np.savez_compressed(path, **arrays)
    exact = LoopFilterWeights.from_arrays(str(path), arrays)
    gains = {"float": [], "exact": []}
    with torch.no_grad():
        for (x, t), xf in zip(data, inputs):
            before = float(np.mean(t[:4].astype(np.float64) ** 2))
            c_float = net(xf)[0, :4].numpy() * (1 << IN_FRAC)
            c_exact = exact.correction(torch.from_numpy(x[None].astype(np.float32)))[0, :4].numpy() / (1 << OUT_FRAC)
            for key, c in (("float", c_float), ("exact", c_exact)):
                gains[key].append(10 * math.log10(before / max(np.mean((t[:4] - c) ** 2), 1e-12)))
    print(f"luma PSNR gain on {len(data)} calibration pairs: float {np.mean(gains['float']):.4f} dB, "
          f"fixed point {np.mean(gains['exact']):.4f} dB; model id {exact.model_id.hex()}")
    return exact.model_id


def main(argv: list[str] | None = None) -> None:
    import argparse
    from nntools.training.train_loop_filter import split_pairs
    p = argparse.ArgumentParser(description="Export a loop-filter checkpoint to an integer weights file.")
    p.add_argument("checkpoint")
    p.add_argument("--cache", required=True, help="pair cache: its held-out pairs calibrate the activation scales")
    p.add_argument("--out", required=True)
    p.add_argument("--act-max", type=int, default=ACT_MAX)
    a = p.parse_args(argv)
    export(LoopFilterNet.from_checkpoint(a.checkpoint), split_pairs(Path(a.cache))[1], Path(a.out), a.act_max)


if __name__ == "__main__":
    main()
