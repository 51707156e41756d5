"""Refit the factorised density of z in a training checkpoint to the z its transforms now produce.

    python -m nntools.training.refit_density RUN/checkpoint.pt --data ../shared/data/train

For a run whose density fell behind its transforms: one that restarted from a weights file before
``--init`` fitted the density to the file's CDF tables (it then relearns from its initialisation, which
at a learning rate of 3e-5 takes far longer than the run has).  Both weight sets of the checkpoint (the
raw weights and the average) get the density that minimises the code length of round(h_a(g_a(x))) on
random training crops; nothing else changes.  The checkpoint is rewritten in place (a copy is kept
beside it as ``*.before_refit.pt``).
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import torch

from nntools.training.data import CropDataset
from nntools.training.model import ModelConfig, NNCodecModel


def empirical_z_pmfs(model: NNCodecModel, batches: list[torch.Tensor]) -> tuple[list[np.ndarray], np.ndarray]:
    """Per channel of z: the pmf of its rounded values over the batches, and the lowest value."""
    with torch.no_grad():
        z = torch.cat([torch.round(model.h_a(model.g_a(x))) for x in batches])
    z = z.permute(1, 0, 2, 3).reshape(z.shape[1], -1).numpy().astype(np.int64)
    pmfs = [np.bincount(ch - ch.min()).astype(np.float64) / ch.size for ch in z]
    return pmfs, z.min(axis=1)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m nntools.training.refit_density", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--data", required=True, help="training images (folder or crop pack)")
    p.add_argument("--crops", type=int, default=160, help="random crops (each gives (crop/64)^2 z per channel)")
    p.add_argument("--crop", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    path = Path(args.checkpoint)
    state = torch.load(path, map_location="cpu")
    data = CropDataset(args.data, crop=args.crop, seed=123)
    batches = [data.batch(8) for _ in range(max(1, args.crops // 8))]
    for key in ("model", "ema"):
        if key not in state:
            continue
        model = NNCodecModel(ModelConfig.from_dict(state["config"])).eval()
        model.load_state_dict(state[key])
        pmfs, offsets = empirical_z_pmfs(model, batches)
        before = model.z_density.cross_entropy(pmfs, offsets)
        after = model.z_density.fit_pmfs(pmfs, offsets)
        entropy = np.mean([-(q[q > 0] * np.log2(q[q > 0])).sum() for q in pmfs])
        print(f"{key}: code length of z {before:.4f} -> {after:.4f} bits/value (empirical entropy {entropy:.4f})")
        fitted = model.state_dict()
        state[key] = {k: fitted[k] if k.startswith("z_density.") else v for k, v in state[key].items()}
    shutil.copyfile(path, path.with_suffix(".before_refit.pt"))
    torch.save(state, path)


if __name__ == "__main__":
    main()
