"""Cache of host-only searches (encoder-only): one pickle per picture and QP.

The loop filter acts after deblocking and never changes the host's decisions, so every filter
experiment (on/off, ablations, other weights) can start from the same searched pictures:

    python benchmarks/host_search_cache.py ../shared/data/dev --qp 22 27 32 37 --cache runs/host_cache/dev

Each internal bit depth has its own file names (``--internal-bit-depth``, default the encoder's 10:
``..._q32_ibd10_v2.pkl``; 0, the input's own, as before session 37: ``..._q32_v2.pkl``), so one folder
holds both.
"""
from __future__ import annotations

import argparse
import pickle
from pathlib import Path

from host.encoder.picture import encode_host
from hybridcodec.config import EncoderConfig
from hybridcodec.encoder import Encoder
from hybridcodec.imageio import read_image
from hybridcodec.encoder.source import prepare_source
from nntools.training.data import list_images


CACHE_VERSION = 2     # 2: PictureHeader with the SYNTAX.md element names (issue 27); older pickles are not read


def cache_path(cache: Path, picture: Path, qp: int, internal_bit_depth: int = 0) -> Path:
    depth = f"_ibd{internal_bit_depth}" if internal_bit_depth else ""
    return cache / f"{picture.stem}_q{qp}{depth}_v{CACHE_VERSION}.pkl"


def load_or_search(picture: Path, qp: int, cache: Path, cfg: EncoderConfig | None = None):
    """(source, host encoding) of ``picture`` coded host-only at ``qp``, deblocked and not filtered."""
    cfg = cfg or EncoderConfig()
    path = cache_path(cache, picture, qp, cfg.internal_bit_depth)
    if path.exists():
        return pickle.loads(path.read_bytes())
    enc = Encoder(cfg.with_options(qp=qp, mode="host"))
    src = prepare_source(read_image(picture), enc.config)
    host = encode_host(enc.header_for(src), src.planes, enc.search_config())
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps((src, host)))
    tmp.replace(path)
    return src, host


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder")
    p.add_argument("--qp", type=int, nargs="+", default=[22, 27, 32, 37])
    p.add_argument("--cache", required=True)
    p.add_argument("--internal-bit-depth", type=int, default=EncoderConfig.internal_bit_depth, choices=[0, 8, 10])
    a = p.parse_args()
    cfg = EncoderConfig(internal_bit_depth=a.internal_bit_depth)
    from tqdm import tqdm
    jobs = [(pic, qp) for pic in list_images(a.folder) for qp in a.qp]
    for pic, qp in tqdm(jobs, desc="host search"):
        load_or_search(pic, qp, Path(a.cache), cfg)


if __name__ == "__main__":
    main()
