"""What the decoder loads: import time, decode time and imported modules per kind of stream.

    python benchmarks/decoder_imports.py

Each stream of the golden-stream test (tests/test_golden_streams.py) is decoded in a fresh
interpreter; the table lists the time to import ``hybridcodec``, the first decode (which loads the
neural tools' modules and weights where the stream needs them), the number of modules in
``sys.modules`` and the project modules among them.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"host": "host-420-q22", "host + loop filter": "host-sample-lf", "nn": "nn-level2",
         "nn patches": "nn-patches", "hybrid with NN CUs + loop filter": "hybrid-sample-lf"}
PROJECT = ("bitstream", "host", "nntools", "hybridcodec")

PROBE = """
import json, sys, time
t0 = time.perf_counter()
import hybridcodec
t1 = time.perf_counter()
hybridcodec.decode(open(sys.argv[1], "rb").read())
t2 = time.perf_counter()
project = sorted(m for m in sys.modules if m.split(".")[0] in %r)
print(json.dumps({"import_s": t1 - t0, "decode_s": t2 - t1, "modules": len(sys.modules), "project": project,
                  "cv2": "cv2" in sys.modules}))
""" % (PROJECT,)


def streams(folder: Path) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    import pytest
    import test_golden_streams as golden
    from steering import steer_nn
    out = {}
    for kind, case in KINDS.items():
        make, options, steer = golden.CASES[case]
        with pytest.MonkeyPatch.context() as mp:
            if steer:
                steer_nn(mp)
            import hybridcodec
            out[kind] = folder / f"{case}.hbc"
            out[kind].write_bytes(hybridcodec.encode(make(), **options))
    return out


def probe(path: Path, repeats: int = 3) -> dict:
    runs = [json.loads(subprocess.run([sys.executable, "-c", PROBE, str(path)], check=True, capture_output=True,
                                      text=True).stdout) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["import_s"] + r["decode_s"])
    return best | {"import_s": min(r["import_s"] for r in runs), "decode_s": min(r["decode_s"] for r in runs)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = {kind: probe(path) for kind, path in streams(Path(tmp)).items()}
    print("| stream | import hybridcodec s | first decode s | modules loaded | project modules | cv2 |")
    print("|---|---:|---:|---:|---:|---|")
    for kind, r in rows.items():
        print(f"| {kind} | {r['import_s']:.3f} | {r['decode_s']:.3f} | {r['modules']} | {len(r['project'])} | "
              f"{'yes' if r['cv2'] else 'no'} |")
    every = sorted(set().union(*(r["project"] for r in rows.values())))
    print(f"\nProject modules loaded by some decode ({len(every)}): {', '.join(every)}")


if __name__ == "__main__":
    main()
