"""The main job: code the bundled sample picture at a few points in each mode and write a report.

    python -m hybridcodec.tools.demo [--qp 27 32 37] [--hybrid-qp 32] [--levels 2 4 6] [--modes host,hybrid,nn]
                               [--nn-sizes 64,128] [--out DIR]
    (also: hybridcodec demo)

Every bitstream is decoded again and checked bit for bit against the encoder's reconstruction.  The
hybrid mode runs at the middle QP only, with NN trials on 64x64 and 128x128 CUs: an NN trial costs
0.4 to 0.9 s whatever the CU size, so this keeps the demo under a minute (17 trials instead of 77;
``--hybrid-qp`` and ``--nn-sizes`` change it).  Written to DIR: the bitstreams and decoded PNGs,
``report.md`` (the table, with the share of the picture the neural tool coded), ``report.json``,
``rd.png`` (our modes with JPEG and WebP for reference) and ``decision_map.png`` (the host coding
tree over the decoded picture and its bits-per-pixel map, by ``hybridcodec inspect``;
``decision_map_hybrid.png`` too when the hybrid search chose NN-coded CUs).
"""
from __future__ import annotations

import argparse
import json
import time
from importlib.resources import files
from pathlib import Path

import numpy as np

from hybridcodec.tools.cli import parse_nn_sizes
from hybridcodec.config import MODES, EncoderConfig
from hybridcodec.imageio import read_image, write_image
from hybridcodec.eval.metrics import psnr_rgb, psnr_y

REFERENCE_ANCHORS = ("jpeg", "webp")      # instant through OpenCV, so the plot has context
DEFAULT_MODES = ("host", "hybrid", "nn")
DEMO_NN_SIZES = (64, 128)                 # NN trial sizes of the demo's hybrid points (speed)


def sample_path() -> Path:
    return Path(str(files("hybridcodec") / "data" / "sample.png"))


def code_mode(image: np.ndarray, mode: str, params: list[int], out: Path,
              options: dict | None = None) -> tuple[list[dict], dict[int, bytes]]:
    """Code the picture at each parameter of one mode (``options``: further EncoderConfig fields); rows
    of figures and the bitstreams."""
    from hybridcodec.decoder import decode
    from hybridcodec.encoder import Encoder
    knob = "level" if mode == "nn" else "qp"
    rows, bitstreams = [], {}
    for value in params:
        result = Encoder(EncoderConfig(mode=mode, **{knob: value}, **(options or {}))).encode(image)
        t0 = time.perf_counter()
        decoded = decode(result.bitstream)
        decode_seconds = time.perf_counter() - t0
        if not np.array_equal(decoded, result.reconstruction):
            raise AssertionError("decoder output differs from the encoder's reconstruction")
        stem = f"sample_qp{value}" if mode == "host" else f"sample_{mode}_{knob}{value}"
        (out / f"{stem}.hbc").write_bytes(result.bitstream)
        write_image(out / f"{stem}.png", decoded)
        bitstreams[value] = result.bitstream
        stats = result.stats
        rows.append({"mode": mode, knob: value, "bytes": len(result.bitstream), "bpp": round(stats.bpp, 4),
                     "psnr_y": round(psnr_y(image, decoded), 3), "psnr_rgb": round(psnr_rgb(image, decoded), 3),
                     "nn_area": round(stats.area_by_mode.get("nn", float(mode == "nn")), 4),
                     "nn_trials": stats.nn_trials,
                     "encode_s": round(stats.seconds, 2), "decode_s": round(decode_seconds, 3)})
    return rows, bitstreams


def anchor_rows(image: np.ndarray) -> list[dict]:
    from hybridcodec.eval.anchors import available_anchors, default_sweep, encode_decode
    available = available_anchors()
    rows = []
    for name in (a for a in REFERENCE_ANCHORS if available[a]):
        for value in default_sweep(name):
            r = encode_decode(name, image, value)
            rows.append({"mode": name, "quality": value, "bytes": r.num_bytes,
                         "bpp": round(8 * r.num_bytes / (image.shape[0] * image.shape[1]), 4),
                         "psnr_y": round(psnr_y(image, r.decoded), 3), "psnr_rgb": round(psnr_rgb(image, r.decoded), 3)})
    return rows


def run(qps: list[int], out: Path, modes: list[str] = ("host",), levels: list[int] = (2, 4, 6),
        hybrid_qps: list[int] | None = None, nn_sizes: tuple[int, ...] = DEMO_NN_SIZES) -> list[dict]:
    """Code, check, and write every output; returns the rows of our modes.  ``hybrid_qps``: the QPs
    of the hybrid mode (default: the middle one of ``qps``)."""
    from hybridcodec.tools.inspector import inspect_bitstream
    from hybridcodec.tools.plots import RdCurve, inspection_map, rd_figure
    image = read_image(sample_path())
    out.mkdir(parents=True, exist_ok=True)
    rows, host_bitstreams, hybrid_maps = [], {}, []
    hybrid_qps = hybrid_qps or [sorted(qps)[len(qps) // 2]]
    for mode in modes:
        params = {"nn": levels, "hybrid": hybrid_qps}.get(mode, qps)
        options = {"nn_sizes": tuple(nn_sizes)} if mode == "hybrid" else {}
        mode_rows, bitstreams = code_mode(image, mode, list(params), out, options)
        rows += mode_rows
        if mode == "host":
            host_bitstreams = bitstreams
        if mode == "hybrid":
            hybrid_maps = [(r["qp"], bitstreams[r["qp"]]) for r in mode_rows if r["nn_area"] > 0][:1]
    anchors = anchor_rows(image)
    curves = [RdCurve(name, [r["bpp"] for r in group], {m: [r[m] for r in group] for m in ("psnr_y", "psnr_rgb")})
              for name in dict.fromkeys(r["mode"] for r in rows + anchors)
              for group in [[r for r in rows + anchors if r["mode"] == name]]]
    rd_figure(curves, out / "rd.png", metrics=("psnr_y", "psnr_rgb"), title="sample picture")
    if host_bitstreams:
        qp = sorted(host_bitstreams)[len(host_bitstreams) // 2]
        inspection_map(inspect_bitstream(host_bitstreams[qp], f"sample_qp{qp}.hbc"), out / "decision_map.png")
    for qp, data in hybrid_maps:
        inspection_map(inspect_bitstream(data, f"sample_hybrid_qp{qp}.hbc"), out / "decision_map_hybrid.png")
    (out / "report.json").write_text(json.dumps({"rows": rows, "anchors": anchors}, indent=1) + "\n")
    (out / "report.md").write_text(report_markdown(rows, anchors, image.shape, bool(host_bitstreams),
                                                   bool(hybrid_maps)))
    return rows


def table(rows: list[dict]) -> list[str]:
    lines = ["| mode | qp / level | bytes | bpp | PSNR-Y | PSNR-RGB | NN area | encode s | decode s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        param = r.get("qp", r.get("level", r.get("quality")))
        nn_area = f"{100 * r['nn_area']:.1f} %" if "nn_area" in r else ""
        times = f"{r['encode_s']:.2f} | {r['decode_s']:.3f}" if "encode_s" in r else " | "
        lines.append(f"| {r['mode']} | {param} | {r['bytes']} | {r['bpp']:.4f} | {r['psnr_y']:.3f} | "
                     f"{r['psnr_rgb']:.3f} | {nn_area} | {times} |")
    return lines


def report_markdown(rows: list[dict], anchors: list[dict], shape, with_map: bool, with_hybrid_map: bool = False) -> str:
    lines = [f"# hybridcodec demo: sample picture {shape[1]}x{shape[0]}", "",
             "Decoded == encoder reconstruction, checked bit for bit for every bitstream. "
             "NN area: share of the picture coded by the neural tool (the rest by the host codec).", ""]
    lines += table(rows) + ["", "Anchors (quality knob in the second column):", ""] + table(anchors)
    lines += ["", "![RD curves](rd.png)", ""]
    if with_map:
        lines += ["![host decisions: CUs over the decoded picture, and bits per pixel](decision_map.png)", ""]
    if with_hybrid_map:
        lines += ["![hybrid decisions: NN-coded CUs tinted](decision_map_hybrid.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hybridcodec demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qp", type=int, nargs="+", default=[27, 32, 37], help="QPs of the host mode")
    p.add_argument("--hybrid-qp", type=int, nargs="+", help="QPs of the hybrid mode (default: the middle --qp)")
    p.add_argument("--nn-sizes", type=parse_nn_sizes, default=DEMO_NN_SIZES,
                   help="CU sizes given an NN trial in the hybrid mode (default 64,128; 32 too is ~3x slower)")
    p.add_argument("--levels", type=int, nargs="+", default=[2, 4, 6], help="levels of the nn mode")
    p.add_argument("--modes", default=",".join(DEFAULT_MODES), help=f"comma-separated, from {','.join(MODES)}")
    p.add_argument("--out", default="demo_out", help="folder for the bitstreams, decoded PNGs and report")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        p.error(f"unknown mode(s) {unknown}; available: {', '.join(MODES)}")
    h, w = read_image(sample_path()).shape[:2]
    rows = run(args.qp, Path(args.out), modes, args.levels, args.hybrid_qp, args.nn_sizes)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"sample picture {w}x{h} ({sample_path().name}); report, plots and decoded pictures in {args.out}/")
        print("\n".join(table(rows)))
        print("decoded == encoder reconstruction: yes (checked bit for bit)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
