"""Move a training run to a lent GPU machine and back, within what the device tool carries.

A device call carries 64 MiB (the repository included) and returns files of at most 16 MiB, so the
training set and the weights travel in pieces:

    python benchmarks/gpu_carry.py prepare --data ../shared/data/train --checkpoint RUN/checkpoint.pt --out .gpu
        # .gpu/d0, .gpu/d1, ...: the pictures' 4:2:0 planes in lossless WebP (nntools.training.data.pack_planes),
        # each folder at most --limit-mb; .gpu/init/init.pt: the checkpoint's weight average, float32.
    (device, one call per folder)  mkdir -p /tmp/planes && cp .gpu/d0/* /tmp/planes/
    (device)  setsid python3 -m nntools.training.train --data /tmp/planes --init .gpu/init/init.pt ... & echo $! > /tmp/train.pid
    (device, later calls)  wait with kill -0 $(cat /tmp/train.pid), not pgrep -f (it matches the calling shell)
    (device, before the lease ends)  python3 benchmarks/gpu_carry.py split /tmp/run/checkpoint.pt $OUT
    (here)    python benchmarks/gpu_carry.py join FETCHED_DIR --like RUN/checkpoint.pt --out NEW/checkpoint.pt

``join`` writes a checkpoint in the training format (the average as both the weights and the average,
no optimiser state), which ``nntools.training.export`` and ``benchmarks/validate_checkpoint.py`` read as they
read any run's.  Add ``.gpu/`` to ``.git/info/exclude`` so the pieces travel only when carried.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import torch

PART_PREFIX = "average_part"


def prepare(data: Path, checkpoint: Path, out: Path, limit_mb: float) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from nntools.training.data import PLANE_NAMES, pack_planes

    with tempfile.TemporaryDirectory() as tmp:
        pack_planes(data, tmp)
        folder, size, index = None, 0, 0
        for y_path in sorted(Path(tmp).glob("*.y.webp")):
            stem = y_path.name[:-len(".y.webp")]
            files = [y_path.with_name(f"{stem}.{n}.webp") for n in PLANE_NAMES]
            need = sum(f.stat().st_size for f in files)
            if folder is None or size + need > limit_mb * 2 ** 20:
                folder, size = out / f"d{index}", 0
                folder.mkdir(parents=True, exist_ok=True)
                index += 1
            for f in files:
                shutil.copy(f, folder / f.name)
            size += need
    state = torch.load(checkpoint, map_location="cpu")
    (out / "init").mkdir(parents=True, exist_ok=True)
    torch.save({"config": state["config"], "model": state.get("ema", state["model"])}, out / "init" / "init.pt")
    print(f"{index} data folders and init/init.pt written to {out}")


def split(checkpoint: Path, out: Path, parts: int) -> None:
    state = torch.load(checkpoint, map_location="cpu")
    average = state.get("ema", state["model"])
    keys = list(average)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(parts):
        torch.save({k: average[k] for k in keys[i::parts]}, out / f"{PART_PREFIX}{i}.pt")
    meta = {"step": state["step"], "elapsed": state["elapsed"], "ema_count": state.get("ema_count", 0)}
    torch.save(meta, out / f"{PART_PREFIX}_meta.pt")
    print(f"step {state['step']}, {state['elapsed']:.0f} s: weight average in {parts} parts in {out}")


def join(folder: Path, like: Path, out: Path) -> None:
    average = {}
    for part in sorted(folder.glob(f"{PART_PREFIX}[0-9]*.pt")):
        average.update(torch.load(part, map_location="cpu"))
    reference = torch.load(like, map_location="cpu")
    missing = set(reference["model"]) ^ set(average)
    if missing:
        raise SystemExit(f"the parts do not make up the model: {sorted(missing)[:5]} ...")
    meta = torch.load(folder / f"{PART_PREFIX}_meta.pt")
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": reference["config"], "model": average, "optimizer": None, "step": meta["step"],
                "elapsed": meta["elapsed"], "ema": average, "ema_count": meta["ema_count"]}, out)
    print(f"{out}: step {meta['step']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("prepare", help="pack the training set and the weights into carry-sized folders")
    a.add_argument("--data", type=Path, required=True)
    a.add_argument("--checkpoint", type=Path, required=True)
    a.add_argument("--out", type=Path, default=Path(".gpu"))
    a.add_argument("--limit-mb", type=float, default=40.0, help="MiB per data folder (the repo travels too)")
    b = sub.add_parser("split", help="(device) the weight average in parts small enough to come back")
    b.add_argument("checkpoint", type=Path)
    b.add_argument("out", type=Path)
    b.add_argument("--parts", type=int, default=3)
    c = sub.add_parser("join", help="(here) a training-format checkpoint from the fetched parts")
    c.add_argument("folder", type=Path)
    c.add_argument("--like", type=Path, required=True, help="a checkpoint of the same model, for its config")
    c.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    if args.command == "prepare":
        prepare(args.data, args.checkpoint, args.out, args.limit_mb)
    elif args.command == "split":
        split(args.checkpoint, args.out, args.parts)
    else:
        join(args.folder, args.like, args.out)


if __name__ == "__main__":
    main()
