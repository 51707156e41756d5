"""RD experiments: code every picture at every operating point, resumably, and compare by BD-rate.

A *point* is (picture, codec, parameter): codec "host"/"nn" are ours (parameter = QP or level), any
name of ``hybridcodec.anchors`` is an anchor (parameter = its quality knob).  Finished points are
appended to a JSON-lines file and skipped when the experiment is run again.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bitstream.errors import InputError
from hybridcodec.bdrate import bd_rate
from hybridcodec.imageio import read_image
from hybridcodec.metrics import ms_ssim, psnr_rgb, psnr_y

OUR_CODECS = ("host", "nn")


@dataclass(frozen=True)
class Point:
    picture: str        # path
    codec: str
    param: int
    options: tuple = ()  # extra EncoderConfig options as sorted (name, value) pairs

    @property
    def key(self) -> str:
        return json.dumps([Path(self.picture).name, self.codec, self.param, list(self.options)])


def code_point(point: Point) -> dict:
    """Code one point and measure it (runs in a worker process)."""
    image = read_image(point.picture)
    if point.codec in OUR_CODECS:
        from hybridcodec.decoder import decode
        from hybridcodec.encoder import Encoder
        from hybridcodec.config import EncoderConfig
        knob = "qp" if point.codec == "host" else "level"
        options = dict(point.options)
        result = Encoder(EncoderConfig(mode=point.codec, **{knob: point.param}, **options)).encode(image)
        t0 = time.perf_counter()
        decoded = decode(result.bitstream)
        decode_s = time.perf_counter() - t0
        exact = bool(np.array_equal(decoded, result.reconstruction))
        nbytes, encode_s = len(result.bitstream), result.stats.seconds
    else:
        from hybridcodec.anchors import encode_decode
        r = encode_decode(point.codec, image, point.param)
        decoded, nbytes, encode_s, decode_s, exact = r.decoded, r.num_bytes, r.encode_seconds, r.decode_seconds, None
    h, w = image.shape[:2]
    row = asdict(point)
    row.update(key=point.key, name=Path(point.picture).name, width=w, height=h, bytes=nbytes,
               bpp=8 * nbytes / (w * h), psnr_y=psnr_y(image, decoded),
               psnr_rgb=psnr_rgb(image, decoded) if image.ndim == 3 else None,
               ms_ssim=ms_ssim(image, decoded), encode_s=encode_s, decode_s=decode_s, exact=exact)
    return row


def load_rows(path: Path) -> dict[str, dict]:
    rows = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows[row["key"]] = row
    return rows


def run_points(points: list[Point], results: Path, jobs: int = 2, progress: bool = True) -> list[dict]:
    """Code the points not yet in ``results`` (JSON lines), append them, return all rows of ``points``."""
    results.parent.mkdir(parents=True, exist_ok=True)
    done = load_rows(results)
    todo = [p for p in points if p.key not in done]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(points), initial=len(points) - len(todo), desc="rd", unit="point")
    with open(results, "a") as out:
        def record(row: dict) -> None:
            done[row["key"]] = row
            out.write(json.dumps(row) + "\n")
            out.flush()
            if bar:
                bar.update(1)
        if jobs <= 1:
            for p in todo:
                record(code_point(p))
        else:
            with ProcessPoolExecutor(jobs) as pool:
                for row in pool.map(code_point, todo):
                    record(row)
    if bar:
        bar.close()
    return [done[p.key] for p in points]


def curves(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """Rows grouped by (picture name, codec label), each group sorted by rate."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        label = r["codec"] + "".join(f",{k}={v}" for k, v in r["options"])
        groups.setdefault((r["name"], label), []).append(r)
    return {k: sorted(v, key=lambda r: r["bpp"]) for k, v in groups.items()}


def bd_rates(rows: list[dict], anchor: str, test: str, metric: str = "psnr_y",
             method: str = "akima") -> dict[str, float]:
    """Per-picture BD-rate (%) of ``test`` against ``anchor``; pictures whose curves don't overlap
    are reported as NaN rather than silently dropped."""
    groups = curves(rows)
    out = {}
    for name in sorted({n for n, _ in groups}):
        a, t = groups.get((name, anchor)), groups.get((name, test))
        if not a or not t:
            continue
        try:
            out[name] = bd_rate([r["bpp"] for r in a], [r[metric] for r in a],
                                [r["bpp"] for r in t], [r[metric] for r in t], method=method)
        except InputError:    # curves that do not overlap: reported, not dropped
            out[name] = float("nan")
    return out
