"""The encoder of the public API: configuration in, bitstream + reconstruction + statistics out."""
from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from bitstream.errors import InputError
from bitstream.container import NN_PATCH_SIZES, PictureHeader, SubstreamType, read_container, write_container
from bitstream.header_coder import HeaderWriter
from host.encoder.alf import AlfSearchConfig
from host.encoder.cost import plane_sse
from host.encoder.picture import HostEncoding, encode_host, trace_encoding
from host.encoder.screen import is_screen_content
from host.encoder.search import SearchConfig
from host.partition import CuMode, PictureGeometry, visible_area
from host.encoder.quant import qp_to_lambda
from hybridcodec.config import NN_FLAG_CODINGS, EncoderConfig
from hybridcodec.encoder.memory import plan_memory
from hybridcodec.encoder.source import SourcePicture, prepare_source
from hybridcodec.picture import output_picture

_WARNED: set[str] = set()


@dataclass
class EncodeStats:
    bits_by_category: dict[str, float]       # estimated from the context states while writing
    total_bytes: int
    bpp: float
    seconds: float
    cu_count: int
    area_by_mode: dict[str, float] = field(default_factory=dict)   # share of picture area per path
    nn_trials: int = 0                       # CUs the hybrid search coded with the NN to compare
    loop_filter: dict = field(default_factory=dict)   # the loop filter's picture-level decisions


@dataclass
class EncodeResult:
    bitstream: bytes
    reconstruction: np.ndarray                # what decode(bitstream) returns, bit for bit
    stats: EncodeStats
    planes: list[np.ndarray] = field(default_factory=list)   # coded-size YCbCr reconstruction


class Encoder:
    def __init__(self, config: EncoderConfig | None = None, **options):
        config = config or EncoderConfig()
        self.config = config.with_options(**options) if options else config

    def header_for(self, src: SourcePicture) -> PictureHeader:
        c = self.config
        nn = c.mode != "host"
        hybrid = c.mode == "hybrid"
        codec = self.nn_codec() if nn else None
        ts = self.transform_skip_enabled(src)
        return PictureHeader.build(
            width=src.width, height=src.height, bit_depth=src.bit_depth, chroma_format_idc=src.chroma_format,
            ctu_size=c.ctu_size, min_cu_size=c.min_cu_size, max_tu_size=c.max_tu_size, pic_qp=c.qp,
            deblocking_enabled_flag=c.deblocking, dst4_enabled_flag=c.dst4, context_init_flag=c.context_init,
            transform_skip_enabled_flag=ts, dep_quant_enabled_flag=c.dep_quant,
            sign_data_hiding_enabled_flag=c.sign_hiding and not c.dep_quant,
            cclm_enabled_flag=c.cclm and src.chroma_format != 0,
            log2_max_transform_skip_size_minus2=c.max_ts_size.bit_length() - 3 if ts else 0,
            nn_compress_enable_flag=nn,
            nn_level_offset=c.nn_level_offset if hybrid else 0,
            nn_min_cu_size=(32 if c.nn_decision == "cu" else c.ctu_size) if hybrid else 32,
            nn_flag_coding=NN_FLAG_CODINGS.index(c.nn_flag_coding) if hybrid else 0,
            nn_delta_level_enabled_flag=c.nn_delta_level and hybrid,
            nn_deblocking_enabled_flag=c.nn_deblocking or not hybrid,
            nn_residual_enabled_flag=c.nn_residual and hybrid, nn_dc_enabled_flag=c.nn_dc and hybrid,
            nn_cbcr_separate_flag=c.nn_cbcr_separate and hybrid and src.chroma_format != 0,
            output_channels=src.output_channels, output_bit_depth=src.output_bit_depth,
            color_matrix=src.color_matrix, model_id=codec.model_id if nn else b"",
            nn_model_name=codec.name if nn else "", nn_nondeterministic_flag=nn and not codec.deterministic,
            nn_patch_size=self.plan.nn_patch_size if c.mode == "nn" else 0)

    def nn_codec(self):
        """The block codec plugin that ``nn_model`` names (``nntools.registry``); a non-deterministic one
        is used with a warning, once per process and codec."""
        from nntools.plugin import BLOCK_CODEC
        from nntools.registry import tool_for_encoding
        codec = tool_for_encoding(self.config.nn_model, BLOCK_CODEC)
        if not codec.deterministic and codec.name not in _WARNED:
            _WARNED.add(codec.name)
            warnings.warn(f"neural tool {codec.name!r} is not deterministic: its streams are marked "
                          "nn_nondeterministic_flag = 1 and may decode differently on other machines",
                          stacklevel=3)
        return codec

    def nn_encoder(self, src: SourcePicture):
        """The block codec's encoder side for this picture, at the host's λ."""
        from nntools.encoder.plugin import PictureContext
        lam = qp_to_lambda(self.config.qp, src.bit_depth)
        return self.nn_codec().encoder(PictureContext(src.planes, src.chroma_format, src.bit_depth, lam, self.config))

    def transform_skip_enabled(self, src: SourcePicture) -> bool:
        """transform_skip_enabled_flag: max_ts_size > 0 and, with ts_screen_detect, screen content."""
        c = self.config
        if c.max_ts_size == 0:
            return False
        return not c.ts_screen_detect or is_screen_content(src.planes[0][:src.height, :src.width])

    def search_config(self) -> SearchConfig:
        c = self.config
        return SearchConfig(rd_modes=c.rd_modes, rdoq=c.rdoq, dst4_enabled=c.dst4,
                            zero_cbf_split_stop=c.zero_cbf_split_stop,
                            large_cu_bottom_up=c.large_cu_bottom_up, chroma_rd_modes=c.chroma_rd_modes,
                            fast_rdoq=c.fast_rdoq, nxn_skip_residual_free=c.nxn_skip_residual_free,
                            nxn_skip_bits=c.nxn_skip_bits, nxn_rd_modes=c.nxn_rd_modes)

    def search_workers(self) -> int:
        """Processes of the host search: as configured, else one per torch thread where torch is loaded
        (``--threads``; an experiment pool sets 1 per worker), else one per usable core."""
        if self.config.search_workers:
            return self.config.search_workers
        torch = sys.modules.get("torch")
        if torch is not None:
            return torch.get_num_threads()
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    def encode(self, image: np.ndarray, trace_sink=None, progress: bool = False) -> EncodeResult:
        t0 = time.perf_counter()
        c = self.config
        src = prepare_source(image, c)
        self.plan = plan_memory(src.width, src.height, c, c.mode == "host" or self.nn_codec().patches)
        header = self.header_for(src)
        if c.mode == "nn":
            levels = self.nn_codec().levels
            if c.level >= levels:
                raise InputError(f"level {c.level}: {c.nn_model!r} has levels 0..{levels - 1}")
            result = self._encode_nn(src, header, t0, c.level)
            if trace_sink is not None:
                self._trace(result, None, None, trace_sink)
            return result
        hybrid = c.mode == "hybrid"
        host_check = hybrid and c.host_picture_check
        bar = None
        if progress:
            from tqdm import tqdm
            passes = 2 if host_check else 1
            bar = tqdm(total=passes * len(PictureGeometry.from_header(header).ctu_origins()), desc="encode",
                       unit="CTU", leave=False)
        nn = self._nn_candidates(src, header) if hybrid else None
        rd_sink = getattr(trace_sink, "rd_sink", None)
        post_search = self.loop_filter_search(src)
        host = encode_host(header, src.planes, self.search_config(), progress=bar, nn=nn, rd_sink=rd_sink,
                           post_search=post_search, workers=self.search_workers(), alf_search=self.alf_search())
        result = self._package(src, host, nn, t0)
        if host_check:
            host, result = self._host_picture_check(src, header, host, result, nn, t0, bar, rd_sink, post_search)
        if bar is not None:
            bar.close()
        if hybrid and c.nn_picture_check:
            from hybridcodec.nn_blocks import base_level
            whole = self._encode_nn(src, replace(header.without_nn(), nn_compress_enable_flag=True,
                                                 model_id=header.model_id, nn_model_name=header.nn_model_name,
                                                 nn_nondeterministic_flag=header.nn_nondeterministic_flag,
                                                 nn_patch_size_idc=NN_PATCH_SIZES.index(self.plan.nn_patch_size)),
                                    t0, base_level(self.nn_codec(), header))
            if self._cost(whole, src, header) < self._cost(result, src, header):
                result, host = whole, None
        if trace_sink is not None:
            self._trace(result, host, nn, trace_sink)
        return replace(result, stats=replace(result.stats, seconds=time.perf_counter() - t0))

    @staticmethod
    def _trace(result: EncodeResult, host: HostEncoding | None, nn, trace_sink) -> None:
        """The syntax trace of the picture kept, by the writer back-ends in the decoder's parse order:
        the container with picture_header(), the NN substream's prefix elements, then the coding tree
        of a host or hybrid picture.  Serialisation is deterministic: this is ``result.bitstream``'s."""
        header, substreams = read_container(result.bitstream)
        nn_payload = dict(substreams).get(SubstreamType.NN_LATENTS)
        write_container(header, substreams, trace_sink)
        hw = HeaderWriter(trace_sink=trace_sink)
        if host is None:
            from nntools.plugin import nn_picture
            nn_picture(hw, nn_payload[0])
        if nn_payload is not None:      # the elements the codec's decoder traces when it opens its payload
            from hybridcodec.nn_blocks import block_codec_of
            payload = nn_payload[1:] if host is None else nn_payload
            block_codec_of(header).open_regions(payload, header.chroma_format_idc, header.BitDepth, trace_sink)
        if host is None:
            return
        trace_encoding(host, trace_sink, nn.params if host.header.nn_compress_enable_flag else None)

    def alf_search(self) -> AlfSearchConfig | None:
        """The adaptive loop filter's search options, or None when it is off (alf_enabled_flag 0)."""
        return AlfSearchConfig() if self.config.alf else None

    def loop_filter_search(self, src: SourcePicture):
        """The loop filter's decisions as ``encode_host`` takes them, or None when it is off."""
        c = self.config
        if not c.nn_loop_filter:
            return None
        from nntools.plugin import LOOP_FILTER
        from nntools.registry import tool_for_encoding
        return tool_for_encoding(c.nn_lf_model, LOOP_FILTER).decider(src.planes, qp_to_lambda(c.qp, src.bit_depth), c)

    def _host_picture_check(self, src: SourcePicture, header: PictureHeader, hybrid: HostEncoding,
                            result: EncodeResult, nn, t0: float, bar, rd_sink,
                            post_search) -> tuple[HostEncoding, EncodeResult]:
        """The cheaper of the hybrid picture and the picture searched host-only (¶122).  The hybrid
        search priced nn_compress_flag into every host alternative, so the picture without NN syntax
        is searched on its own: hybrid never costs more than host-only."""
        host_only = encode_host(header.without_nn(), src.planes, self.search_config(), progress=bar,
                                rd_sink=rd_sink, post_search=post_search, workers=self.search_workers(),
                                alf_search=self.alf_search())
        packaged = self._package(src, host_only, None, t0)
        j_hybrid, j_host = self._cost(result, src, header), self._cost(packaged, src, header)
        if rd_sink is not None:     # the rd trace holds both searches' decisions, then this one
            rd_sink({"decision": "host_picture_check", "J_hybrid": j_hybrid, "J_host_only": j_host,
                     "kept": "host-only" if j_host <= j_hybrid else "hybrid"})
        if j_host <= j_hybrid:
            return host_only, replace(packaged, stats=replace(packaged.stats, nn_trials=nn.trials))
        return hybrid, result

    def _nn_candidates(self, src: SourcePicture, header: PictureHeader):
        from hybridcodec.nn_blocks import tree_params
        from hybridcodec.encoder.nn_search import NNCandidates, NNSearchConfig
        c = self.config
        cfg = NNSearchConfig(c.nn_min_variance, c.nn_max_host_cost, tuple(c.nn_sizes))
        return NNCandidates(self.nn_encoder(src), tree_params(self.nn_codec(), header), cfg)

    def _package(self, src: SourcePicture, host: HostEncoding, nn, t0: float) -> EncodeResult:
        """Container of a host or hybrid picture (``host.header``: a hybrid picture whose search chose
        no NN CU is written with nn_compress_enable_flag = 0)."""
        header = host.header
        bits = dict(host.bits_by_category)
        substreams = [(SubstreamType.HOST_CABAC, host.payload)]
        cu_count, nn_cus = 0, []
        for root in host.ctus:            # one CTU unpacked at a time
            for cu in root.leaves():
                cu_count += 1
                if cu.mode == CuMode.NN:
                    nn_cus.append(cu)
        if nn_cus:
            nn_payload = nn.stream(nn_cus)
            substreams.append((SubstreamType.NN_LATENTS, nn_payload))
            bits["nn_latents"] = 8.0 * len(nn_payload)
        data = write_container(header, substreams)
        nn_area = sum(visible_area(cu.x, cu.y, cu.size, src.width, src.height)
                      for cu in nn_cus) / (src.width * src.height)
        stats = EncodeStats(bits, len(data), 8 * len(data) / (src.width * src.height), time.perf_counter() - t0,
                            cu_count, {"host": 1.0 - nn_area, "nn": nn_area},
                            nn.trials if nn is not None else 0, host.lf_stats)
        return EncodeResult(data, output_picture(host.planes, header), stats, host.planes)

    def _cost(self, result: EncodeResult, src: SourcePicture, header: PictureHeader) -> float:
        """J = SSE(Y + Cb + Cr over the coded picture) + λ·bits, for the whole-picture decision."""
        sse = sum(plane_sse(o, r) for o, r in zip(src.planes, result.planes))
        return sse + qp_to_lambda(header.pic_qp, header.BitDepth) * 8 * len(result.bitstream)

    def _encode_nn(self, src: SourcePicture, header: PictureHeader, t0: float, level: int) -> EncodeResult:
        from nntools.plugin import nn_picture
        payload, planes = self.nn_encoder(src).code_picture(level, header.NnPatchSize)
        prefix = HeaderWriter()
        nn_picture(prefix, level)
        payload = prefix.output() + payload
        data = write_container(header, [(SubstreamType.NN_LATENTS, payload)])
        stats = EncodeStats({"nn_latents": 8.0 * len(payload)}, len(data), 8 * len(data) / (src.width * src.height),
                            time.perf_counter() - t0, 0, {"host": 0.0, "nn": 1.0})
        return EncodeResult(data, output_picture(planes, header), stats, planes)

