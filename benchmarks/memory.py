"""Peak memory and time of every mode against picture size, with default options (issue 25).

    python benchmarks/memory.py --modes nn --sizes 1024x1024 2048x1024 3840x2160 7680x4320 --out runs/memory_nn
    python benchmarks/memory.py --modes host hybrid --sizes 1024x1024 2048x1024 3840x2160 --out runs/memory_host

A dev picture is mirrored out (or cropped) to each size and coded with the encoder's defaults (no patch
or memory option: the encoder's memory plan, ``hybridcodec.encoder.memory``, chooses one piece or
patches), at QP --qp (host, hybrid) or --level (nn).  Encoding and decoding each run in a fresh
process, so each peak RSS (getrusage ru_maxrss) is that step's own; "base" is the peak before the step
(interpreter, weights, picture or bitstream).  Each process's address space is capped at
--memory-limit-gb.  A sampler thread reads the current RSS every 20 ms and keeps the project call stack
at its highest reading ("peak at").  Printed and written to OUT/memory.md / .json with the plan's
estimate beside each measured peak.  Goal: 7680x4320 in NN mode coded and decoded in under 3 GB.
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
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
SIZES = ("1024x1024", "2048x1024", "3840x2160", "7680x4320")
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
    from hybridcodec.encoder import Encoder
    from hybridcodec.encoder.memory import plan_memory
    width, height = map(int, args.size.split("x"))
    image = make_picture(args.picture, width, height)
    encoder = Encoder(mode=args.mode, qp=args.qp, level=args.level)
    plan = plan_memory(width, height, encoder.config)
    if args.mode != "host":
        encoder.nn_codec()                               # weights loaded before the baseline
    base = peak_rss_mb()
    with RssSampler() as sampler:
        t0 = time.perf_counter()
        result = encoder.encode(image)
        seconds = time.perf_counter() - t0
    Path(args.bitstream).write_bytes(result.bitstream)
    return {"rss_mb": peak_rss_mb(), "base_mb": base, "seconds": seconds, "bytes": len(result.bitstream),
            "peak_at": sampler.where, "digest": digest(result.reconstruction), "plan_mb": plan.estimate_mb,
            "nn_patch_size": plan.nn_patch_size}


def child_decode(args: argparse.Namespace) -> dict:
    from hybridcodec.decoder import decode
    from nntools.registry import load, names
    data = Path(args.bitstream).read_bytes()
    for name in names():                                 # weights loaded before the baseline
        load(name)
    base = peak_rss_mb()
    with RssSampler() as sampler:
        t0 = time.perf_counter()
        picture = decode(data)
        seconds = time.perf_counter() - t0
    return {"rss_mb": peak_rss_mb(), "base_mb": base, "seconds": seconds, "peak_at": sampler.where,
            "digest": digest(picture)}


# ---- driving (parent process) -------------------------------------------------------------------

def run_child(args: argparse.Namespace, step: str, size: str, mode: str, bitstream: Path) -> dict:
    """One step in a fresh process: its JSON result, or {"error": last line of its stderr}."""
    command = [sys.executable, __file__, "--child", step, "--size", size, "--mode", mode, "--qp", str(args.qp),
               "--level", str(args.level), "--picture", str(args.picture), "--bitstream", str(bitstream)]
    limit = int(args.memory_limit_gb * 2 ** 30)
    done = subprocess.run(command, capture_output=True, text=True,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    if done.returncode:
        message = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        oom = "alloc" in message.lower() or "memoryerror" in message.lower()
        return {"error": f"out of memory (over {args.memory_limit_gb:g} GB)" if oom else message[:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(args: argparse.Namespace, size: str, mode: str) -> dict:
    """Encode, then decode its bitstream: one row of the table."""
    bitstream = args.out / f"{mode}_{size}.hbc"
    enc = run_child(args, "encode", size, mode, bitstream)
    dec = run_child(args, "decode", size, mode, bitstream) if "error" not in enc else {}
    bitstream.unlink(missing_ok=True)
    width, height = map(int, size.split("x"))
    return {"size": size, "megapixels": width * height / 1e6, "mode": mode, "encode": enc, "decode": dec,
            "exact": enc.get("digest") is not None and enc.get("digest") == dec.get("digest")}


def growth_mb_per_mp(rows: list[dict], step: str) -> float | None:
    """Least-squares slope of peak RSS over megapixels (None with fewer than two sizes)."""
    points = [(r["megapixels"], r[step]["rss_mb"]) for r in rows if "rss_mb" in r[step]]
    if len(points) < 2:
        return None
    mp, mb = np.array(points).T
    return float(np.polyfit(mp, mb, 1)[0])


def report(rows: list[dict], args: argparse.Namespace) -> str:
    def cell(step: dict, key: str, fmt: str) -> str:
        """The value, or (in the peak column) why the step has none."""
        return format(step[key], fmt) if key in step else step.get("error", "-") if key == "rss_mb" else "-"
    lines = [f"{args.picture.name} mirrored out to each size; default options (mode nn at level {args.level}, "
             f"host and hybrid at QP {args.qp}); peak RSS (MB, getrusage) of encoding and of decoding, each in a "
             "fresh process; base = before the step (weights and picture or bitstream loaded); plan = the "
             "encoder's memory plan (its estimate, and one piece or the patch size it chose)", "",
             "| mode | size | MP | coded as | plan MB | encode MB | base | encode s | decode MB | base | decode s | "
             "exact |",
             "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        e, d = r["encode"], r["decode"]
        coded = "-" if "error" in e else "host" if r["mode"] == "host" else \
            f"patches of {e['nn_patch_size']}" if e.get("nn_patch_size") else "one piece" if r["mode"] == "nn" else "CUs"
        lines.append(f"| {r['mode']} | {r['size']} | {r['megapixels']:.1f} | {coded} | {cell(e, 'plan_mb', '.0f')} | "
                     f"{cell(e, 'rss_mb', '.0f')} | {cell(e, 'base_mb', '.0f')} | {cell(e, 'seconds', '.1f')} | "
                     f"{cell(d, 'rss_mb', '.0f')} | {cell(d, 'base_mb', '.0f')} | {cell(d, 'seconds', '.1f')} | "
                     f"{'yes' if r['exact'] else '-' if 'error' in e or 'error' in d else 'NO'} |")
    lines += ["", "Where each peak was reached (innermost project frames at the highest sampled RSS):", ""]
    for r in rows:
        for step in ("encode", "decode"):
            if r[step].get("peak_at"):
                lines.append(f"- {r['mode']} {r['size']} {step}: `{r[step]['peak_at']}`")
    lines.append("")
    for mode in args.modes:
        own = [r for r in rows if r["mode"] == mode]
        for step in ("encode", "decode"):
            slope = growth_mb_per_mp(own, step)
            if slope is not None:
                lines.append(f"- {mode}, {step}: peak RSS grows {slope:.0f} MB per megapixel "
                             f"({slope * 2 ** 20 / 1e6:.0f} bytes per pixel)")
    goal = [r for r in rows if r["mode"] == "nn" and r["size"] == "7680x4320"]
    if goal:
        peaks = [goal[0][s].get("rss_mb", float("inf")) for s in ("encode", "decode")]
        lines.append(f"- goal (7680x4320 in NN mode coded and decoded in under {GOAL_MB:.0f} MB): "
                     f"{'met' if max(peaks) < GOAL_MB else 'NOT met'} (encode {peaks[0]:.0f} MB, "
                     f"decode {peaks[1]:.0f} MB)")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data/dev"))
    p.add_argument("--picture", type=Path, help="source picture (default: the first of --data)")
    p.add_argument("--modes", nargs="+", choices=("nn", "host", "hybrid"), default=["nn"])
    p.add_argument("--sizes", nargs="+", default=list(SIZES), help="WxH")
    p.add_argument("--qp", type=int, default=32)
    p.add_argument("--level", type=int, default=3)
    p.add_argument("--memory-limit-gb", type=float, default=12.0,
                   help="address-space limit of each measuring process (protects a shared machine)")
    p.add_argument("--out", type=Path, default=Path("runs/memory"))
    p.add_argument("--child", choices=("encode", "decode"), help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    p.add_argument("--size", help=argparse.SUPPRESS)
    p.add_argument("--bitstream", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps({"encode": child_encode, "decode": child_decode}[args.child](args)))
        return
    from nntools.training.data import list_images
    args.picture = (args.picture or list_images(args.data)[0]).resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for mode in args.modes:
        for size in args.sizes:
            rows.append(measure(args, size, mode))
            r = rows[-1]
            print(f"{mode} {size}: encode {r['encode'].get('rss_mb', r['encode'].get('error'))} MB "
                  f"{r['encode'].get('seconds', '-')} s, decode {r['decode'].get('rss_mb', '-')} MB",
                  file=sys.stderr, flush=True)
    from hybridcodec.eval.experiments import write_report     # here: the measured children need not load it
    write_report(args.out, "memory", report(rows, args), {"rows": rows})


if __name__ == "__main__":
    main()
