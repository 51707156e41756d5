"""Speed of the host codec: encode and decode every dev picture with default options.

Run: ``python benchmarks/bench_host_speed.py [--data DIR] [--limit N] [--qp 32] [--json out.json]
[--option name=value ...] [--threads N]``.  Prints per-picture encode/decode seconds, bits per pixel and PSNR-Y,
then the median encode and decode times, raw and normalised to a 768x512 picture
(seconds * 393216 / pixels) — the unit of the speed targets.  Every decode is checked against the
encoder's reconstruction, so a speed-up that breaks the codec cannot go unnoticed here.
"""
from __future__ import annotations

import argparse
import ast
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import hybridcodec
from hybridcodec.imageio import read_image
from hybridcodec.eval.metrics import psnr_y

REFERENCE_PIXELS = 768 * 512
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev"


def parse_options(pairs: list[str]) -> dict:
    options = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            options[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[name] = value
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="first N pictures (sorted by name)")
    parser.add_argument("--qp", type=int, default=32)
    parser.add_argument("--option", action="append", default=[], help="extra EncoderConfig field=value")
    parser.add_argument("--json", type=Path, default=None, help="write all measurements here")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's own, one per core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    paths = sorted(p for p in args.data.iterdir() if p.suffix.lower() in (".png", ".jpg", ".ppm"))
    paths = paths[:args.limit] if args.limit else paths
    config = hybridcodec.EncoderConfig(qp=args.qp, **{"mode": "host", **parse_options(args.option)})
    encoder = hybridcodec.Encoder(config)
    rows = []
    print(f"{'picture':<48} {'size':>9} {'enc s':>7} {'dec s':>6} {'bpp':>6} {'PSNR-Y':>7}")
    for path in paths:
        image = read_image(str(path))
        pixels = image.shape[0] * image.shape[1]
        t0 = time.perf_counter()
        result = encoder.encode(image)
        t1 = time.perf_counter()
        decoded = hybridcodec.decode(result.bitstream)
        t2 = time.perf_counter()
        if not np.array_equal(decoded, result.reconstruction):
            raise SystemExit(f"{path.name}: decoder output differs from the encoder's reconstruction")
        row = dict(picture=path.name, width=image.shape[1], height=image.shape[0],
                   encode_s=t1 - t0, decode_s=t2 - t1, bpp=8 * len(result.bitstream) / pixels,
                   psnr_y=psnr_y(image, decoded))
        rows.append(row)
        print(f"{path.name[:48]:<48} {row['width']:>4}x{row['height']:<4} {row['encode_s']:>7.2f} "
              f"{row['decode_s']:>6.2f} {row['bpp']:>6.3f} {row['psnr_y']:>7.2f}", flush=True)

    def median(key: str, normalise: bool) -> float:
        return statistics.median(r[key] * (REFERENCE_PIXELS / (r["width"] * r["height"]) if normalise else 1)
                                 for r in rows)

    summary = {f"median_{k}{suffix}": median(k, norm) for k in ("encode_s", "decode_s")
               for suffix, norm in (("", False), ("_768x512", True))}
    print(f"median encode {summary['median_encode_s']:.2f} s ({summary['median_encode_s_768x512']:.2f} s "
          f"at 768x512), decode {summary['median_decode_s']:.2f} s "
          f"({summary['median_decode_s_768x512']:.2f} s at 768x512)")
    if args.json:
        args.json.write_text(json.dumps(dict(qp=args.qp, config=repr(config), torch_threads=torch.get_num_threads(),
                                             pictures=rows, **summary),
                                        indent=1))


if __name__ == "__main__":
    main()
