"""How far the neural path is from winning CUs: J_nn / J_host of every NN trial of the hybrid search.

    python benchmarks/nn_cost_ratio.py --data ../shared/data/dev --crop 256 --qp 22 37 --out runs/jratio
    (--nn-refine-steps N: the same with every NN candidate refined online at the host's λ)

Each picture's centre crop is coded in hybrid mode with the trace's ``rd`` channel on; every
``nn_compress_flag`` decision reports the RD cost of the host and the NN coding of one CU.  A ratio
below 1 is a CU the NN wins.  Printed per picture and QP, and per CU size: trials, wins, minimum and
median ratio; OUT/jratio.json holds every trial.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bitstream.syntax_coder import ChannelTrace
from hybridcodec.config import EncoderConfig
from hybridcodec.encoder import Encoder
from hybridcodec.eval.experiments import centre_crops
from hybridcodec.imageio import read_image
from nntools.training.data import list_images
from nntools.zoo import DEFAULT_MODEL


class TrialRecorder(ChannelTrace):
    """A trace with only the rd channel, keeping the NN trials instead of printing them."""

    def __init__(self) -> None:
        super().__init__(lambda line: None, ("rd",))
        self.trials: list[dict] = []

    @property
    def rd_sink(self):
        return self.record

    def record(self, decision: dict) -> None:
        if decision["decision"] == "nn_compress_flag":
            self.trials.append({k: decision[k] for k in ("x", "y", "log2", "J_host", "J_nn", "nn_level")})


def trials_of(image: np.ndarray, qp: int, **options) -> list[dict]:
    recorder = TrialRecorder()      # only the hybrid search's trials count: no host-only second search
    Encoder(EncoderConfig(mode="hybrid", qp=qp, host_picture_check=False, **options)).encode(image, trace_sink=recorder)
    return recorder.trials


def summary(trials: list[dict]) -> str:
    ratios = np.array([t["J_nn"] / t["J_host"] for t in trials])
    if not len(ratios):
        return "no trials"
    return (f"{len(ratios)} trials, {int((ratios < 1).sum())} won, min {ratios.min():.2f}, "
            f"median {np.median(ratios):.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data/dev"))
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--limit", type=int, default=0, help="first N pictures (0: all)")
    p.add_argument("--qp", type=int, nargs="+", default=[22, 37])
    p.add_argument("--nn-model", default=DEFAULT_MODEL)
    p.add_argument("--nn-refine-steps", type=int, default=0,
                   help="online optimisation of every NN candidate (encoder-only; default %(default)s: off)")
    p.add_argument("--out", type=Path, default=Path("runs/jratio"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pictures = centre_crops(list_images(args.data)[:args.limit or None], args.crop, args.out / "pictures")
    rows = []
    for path in pictures:
        image = read_image(path)
        for qp in args.qp:
            trials = trials_of(image, qp, nn_model=args.nn_model, nn_refine_steps=args.nn_refine_steps)
            rows += [dict(t, picture=path.name, qp=qp) for t in trials]
            print(f"{path.name} QP {qp}: {summary(trials)}", flush=True)
    for qp in args.qp:
        for log2 in sorted({r["log2"] for r in rows}):
            print(f"all pictures, QP {qp}, {1 << log2}x{1 << log2}: "
                  f"{summary([r for r in rows if r['qp'] == qp and r['log2'] == log2])}")
    (args.out / "jratio.json").write_text(json.dumps(rows))


if __name__ == "__main__":
    main()
