"""Speed of the neural tool on this CPU: NN-only encode and decode of 768x512 pictures.

    python benchmarks/bench_nn_speed.py --data ../shared/data/dev --limit 3 --level 4

The weights are loaded (by a first 64x64 encode) before anything is timed.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from hybridcodec import Encoder, EncoderConfig, decode
from hybridcodec.imageio import read_image
from nntools.training.data import list_images


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/dev")
    p.add_argument("--limit", type=int, default=3)
    p.add_argument("--level", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=1, help="code each picture N times, report the median")
    p.add_argument("--nn-rdoq-scale", type=float, default=EncoderConfig.nn_rdoq_scale,
                   help="latent RDOQ weight, 0: plain rounding (default %(default)s)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    config = EncoderConfig(mode="nn", level=args.level, nn_rdoq_scale=args.nn_rdoq_scale)
    Encoder(config).encode(np.zeros((64, 64, 3), np.uint8))     # load the weights outside the timings
    enc_s, dec_s = [], []
    for path in [x for x in list_images(args.data)][:args.limit]:
        image = read_image(path)
        h, w = image.shape[:2]
        crop = image[(h - 512) // 2:(h - 512) // 2 + 512, (w - 768) // 2:(w - 768) // 2 + 768] \
            if h >= 512 and w >= 768 else image
        encodes, decodes = [], []
        for _ in range(args.repeat):
            result = Encoder(config).encode(crop)
            t0 = time.perf_counter()
            decoded = decode(result.bitstream)
            decodes.append(time.perf_counter() - t0)
            encodes.append(result.stats.seconds)
        enc_s.append(float(np.median(encodes)))
        dec_s.append(float(np.median(decodes)))
        assert np.array_equal(decoded, result.reconstruction)
        print(f"{path.name:55s} {crop.shape[1]}x{crop.shape[0]}  {result.stats.bpp:.3f} bpp  "
              f"encode {enc_s[-1]:.2f} s  decode {dec_s[-1]:.2f} s")
    print(f"median over {len(enc_s)} pictures ({args.threads} threads): encode {np.median(enc_s):.2f} s, "
          f"decode {np.median(dec_s):.2f} s")


if __name__ == "__main__":
    main()
