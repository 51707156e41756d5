"""``hybridcodec rd``: rate-distortion experiments on a picture folder against real anchors.

    hybridcodec rd ../shared/data/dev --qp 22 27 32 37 --modes host,nn \\
        --anchors jpeg,webp,jpeg2000,x265,av1 --reference x265 --out runs/rd_dev

Every picture is coded at every point (our modes at each QP, or each level for "nn"; each anchor at
its default knob sweep, see ``hybridcodec.eval.anchors``), resumably (``OUT/points.jsonl``; finished points
are skipped), on a local process pool or a Dask cluster (``--dask tcp://scheduler:8786``).  Written to
OUT: per-picture rows (``points.csv``, ``points.json``), averaged curves (``curves.csv`` and one
CompressAI-style results file per codec in ``curves/``), BD-rates (``bd_rate.csv``/``.json``: the
mean of per-picture BD-rates on PSNR-Y, PSNR-RGB and MS-SSIM-RGB in dB, cubic and piecewise-cubic),
``rd.png``, ``timings.csv`` and ``summary.md`` (all the tables, also printed).  ``--compare FILE.json``
overlays published curves (CompressAI results files) on the plot and adds them to a BD-rate table
computed on averaged curves.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import sys
from pathlib import Path

import numpy as np

from bitstream.errors import CodecError, InputError
from hybridcodec.eval.bdrate import METHODS
from hybridcodec.config import MODES
from hybridcodec.eval.experiments import (METRICS, TIMING_FIELDS, Point, average_curves, bd_between_curves, bd_table,
                                     canonical_codec, compressai_results, knob, label_of, load_published,
                                     run_points)

DEFAULT_ANCHORS = "jpeg,webp,jpeg2000,x265,av1"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp")
DISPLAY_NAMES = {"jpeg": "JPEG", "webp": "WebP", "jpeg2000": "JPEG 2000", "heif": "HEIF (x265)",
                 "hevc": "x265 (HEVC intra)", "av1": "libaom (AV1 intra)"}
METRIC_TITLES = {"psnr_y": "PSNR-Y", "psnr_rgb": "PSNR-RGB", "ms_ssim_db": "MS-SSIM-RGB (dB)"}
ROW_FIELDS = ("name", "codec", "param", "options", "width", "height", "bytes", "bpp", "psnr_y", "psnr_rgb",
              "ms_ssim", "ms_ssim_rgb", "encode_s", "decode_s", "exact")


def display(label: str) -> str:
    codec, _, options = label.partition(",")
    return DISPLAY_NAMES.get(codec, codec) + (f" ({options})" if options else "")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("pictures", nargs="+", help="a folder of pictures, or picture files")
    p.add_argument("--out", required=True, help="results folder (re-running resumes it)")
    p.add_argument("--modes", default="host",
                   help=f"our coding modes, comma-separated, from {','.join(MODES)}; MODE@MODEL codes with the "
                        "block codec MODEL (a plugin name from `hybridcodec models`), e.g. hybrid,hybrid@my-codec")
    p.add_argument("--qp", type=int, nargs="+", default=[22, 27, 32, 37], help="QPs (every mode but nn)")
    p.add_argument("--levels", type=int, nargs="+", default=list(range(8)), help="levels of the nn mode")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="encoder option for our modes (an EncoderConfig field, e.g. rdoq=true); repeatable")
    p.add_argument("--anchors", default=DEFAULT_ANCHORS,
                   help=f"anchor codecs, comma-separated ('none' for none; default {DEFAULT_ANCHORS}); "
                        "unavailable ones are reported and skipped")
    p.add_argument("--sweep", action="append", default=[], metavar="ANCHOR=V1,V2,...",
                   help="knob values of an anchor instead of its default sweep; repeatable")
    p.add_argument("--reference", help="BD-rate reference (default: x265 if run, else the first anchor)")
    p.add_argument("--bd-methods", default="cubic,akima",
                   help=f"BD interpolation methods, comma-separated from {','.join(METHODS)} (default cubic,akima)")
    p.add_argument("--compare", nargs="+", default=[], metavar="FILE.json",
                   help="published curves (CompressAI results files) to overlay and compare")
    p.add_argument("--limit", type=int, help="only the first N pictures (sorted by name)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="local worker processes")
    p.add_argument("--dask", metavar="ADDRESS", help="run the points on this Dask scheduler instead")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def list_pictures(sources: list[str], limit: int | None) -> list[str]:
    pictures = []
    for source in map(Path, sources):
        if source.is_dir():
            pictures += sorted(str(p) for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif source.is_file():
            pictures.append(str(source))
        else:
            raise InputError(f"{source}: no such picture or folder")
    if not pictures:
        raise InputError("no pictures found")
    return pictures[:limit]


def _parse_value(text: str):
    """true/false, an int, a float, a comma-separated tuple of those (e.g. nn_sizes=64,128), or text."""
    if "," in text:
        return tuple(_parse_value(part) for part in text.split(","))
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def plan_points(args, pictures: list[str]) -> tuple[list[Point], list[str], dict[str, str]]:
    """The points to run, the curve labels in table order, and unavailable anchors with the reason."""
    from hybridcodec.eval.anchors import available_anchors, default_sweep
    from hybridcodec.config import EncoderConfig
    modes = [m.partition("@") for m in args.modes.split(",") if m]
    for mode, _, _ in modes:
        if mode not in MODES:
            raise InputError(f"unknown mode {mode!r}; available: {', '.join(MODES)}")
    options = {}
    for item in args.option:
        name, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--option expects NAME=VALUE, got {item!r}")
        options[name] = _parse_value(value)
    EncoderConfig.from_options(**options)                  # validate before coding anything
    option_pairs = tuple(sorted(options.items()))
    anchors = [] if args.anchors == "none" else [canonical_codec(a) for a in args.anchors.split(",") if a]
    available = available_anchors()
    unknown = [a for a in anchors if a not in available]
    if unknown:
        raise InputError(f"unknown anchor(s) {unknown}; known: {sorted(available)} and x265")
    missing = {a: available[a].reason for a in anchors if not available[a]}
    anchors = [a for a in anchors if a not in missing]
    sweeps = {}
    for item in args.sweep:
        name, _, values = item.partition("=")
        try:
            sweeps[canonical_codec(name)] = [int(v) for v in values.split(",")]
        except ValueError:
            raise InputError(f"--sweep expects ANCHOR=V1,V2,... with integers, got {item!r}") from None
    points, labels = [], []
    for mode, _, model in modes:
        params = args.levels if mode == "nn" else args.qp
        pairs = tuple(sorted({**options, "nn_model": model}.items())) if model else option_pairs
        if model:
            from hybridcodec.eval.experiments import nn_model_id
            try:
                nn_model_id(model)
            except CodecError as exc:
                raise InputError(f"--modes {mode}@{model}: {exc}") from None
        points += [Point(pic, mode, v, pairs) for pic in pictures for v in params]
        labels.append(label_of({"codec": mode, "options": pairs}))
    for anchor in anchors:
        points += [Point(pic, anchor, v) for pic in pictures for v in sweeps.get(anchor, default_sweep(anchor))]
        labels.append(anchor)
    return points, labels, missing


def default_reference(labels: list[str]) -> str:
    """x265 if it was run, else the first anchor, else the first of our curves."""
    anchors = [label for label in labels if label in DISPLAY_NAMES]
    return "hevc" if "hevc" in anchors else (anchors or labels)[0]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="hybridcodec rd", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return run(p.parse_args(argv), command="hybridcodec rd " + shlex.join(argv))


def run(args, command: str = "") -> int:
    try:
        methods = tuple(m for m in args.bd_methods.split(",") if m)
        if not methods or any(m not in METHODS for m in methods):
            raise InputError(f"--bd-methods must name methods from {METHODS}")
        published = [load_published(path) for path in args.compare]
        pictures = list_pictures(args.pictures, args.limit)
        points, labels, missing = plan_points(args, pictures)
        reference = canonical_codec(args.reference) if args.reference else default_reference(labels)
        if reference not in labels:
            raise InputError(f"reference {args.reference!r} is not among the curves run: {labels}")
    except (InputError, CodecError) as exc:
        print(f"hybridcodec rd: error: {exc}", file=sys.stderr)
        return 1
    for anchor, reason in missing.items():
        print(f"anchor {anchor} unavailable, skipped: {reason}", file=sys.stderr)
    out = Path(args.out)
    rows = run_points(points, out / "points.jsonl", jobs=args.jobs, progress=not args.no_progress,
                      dask_address=args.dask)
    summary = write_report(rows, labels, reference, methods, published, out, command, len(pictures))
    print(summary)
    return 0


def write_report(rows: list[dict], labels: list[str], reference: str, methods: tuple[str, ...],
                 published: list[tuple[str, list[dict]]], out: Path, command: str = "",
                 num_pictures: int = 0) -> str:
    """Write every output file of an experiment to ``out``; returns the summary (markdown)."""
    from hybridcodec.tools.plots import RdCurve, rd_figure
    out.mkdir(parents=True, exist_ok=True)
    _write_rows(rows, out)
    averaged = average_curves(rows)
    (out / "curves").mkdir(exist_ok=True)
    for label in labels:
        codec = label.split(",")[0]
        doc = compressai_results(display(label), averaged[label],
                                 f"hybridcodec rd: mean over {num_pictures} pictures; param = "
                                 + (knob(codec) if codec in MODES else "the anchor's knob"))
        name = label.replace(",", "_").replace("=", "-")
        (out / "curves" / f"{name}.json").write_text(json.dumps(_finite(doc), indent=1) + "\n")
    _write_csv(out / "curves.csv", [{"label": label, **p} for label in labels for p in averaged[label]])
    table = bd_table(rows, reference, labels, methods)
    _write_csv(out / "bd_rate.csv", table)
    others = [(display(lab), averaged[lab]) for lab in labels if lab != reference] + published
    on_averages = [{"label": name, "reference": reference, "method": method,
                    **{m: bd_between_curves(averaged[reference], points, m, method) for m in METRICS}}
                   for method in methods for name, points in others]
    (out / "bd_rate.json").write_text(json.dumps(_finite({"per_picture_mean": table, "averaged_curves": on_averages}),
                                                 indent=1) + "\n")
    timings = _timings(rows, labels)
    _write_csv(out / "timings.csv", timings)
    curves = [RdCurve(display(lab), [p["bpp"] for p in averaged[lab]],
                      {m: [p[m] for p in averaged[lab]] for m in METRICS}) for lab in labels]
    curves += [RdCurve(f"{name} (published)", [p["bpp"] for p in points], {m: [p[m] for p in points] for m in METRICS},
                       published=True) for name, points in published]
    rd_figure(curves, out / "rd.png", title=f"mean over {len({r['name'] for r in rows})} pictures")
    summary = _summary(rows, labels, reference, methods, table, on_averages, averaged, timings, command,
                       bool(published))
    (out / "summary.md").write_text(summary)
    return summary


def _finite(value):
    """NaN/inf -> None, recursively, so the JSON is standard (undefined BD-rates become null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _write_rows(rows: list[dict], out: Path) -> None:
    clean = [{k: (json.dumps(r[k]) if k == "options" else r.get(k)) for k in ROW_FIELDS} for r in rows]
    _write_csv(out / "points.csv", clean)
    (out / "points.json").write_text(json.dumps(_finite([{k: r.get(k) for k in ROW_FIELDS} for r in rows]),
                                                indent=1) + "\n")


def _write_csv(path: Path, rows: list[dict]) -> None:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _timings(rows: list[dict], labels: list[str]) -> list[dict]:
    out = []
    for label in labels:
        mine = [r for r in rows if label_of(r) == label]
        entry = {"label": label, "points": len(mine),
                 "megapixels_mean": round(float(np.mean([r["width"] * r["height"] for r in mine])) / 1e6, 4)}
        for field in TIMING_FIELDS:
            values = [r[field] for r in mine]
            entry[f"{field}_mean"] = round(float(np.mean(values)), 4)
            entry[f"{field}_median"] = round(float(np.median(values)), 4)
        out.append(entry)
    return out


def _fmt(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:+.1f}%"


def _summary(rows, labels, reference, methods, table, on_averages, averaged, timings, command,
             with_published: bool) -> str:
    names = sorted({r["name"] for r in rows})
    ours = [r for r in rows if r["exact"] is not None]
    lines = [f"# RD experiment: {len(names)} pictures, {len(rows)} points", ""]
    if command:
        lines += ["    " + command, ""]
    if ours:
        lines += [f"Our decoder output == encoder reconstruction on all {len(ours)} of our points: "
                  f"{'yes' if all(r['exact'] for r in ours) else 'NO'}", ""]
    for method in methods:
        lines += [f"## BD-rate vs {display(reference)}, {method} (mean of per-picture BD-rates; "
                  "negative = fewer bits)", "",
                  "| codec | " + " | ".join(METRIC_TITLES[m] for m in METRICS) + " | pictures |",
                  "| --- |" + " ---: |" * (len(METRICS) + 1)]
        for e in (e for e in table if e["method"] == method):
            lines.append(f"| {display(e['label'])} | " + " | ".join(_fmt(e[m]) for m in METRICS)
                         + f" | {e[METRICS[0] + '_pictures']} |")
        lines.append("")
    if with_published:
        for method in methods:
            lines += [f"## BD-rate vs {display(reference)} on averaged curves, {method} (published curves "
                      "are only meaningful on the same picture set)", "",
                      "| curve | " + " | ".join(METRIC_TITLES[m] for m in METRICS) + " |",
                      "| --- |" + " ---: |" * len(METRICS)]
            lines += [f"| {e['label']} | " + " | ".join(_fmt(e[m]) for m in METRICS) + " |"
                      for e in on_averages if e["method"] == method]
            lines.append("")
    lines += ["## Averaged curves", "", "| codec | param | bpp | PSNR-Y | PSNR-RGB | MS-SSIM-RGB (dB) |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for label in labels:
        for p in averaged[label]:
            lines.append(f"| {display(label)} | {p['param']} | {p['bpp']:.4f} | {_num(p['psnr_y'])} | "
                         f"{_num(p['psnr_rgb'])} | {_num(p['ms_ssim_db'])} |")
    lines += ["", "## Timings (seconds per picture; ffmpeg anchors include process start)", "",
              "| codec | points | encode mean | encode median | decode mean | decode median |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {display(t['label'])} | {t['points']} | {t['encode_s_mean']:.3f} | {t['encode_s_median']:.3f} | "
              f"{t['decode_s_mean']:.3f} | {t['decode_s_median']:.3f} |" for t in timings]
    return "\n".join(lines) + "\n"


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
