"""Export a training checkpoint as a shipped weights file (integers only) and print its model id.

    python -m nntools.export /work/nn_runs/fp/checkpoint.pt nntools/weights/hyperprior_4p.npz

The Level_Map in the file is the one derived from the training λ; refit it on measured operating
points with ``benchmarks/fit_level_map.py --write`` (which changes the model id again).
"""
from __future__ import annotations

import argparse

import torch

from nntools.model import ModelConfig, NNCodecModel
from nntools.zoo import save_weights


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("weights")
    p.add_argument("--raw", action="store_true",
                   help="export the last training weights rather than their moving average")
    args = p.parse_args(argv)
    state = torch.load(args.checkpoint, map_location="cpu")
    model = NNCodecModel(ModelConfig.from_dict(state["config"]))
    use_ema = "ema" in state and not args.raw
    model.load_state_dict(state["ema"] if use_ema else state["model"])
    kind = f"average of {state['ema_count']} steps" if use_ema else "raw weights"
    model_id = save_weights(model, args.weights).hex()
    print(f"step {state['step']}, {state['elapsed'] / 3600:.2f} h, {kind}: model id {model_id}")


if __name__ == "__main__":
    main()
