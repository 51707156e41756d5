"""Golden bitstreams: hash every dev picture's bitstream in each mode at two QPs, or check them.

A refactor that must not change the format is checked by hashes computed *before* it starts:

    python benchmarks/golden_streams.py ../shared/data/dev --out docs/golden_streams_dev.json
    python benchmarks/golden_streams.py ../shared/data/dev --check docs/golden_streams_dev.json

Modes: host (loop filter on, as by default), hybrid (the default encoder), nn (whole picture) and
nn-patches (256-sample patches).  ``--jobs`` splits the pictures over processes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

MODES = {"host": dict(mode="host"), "hybrid": dict(mode="hybrid"), "nn": dict(mode="nn"),
         "nn-patches": dict(mode="nn", nn_patch_size=256)}


def hashes_of(path: str, qps: tuple[int, ...], modes: tuple[str, ...]) -> dict[str, str]:
    import torch
    import hybridcodec
    from hybridcodec.imageio import read_image
    torch.set_num_threads(1)
    image = read_image(path)
    return {f"{Path(path).name}|{m}|{qp}": hashlib.sha256(hybridcodec.encode(image, qp=qp, **MODES[m])).hexdigest()
            for m in modes for qp in qps}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("--qps", type=int, nargs="+", default=[27, 37])
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    p.add_argument("--jobs", type=int, default=1)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", help="write the hashes (JSON)")
    g.add_argument("--check", help="compare with hashes written before (JSON); exit 1 on any difference")
    a = p.parse_args()
    from tqdm import tqdm
    paths = sorted(str(f) for f in Path(a.folder).glob("*.png"))
    hashes: dict[str, str] = {}
    with ProcessPoolExecutor(a.jobs) as pool:
        for h in tqdm(pool.map(hashes_of, paths, [tuple(a.qps)] * len(paths), [tuple(a.modes)] * len(paths)),
                      total=len(paths), desc="golden streams"):
            hashes.update(h)
    if a.out:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        Path(a.out).write_text(json.dumps({"commit": commit, "qps": a.qps, "modes": a.modes,
                                           "hashes": dict(sorted(hashes.items()))}, indent=1) + "\n")
        print(f"{len(hashes)} bitstreams hashed into {a.out}")
        return
    ref = json.loads(Path(a.check).read_text())["hashes"]
    diff = sorted(k for k in hashes if ref.get(k) != hashes[k])
    missing = sorted(set(ref) - set(hashes))
    print(f"{len(hashes) - len(diff)}/{len(hashes)} bitstreams identical to {a.check}; "
          f"{len(missing)} of its streams not re-made")
    for k in diff:
        print("DIFFERENT:", k)
    sys.exit(1 if diff else 0)


if __name__ == "__main__":
    main()
