"""The main job: encode and decode the bundled sample picture, print the figures, write the PNG.

    python -m hybridcodec.demo [--qp 32 ...] [--out DIR]      (also: hybridcodec demo)
"""
from __future__ import annotations

import argparse
import json
import time
from importlib.resources import files
from pathlib import Path

import numpy as np

from hybridcodec.config import EncoderConfig
from hybridcodec.imageio import read_image, write_image
from hybridcodec.metrics import psnr_rgb, psnr_y


def sample_path() -> Path:
    return Path(str(files("hybridcodec") / "data" / "sample.png"))


def run(qps: list[int], out: Path, mode: str = "host") -> list[dict]:
    from hybridcodec.decoder import decode
    from hybridcodec.encoder import Encoder
    image = read_image(sample_path())
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for qp in qps:
        result = Encoder(EncoderConfig(qp=qp, mode=mode)).encode(image)
        t0 = time.perf_counter()
        decoded = decode(result.bitstream)
        decode_seconds = time.perf_counter() - t0
        if not np.array_equal(decoded, result.reconstruction):
            raise AssertionError("decoder output differs from the encoder's reconstruction")
        (out / f"sample_qp{qp}.hbc").write_bytes(result.bitstream)
        write_image(out / f"sample_qp{qp}.png", decoded)
        rows.append({"qp": qp, "mode": mode, "bytes": len(result.bitstream), "bpp": round(result.stats.bpp, 4),
                     "psnr_y": round(psnr_y(image, decoded), 3), "psnr_rgb": round(psnr_rgb(image, decoded), 3),
                     "encode_s": round(result.stats.seconds, 2), "decode_s": round(decode_seconds, 3)})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hybridcodec demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qp", type=int, nargs="+", default=[32])
    p.add_argument("--mode", default="host")
    p.add_argument("--out", default="demo_out", help="folder for the bitstreams and decoded PNGs")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    h, w = read_image(sample_path()).shape[:2]
    rows = run(args.qp, Path(args.out), args.mode)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"sample picture {w}x{h} ({sample_path().name}); decoded pictures in {args.out}/")
        print(f"{'qp':>4} {'mode':>6} {'bytes':>8} {'bpp':>8} {'PSNR-Y':>8} {'PSNR-RGB':>9} {'enc s':>7} {'dec s':>7}")
        for r in rows:
            print(f"{r['qp']:>4} {r['mode']:>6} {r['bytes']:>8} {r['bpp']:>8.4f} {r['psnr_y']:>8.3f} "
                  f"{r['psnr_rgb']:>9.3f} {r['encode_s']:>7.2f} {r['decode_s']:>7.3f}")
        print("decoded == encoder reconstruction: yes (checked bit for bit)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
