"""Full-size exactness check: every picture of the given folders at QP 22/27/32/37 in 4:2:0, 4:4:4 and
gray; prints one line per encode and a summary (decoded picture == encoder reconstruction).

    python benchmarks/exactness.py ../shared/data/dev ../shared/data/dev-screen --out runs/exactness.jsonl
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hybridcodec import Encoder, EncoderConfig, decode
from hybridcodec.imageio import read_image
from nntools.training.data import list_images


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+")
    p.add_argument("--qp", type=int, nargs="+", default=[22, 27, 32, 37])
    p.add_argument("--formats", nargs="+", default=["420", "444", "gray"])
    p.add_argument("--mode", default="host", choices=("host", "hybrid"), help="coding mode (default host)")
    p.add_argument("--out", default="runs/exactness.jsonl", help="resumable log of finished checks")
    args = p.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(l)["key"]: json.loads(l) for l in out.read_text().splitlines()} if out.exists() else {}
    with open(out, "a") as log:
        for folder in args.folders:
            for path in list_images(folder):
                rgb = read_image(path)
                for fmt in args.formats:
                    image = np.round(rgb.mean(axis=-1)).astype(np.uint8) if fmt == "gray" else rgb
                    for qp in args.qp:
                        key = f"{path.name}|{fmt}|{qp}"
                        if key in done:
                            continue
                        cfg = EncoderConfig(qp=qp, mode=args.mode, chroma_format="444" if fmt == "444" else "420")
                        result = Encoder(cfg).encode(image)
                        row = {"key": key, "exact": bool(np.array_equal(decode(result.bitstream),
                                                                         result.reconstruction)),
                               "bpp": round(result.stats.bpp, 4), "encode_s": round(result.stats.seconds, 1)}
                        done[key] = row
                        log.write(json.dumps(row) + "\n")
                        log.flush()
                        print(key, row["exact"], row["bpp"], row["encode_s"], flush=True)
    rows = list(done.values())
    print(f"{sum(r['exact'] for r in rows)}/{len(rows)} decoded pictures equal the encoder's reconstruction")


if __name__ == "__main__":
    main()
