"""Profile one host encode (and its decode) with cProfile and print the hottest functions.

Run: ``python benchmarks/profile_encode.py [picture] [--qp 32] [--top 30] [--sort tottime|cumtime]
[--decode] [--option name=value ...]``.  Default picture: the bundled sample.  The profiler roughly
doubles Python-heavy run times; use ``bench_host_speed.py`` for timings.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
from pathlib import Path

import hybridcodec
from bench_host_speed import parse_options   # same folder: run as a script
from hybridcodec.imageio import read_image

SAMPLE = Path(__file__).resolve().parents[1] / "hybridcodec" / "data" / "sample.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("picture", nargs="?", default=str(SAMPLE))
    parser.add_argument("--qp", type=int, default=32)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumtime"])
    parser.add_argument("--decode", action="store_true", help="profile the decoder instead")
    parser.add_argument("--option", action="append", default=[], help="extra EncoderConfig field=value")
    args = parser.parse_args()

    image = read_image(args.picture)
    encoder = hybridcodec.Encoder(hybridcodec.EncoderConfig(qp=args.qp, **parse_options(args.option)))
    profiler = cProfile.Profile()
    if args.decode:
        data = encoder.encode(image).bitstream
        profiler.runcall(hybridcodec.decode, data)
    else:
        profiler.runcall(encoder.encode, image)
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
