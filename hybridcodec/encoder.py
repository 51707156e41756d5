"""The encoder of the public API: configuration in, bitstream + reconstruction + statistics out."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from bitstream.container import PictureHeader, SubstreamType, write_container
from host.encoder.picture import encode_host
from host.encoder.search import SearchConfig
from host.partition import PictureGeometry
from hybridcodec.config import EncoderConfig
from hybridcodec.picture import SourcePicture, output_picture, prepare_source


@dataclass
class EncodeStats:
    bits_by_category: dict[str, float]       # estimated from the context states while writing
    total_bytes: int
    bpp: float
    seconds: float
    cu_count: int
    area_by_mode: dict[str, float] = field(default_factory=dict)   # share of picture area per path


@dataclass
class EncodeResult:
    bitstream: bytes
    reconstruction: np.ndarray                # what decode(bitstream) returns, bit for bit
    stats: EncodeStats


class Encoder:
    def __init__(self, config: EncoderConfig | None = None, **options):
        config = config or EncoderConfig()
        self.config = config.with_options(**options) if options else config

    def header_for(self, src: SourcePicture) -> PictureHeader:
        c = self.config
        nn = c.mode == "nn"
        return PictureHeader(
            width=src.width, height=src.height, bit_depth=src.bit_depth, chroma_format=src.chroma_format,
            ctu_size=c.ctu_size, min_cu_size=c.min_cu_size, max_tu_size=c.max_tu_size, qp=c.qp,
            deblocking_enabled=c.deblocking, dst4_enabled=c.dst4, nn_compress_enable=nn,
            nn_level_offset=0, output_channels=src.output_channels, output_bit_depth=src.output_bit_depth,
            color_matrix=src.color_matrix, model_id=self.nn_bundle().model_id if nn else b"")

    def nn_bundle(self):
        from nntools.zoo import load_bundle
        return load_bundle(self.config.nn_model)

    def encode(self, image: np.ndarray, trace_sink=None, progress: bool = False) -> EncodeResult:
        t0 = time.perf_counter()
        c = self.config
        src = prepare_source(image, c)
        header = self.header_for(src)
        if c.mode == "nn":
            return self._encode_nn(src, header, t0)
        search = SearchConfig(rd_modes=c.rd_modes, rdoq=c.rdoq, dst4_enabled=c.dst4,
                              zero_cbf_split_stop=c.zero_cbf_split_stop,
                              large_cu_bottom_up=c.large_cu_bottom_up, chroma_rd_modes=c.chroma_rd_modes)
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=len(PictureGeometry.from_header(header).ctu_origins()), desc="encode",
                       unit="CTU", leave=False)
        host = encode_host(header, src.planes, search, trace_sink=trace_sink, progress=bar)
        if bar is not None:
            bar.close()
        data = write_container(header, [(SubstreamType.HOST_CABAC, host.payload)])
        recon = output_picture(host.planes, header)
        seconds = time.perf_counter() - t0
        stats = EncodeStats(host.bits_by_category, len(data), 8 * len(data) / (src.width * src.height),
                            seconds, len(host.cus), {"host": 1.0})
        return EncodeResult(data, recon, stats)

    def _encode_nn(self, src: SourcePicture, header: PictureHeader, t0: float) -> EncodeResult:
        from nntools.encoder import encode_picture
        payload, planes = encode_picture(self.nn_bundle(), src.planes, src.chroma_format, src.bit_depth,
                                         self.config.level)
        data = write_container(header, [(SubstreamType.NN_LATENTS, payload)])
        stats = EncodeStats({"nn_latents": 8.0 * len(payload)}, len(data), 8 * len(data) / (src.width * src.height),
                            time.perf_counter() - t0, 0, {"nn": 1.0})
        return EncodeResult(data, output_picture(planes, header), stats)
