"""Peak memory of whole-picture NN coding against picture size: patches versus one piece (issue 5, seed 003).

    python benchmarks/patch_memory.py --data ../shared/data/dev --out runs/patch_memory

A dev picture is mirrored out (or cropped) to each size, 960x540 (0.5 MP) up to 7680x4320 (33 MP),
and coded in NN-only mode as patches (P = 256, N = 16, batch 8) at every size, and in one piece up to
--full-max-mp.  Encoding and decoding each run in a fresh process, so each peak RSS (getrusage
ru_maxrss) is that step's own; "base" is the peak before the step (interpreter, weights, picture or
bitstream).  Each process's address space is capped at --memory-limit-gb: a step that needs more is
reported "out of memory" instead of starving the shared machine.  A sampler thread reads the current
RSS every 20 ms and keeps the project call stack at its highest reading ("peak at").  The encoder also
reports the binarised symbols it keeps until it writes the rANS stream and the merge's buffers, and a last
process measures each picture-sized step without the networks (tracemalloc), at the largest size.
Printed and written to OUT/patch_memory.md / .json.  Goal: 7680x4320 coded and decoded in under 3 GB.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
SIZES = ("960x540", "1920x1080", "3840x2160", "5376x3024", "7680x4320")
GOAL_MB = 3000.0


# ---- measuring (child process) ------------------------------------------------------------------

def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024       # Linux: KiB


class RssSampler:
    """Samples the current RSS and remembers the main thread's project call stack at its highest."""

    def __init__(self, interval: float = 0.02):
        self.interval, self.peak_mb, self.where = interval, 0.0, ""
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        page_mb = os.sysconf("SC_PAGE_SIZE") / 2 ** 20
        with open("/proc/self/statm") as statm:
            while not self._stop.wait(self.interval):
                statm.seek(0)
                rss = int(statm.read().split()[1]) * page_mb
                if rss > self.peak_mb:
                    self.peak_mb, self.where = rss, project_stack(sys._current_frames().get(self._main))


def project_stack(frame) -> str:
    """'file:line function' of the four innermost project frames of a stack (benchmarks left out),
    outermost first."""
    out = []
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if PROJECT in path.parents and "benchmarks" not in path.parts:
            out.append(f"{path.relative_to(PROJECT)}:{frame.f_lineno} {frame.f_code.co_name}")
        frame = frame.f_back
    return " > ".join(reversed(out[:4]))


def make_picture(source: Path, width: int, height: int) -> np.ndarray:
    """The source picture mirrored out (or cropped) to width x height: natural detail at every size."""
    from hybridcodec.imageio import read_image
    image = read_image(source)[:height, :width]
    return np.pad(image, ((0, height - image.shape[0]), (0, width - image.shape[1]), (0, 0)), mode="symmetric")


def digest(picture: np.ndarray) -> str:
    return hashlib.sha1(memoryview(np.ascontiguousarray(picture)).cast("B")).hexdigest()[:12]   # no copy


def child_encode(args: argparse.Namespace) -> dict:
    import nntools.encoder as nn_encoder
    import nntools.patches as nn_patches
    from hybridcodec.encoder import Encoder
    width, height = map(int, args.size.split("x"))
    image = make_picture(args.picture, width, height)
    encoder = Encoder(mode="nn", level=args.level, nn_patch_size=args.patch, nn_patch_overlap=args.overlap,
                      nn_patch_batch=args.batch)
    encoder.nn_bundle()                                  # weights loaded before the baseline
    kept = {"symbols_mb": 0.0, "stream_mb": 0.0, "accumulators_mb": 0.0}
    finish, merged = nn_encoder.StreamWriter.finish, nn_patches.PatchMerger.planes

    def measured_finish(self):
        kept["symbols_mb"] = sum(p.start.nbytes + p.freq.nbytes for p in self.encoder._passes) / 2 ** 20
        tracemalloc.start()
        payload = finish(self)
        kept["stream_mb"] = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
        return payload

    def measured_planes(self):
        kept["accumulators_mb"] = sum(a.nbytes for a in self.band + self.out) / 2 ** 20
        return merged(self)
    nn_encoder.StreamWriter.finish, nn_patches.PatchMerger.planes = measured_finish, measured_planes
    base = peak_rss_mb()
    with RssSampler() as sampler:
        t0 = time.perf_counter()
        result = encoder.encode(image)
        seconds = time.perf_counter() - t0
    Path(args.bitstream).write_bytes(result.bitstream)
    return {"rss_mb": peak_rss_mb(), "base_mb": base, "seconds": seconds, "bytes": len(result.bitstream),
            "peak_at": sampler.where, "digest": digest(result.reconstruction), **kept}


def child_decode(args: argparse.Namespace) -> dict:
    from hybridcodec.decoder import decode
    from nntools.zoo import available_models, load_bundle
    data = Path(args.bitstream).read_bytes()
    for name in available_models():                      # weights loaded before the baseline
        load_bundle(name)
    base = peak_rss_mb()
    with RssSampler() as sampler:
        t0 = time.perf_counter()
        picture = decode(data)
        seconds = time.perf_counter() - t0
    return {"rss_mb": peak_rss_mb(), "base_mb": base, "seconds": seconds, "peak_at": sampler.where,
            "digest": digest(picture)}


def child_buffers(args: argparse.Namespace) -> dict:
    """Traced peak (tracemalloc) of each picture-sized step of patch coding with the networks left
    out (each patch's source samples stand in for its reconstruction): where the per-pixel memory is."""
    from hybridcodec.encoder import Encoder
    from hybridcodec.encoder.source import prepare_source
    from hybridcodec.picture import output_picture
    from nntools.encoder import patch_planes
    from nntools.patches import PatchGrid, PatchMerger
    width, height = map(int, args.size.split("x"))
    image = make_picture(args.picture, width, height)
    encoder = Encoder(mode="nn", nn_patch_size=args.patch, nn_patch_overlap=args.overlap)
    stages: dict[str, dict] = {"RGB picture (input, or the decoder's output)": {"peak_mb": image.nbytes / 2 ** 20,
                                                                              "kept_mb": image.nbytes / 2 ** 20}}

    def traced(name: str, step):
        tracemalloc.start()
        out = step()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        stages[name] = {"peak_mb": peak / 2 ** 20, "kept_mb": current / 2 ** 20}
        return out
    src = traced("hybridcodec/picture.py prepare_source (RGB -> YCbCr planes)",
                 lambda: prepare_source(image, encoder.config))
    header = encoder.header_for(src)
    h, w = src.planes[0].shape
    grid = PatchGrid(w, h, args.patch, args.overlap)
    ph, pw = grid.patch_shape()

    def merge() -> PatchMerger:
        merger = PatchMerger(grid, src.chroma_format, src.bit_depth)
        for x, y in grid.origins():
            merger.add(x, y, patch_planes(src.planes, x, y, ph, pw, src.chroma_format))
        return merger
    merger = traced("nntools/patches.py PatchMerger accumulators, every patch added", merge)
    planes = traced("nntools/patches.py PatchMerger.planes()", merger.planes)
    del merger
    traced("hybridcodec/picture.py output_picture (YCbCr planes -> RGB)", lambda: output_picture(planes, header))
    return {"size": args.size, "pixels": width * height, "patches": len(grid.origins()), "stages": stages}


# ---- driving (parent process) -------------------------------------------------------------------

def patch_count(width: int, height: int, patch: int, overlap: int) -> int:
    from host.partition import CODED_SIZE_MULTIPLE
    from nntools.patches import PatchGrid
    if not patch:
        return 1
    coded = [-(-n // CODED_SIZE_MULTIPLE) * CODED_SIZE_MULTIPLE for n in (width, height)]
    return len(PatchGrid(coded[0], coded[1], patch, overlap).origins())


def run_child(args: argparse.Namespace, step: str, size: str, patch: int, overlap: int, bitstream: Path) -> dict:
    """One step in a fresh process: its JSON result, or {"error": last line of its stderr}."""
    command = [sys.executable, __file__, "--child", step, "--size", size, "--patch", str(patch),
               "--overlap", str(overlap), "--batch", str(args.batch), "--level", str(args.level),
               "--picture", str(args.picture), "--bitstream", str(bitstream)]
    limit = int(args.memory_limit_gb * 2 ** 30)
    done = subprocess.run(command, capture_output=True, text=True,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    if done.returncode:
        message = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        oom = "alloc" in message.lower() or "memoryerror" in message.lower()
        return {"error": f"out of memory (over {args.memory_limit_gb:g} GB)" if oom else message[:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(args: argparse.Namespace, size: str, patch: int, overlap: int) -> dict:
    """Encode, then decode its bitstream: one row of the table."""
    bitstream = args.out / f"{size}_p{patch}_n{overlap}.hbc"
    enc = run_child(args, "encode", size, patch, overlap, bitstream)
    dec = run_child(args, "decode", size, patch, overlap, bitstream) if "error" not in enc else {}
    bitstream.unlink(missing_ok=True)
    width, height = map(int, size.split("x"))
    return {"size": size, "megapixels": width * height / 1e6, "mode": "patches" if patch else "one piece",
            "patch": patch, "overlap": overlap, "batch": args.batch if patch else None,
            "patches": patch_count(width, height, patch, overlap), "encode": enc, "decode": dec,
            "exact": enc.get("digest") is not None and enc.get("digest") == dec.get("digest")}


def growth_mb_per_mp(rows: list[dict], step: str) -> float | None:
    """Least-squares slope of peak RSS over megapixels (None with fewer than two sizes)."""
    points = [(r["megapixels"], r[step]["rss_mb"]) for r in rows if "rss_mb" in r[step]]
    if len(points) < 2:
        return None
    mp, mb = np.array(points).T
    return float(np.polyfit(mp, mb, 1)[0])


def report(rows: list[dict], buffers: dict, args: argparse.Namespace) -> str:
    def cell(step: dict, key: str, fmt: str) -> str:
        """The value, or (in the peak column) why the step has none."""
        return format(step[key], fmt) if key in step else step.get("error", "-") if key == "rss_mb" else "-"
    lines = [f"NN-only coding at level {args.level} of {args.picture.name} mirrored out to each size; peak RSS "
             f"(MB, getrusage) of encoding and of decoding, each in a fresh process; base = before the step "
             f"(weights and picture or bitstream loaded); patches P = {args.patch}, N = {args.overlap}, "
             f"batch {args.batch}; symbols = the binarised latent symbols the encoder keeps until "
             f"it writes the rANS stream; stream = traced peak of writing it; accumulators = the merge's "
             f"band of integer accumulators and its merged planes", "",
             "| mode | size | MP | patches | encode MB | base | encode s | symbols MB | stream MB | "
             "accumulators MB | decode MB | base | decode s | exact |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        e, d = r["encode"], r["decode"]
        lines.append(f"| {r['mode']} | {r['size']} | {r['megapixels']:.1f} | {r['patches']} | "
                     f"{cell(e, 'rss_mb', '.0f')} | {cell(e, 'base_mb', '.0f')} | {cell(e, 'seconds', '.1f')} | "
                     f"{cell(e, 'symbols_mb', '.1f')} | {cell(e, 'stream_mb', '.1f')} | "
                     f"{cell(e, 'accumulators_mb', '.1f')} | {cell(d, 'rss_mb', '.0f')} | "
                     f"{cell(d, 'base_mb', '.0f')} | {cell(d, 'seconds', '.1f')} | "
                     f"{'yes' if r['exact'] else '-' if 'error' in e or 'error' in d else 'NO'} |")
    lines += ["", "Where each peak was reached (innermost project frames at the highest sampled RSS):", ""]
    for r in rows:
        for step in ("encode", "decode"):
            if r[step].get("peak_at"):
                lines.append(f"- {r['mode']} {r['size']} {step}: `{r[step]['peak_at']}`")
    lines.append("")
    for mode in ("patches", "one piece"):
        own = [r for r in rows if r["mode"] == mode]
        for step in ("encode", "decode"):
            slope = growth_mb_per_mp(own, step)
            if slope is not None:
                lines.append(f"- {mode}, {step}: peak RSS grows {slope:.0f} MB per megapixel "
                             f"({slope * 2 ** 20 / 1e6:.0f} bytes per pixel)")
    goal = [r for r in rows if r["mode"] == "patches" and r["size"] == "7680x4320"]
    if goal:
        peaks = [goal[0][s].get("rss_mb", float("inf")) for s in ("encode", "decode")]
        lines.append(f"- goal (7680x4320 coded and decoded in under {GOAL_MB:.0f} MB): "
                     f"{'met' if max(peaks) < GOAL_MB else 'NOT met'} (encode {peaks[0]:.0f} MB, "
                     f"decode {peaks[1]:.0f} MB)")
    if "stages" in buffers:
        pixels = buffers["pixels"]
        lines += ["", f"Picture-sized buffers at {buffers['size']} ({buffers['patches']} patches), networks left "
                  "out (tracemalloc: peak while the step runs, and what it keeps):", "",
                  "| step | peak MB | bytes per pixel | kept MB |", "| --- | ---: | ---: | ---: |"]
        for name, st in buffers["stages"].items():
            lines.append(f"| {name} | {st['peak_mb']:.0f} | {st['peak_mb'] * 2 ** 20 / pixels:.1f} | "
                         f"{st['kept_mb']:.0f} |")
        per_patch = [r["encode"]["symbols_mb"] / r["patches"] for r in rows
                     if r["mode"] == "patches" and r["encode"].get("symbols_mb")]
        if per_patch:
            mb = max(per_patch) * buffers["patches"]
            lines.append(f"| nntools/encoder.py StreamWriter (binarised symbols of every patch, "
                         f"{max(per_patch):.2f} MB each, measured above) | {mb:.0f} | "
                         f"{mb * 2 ** 20 / pixels:.1f} | {mb:.0f} |")
    elif buffers:
        lines += ["", f"buffer analysis failed: {buffers.get('error')}"]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data/dev"))
    p.add_argument("--picture", type=Path, help="source picture (default: the first of --data)")
    p.add_argument("--sizes", nargs="+", default=list(SIZES), help="WxH")
    p.add_argument("--full-max-mp", type=float, default=8.0, help="largest size also coded in one piece")
    p.add_argument("--patch", type=int, default=256)
    p.add_argument("--overlap", type=int, default=16)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--level", type=int, default=3)
    p.add_argument("--memory-limit-gb", type=float, default=12.0,
                   help="address-space limit of each measuring process (protects a shared machine)")
    p.add_argument("--buffers-size", help="WxH of the per-step buffer analysis (default: the largest size)")
    p.add_argument("--out", type=Path, default=Path("runs/patch_memory"))
    p.add_argument("--child", choices=("encode", "decode", "buffers"), help=argparse.SUPPRESS)
    p.add_argument("--size", help=argparse.SUPPRESS)
    p.add_argument("--bitstream", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps({"encode": child_encode, "decode": child_decode, "buffers": child_buffers}[args.child](args)))
        return
    from nntools.training.data import list_images
    args.picture = (args.picture or list_images(args.data)[0]).resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        width, height = map(int, size.split("x"))
        settings = [(args.patch, args.overlap)] + ([(0, 0)] if width * height <= args.full_max_mp * 1e6 else [])
        for patch, overlap in settings:
            rows.append(measure(args, size, patch, overlap))
            print(f"{size} {rows[-1]['mode']}: encode {rows[-1]['encode'].get('rss_mb', '-')} MB, "
                  f"decode {rows[-1]['decode'].get('rss_mb', '-')} MB", file=sys.stderr, flush=True)
    largest = max(args.sizes, key=lambda s: np.prod([int(v) for v in s.split("x")]))
    buffers = run_child(args, "buffers", args.buffers_size or largest, args.patch, args.overlap, args.out / "unused")
    from hybridcodec.eval.experiments import write_report     # here: the measured children need not load it
    write_report(args.out, "patch_memory", report(rows, buffers, args), {"rows": rows, "buffers": buffers})


if __name__ == "__main__":
    main()
