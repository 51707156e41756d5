"""Command-line interface: ``hybridcodec encode|decode|inspect|rd|demo ...`` (also ``python -m hybridcodec``)."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from bitstream.container import NN_LF_NUM_TRANSFORMS
from bitstream.errors import CodecError
from hybridcodec.config import AUTO_PATCH_SIZE, MODES, NN_FLAG_CODINGS, EncoderConfig
from hybridcodec.imageio import YuvFrame, read_image, write_image, write_y4m, write_yuv
from hybridcodec.eval.metrics import psnr_rgb, psnr_y


def _add_encode(sub) -> None:
    p = sub.add_parser("encode", help="encode a picture to a .hbc bitstream",
                       description="Encode a picture (PNG/JPEG/PPM/TIFF, or raw .yuv/.y4m) to a .hbc bitstream.")
    p.add_argument("input", help="input picture")
    p.add_argument("-o", "--output", required=True, help="output bitstream (.hbc)")
    g = p.add_argument_group("coding")
    g.add_argument("-q", "--qp", type=int, default=EncoderConfig.qp,
                   help="quantisation parameter 0..51; in mode hybrid it also sets the NN level (default %(default)s)")
    g.add_argument("--mode", default=EncoderConfig.mode, choices=MODES,
                   help="hybrid: host codec and neural tool compete per CU; host: host codec only; nn: the "
                        "whole picture by the neural tool (default %(default)s)")
    g.add_argument("--chroma-format", default="420", choices=["420", "444"],
                   help="chroma format for RGB input (gray input is coded 4:0:0)")
    g.add_argument("--internal-bit-depth", type=int, default=EncoderConfig.internal_bit_depth, choices=[0, 8, 10],
                   help="bit depth the picture is coded at; 0: the input's (8-bit pictures at 8, 16-bit at 10); "
                        "the decoded picture keeps the input's bit depth (default %(default)s)")
    g.add_argument("--ctu-size", type=int, default=128, choices=[64, 128])
    g.add_argument("--min-cu-size", type=int, default=EncoderConfig.min_cu_size, choices=[4, 8],
                   help="4 allows NxN intra partitions of 8x8 CUs (four 4x4 luma blocks); 8 does not "
                        "(docs/RESULTS.md, host tools) (default %(default)s)")
    g.add_argument("--max-tu-size", type=int, default=32, choices=[32, 64])
    g.add_argument("--max-ts-size", type=int, default=EncoderConfig.max_ts_size, choices=[0, 4, 8, 16, 32],
                   help="transform skip for transform blocks up to this size, 0 = off (default %(default)s)")
    g.add_argument("--cclm", action=argparse.BooleanOptionalAction, default=EncoderConfig.cclm,
                   help="chroma may be predicted from luma: LM, LM-L, LM-T (default %(default)s)")
    g.add_argument("--sign-hiding", action=argparse.BooleanOptionalAction, default=EncoderConfig.sign_hiding,
                   help="sign data hiding: one coefficient sign per 4x4 sub-block inferred from the "
                        "parity of its levels (default %(default)s)")
    g.add_argument("--dep-quant", action=argparse.BooleanOptionalAction, default=EncoderConfig.dep_quant,
                   help="dependent quantisation: two interleaved quantisers chosen by a 4-state parity "
                        "chain, levels by trellis search; replaces sign hiding (default %(default)s)")
    g.add_argument("--ts-screen-detect", action=argparse.BooleanOptionalAction, default=EncoderConfig.ts_screen_detect,
                   help="enable transform skip only on pictures detected as screen content (default %(default)s)")
    g.add_argument("--no-deblock", action="store_true", help="disable the deblocking filter")
    g.add_argument("--no-dst4", action="store_true", help="DCT instead of DST-VII for 4x4 luma")
    g.add_argument("--no-context-init", action="store_true",
                   help="CABAC contexts start equiprobable instead of from the trained table")
    g.add_argument("--no-rdoq", action="store_true",
                   help="plain dead-zone quantisation instead of RDOQ (faster, ~6 %% more bits)")
    g.add_argument("--rd-modes", type=int, default=EncoderConfig.rd_modes,
                   help="luma modes given a full RD check (default %(default)s)")
    f = p.add_argument_group("encoder speed heuristics (trade a little coding efficiency for speed)")
    f.add_argument("--chroma-rd-modes", type=int, default=EncoderConfig.chroma_rd_modes,
                   help="chroma modes given a full RD check, 1..5, best by SATD (default %(default)s)")
    f.add_argument("--zero-cbf-split-stop", action=argparse.BooleanOptionalAction,
                   default=EncoderConfig.zero_cbf_split_stop,
                   help="do not try to split a CU whose best coding has no residual (default %(default)s)")
    f.add_argument("--large-cu-bottom-up", action=argparse.BooleanOptionalAction,
                   default=EncoderConfig.large_cu_bottom_up,
                   help="CUs above the transform size: try the split first, the whole CU only when "
                        "no quadrant splits further (default %(default)s)")
    f.add_argument("--fast-rdoq", default=",".join(EncoderConfig.fast_rdoq), metavar="KINDS",
                   help="mode trials that quantise plainly, RDOQ coding the chosen mode only: comma-separated "
                        "from luma (2Nx2N), nxn (4x4 blocks), chroma; all; none (default %(default)s)")
    f.add_argument("--nxn-skip-residual-free", action=argparse.BooleanOptionalAction,
                   default=EncoderConfig.nxn_skip_residual_free,
                   help="no NxN trial for an 8x8 CU whose best 2Nx2N luma has no residual (default %(default)s)")
    f.add_argument("--search-workers", type=int, default=EncoderConfig.search_workers, metavar="N",
                   help="processes searching a host-only picture's CTU rows in a wavefront; the bitstream "
                        "is the same for any N (default %(default)s: one per --threads)")
    f.add_argument("--nxn-skip-bits", type=float, default=EncoderConfig.nxn_skip_bits, metavar="BITS",
                   help="no NxN trial for an 8x8 CU whose best 2Nx2N luma costs fewer bits (default %(default)s)")
    f.add_argument("--nxn-rd-modes", type=int, default=EncoderConfig.nxn_rd_modes, metavar="N",
                   help="luma modes given a full RD check in each 4x4 block of an NxN trial (default %(default)s)")
    n = p.add_argument_group("neural tool (mode hybrid: host and NN compete per CU; mode nn: whole picture)")
    n.add_argument("--level", type=int, default=EncoderConfig.level,
                   help="rate level 0..7 of mode nn (default %(default)s); hybrid derives it from the QP")
    n.add_argument("--nn-model", default=EncoderConfig.nn_model, metavar="NAME|FILE.npz",
                   help="block codec: a plugin name (see `hybridcodec models`) or a weights file of the "
                        "built-in architecture (default %(default)s)")
    n.add_argument("--nn-rdoq-scale", type=float, default=EncoderConfig.nn_rdoq_scale, metavar="S",
                   help="RDOQ of the NN latent: weight of its distortion estimate (default %(default)s; "
                        "0: plain rounding)")
    n.add_argument("--nn-decision", default=EncoderConfig.nn_decision, choices=("cu", "ctu"),
                   help="cu: any CU of 32x32 or more may be NN-coded; ctu: whole CTUs only (default %(default)s)")
    n.add_argument("--nn-flag-coding", default=EncoderConfig.nn_flag_coding, choices=NN_FLAG_CODINGS,
                   help="nn_compress_flag: contexts by size and neighbours, one context, or bypass "
                        "(default %(default)s)")
    n.add_argument("--nn-delta-level", action=argparse.BooleanOptionalAction, default=EncoderConfig.nn_delta_level,
                   help="choose an nn_delta_level (-2..2) per CTU (default %(default)s)")
    n.add_argument("--nn-deblocking", action=argparse.BooleanOptionalAction, default=EncoderConfig.nn_deblocking,
                   help="deblock the edges of NN-coded CUs (default %(default)s)")
    n.add_argument("--nn-residual", action=argparse.BooleanOptionalAction, default=EncoderConfig.nn_residual,
                   help="NN-coded CUs may code the residual of a planar prediction instead of the samples "
                        "(default %(default)s)")
    n.add_argument("--nn-dc", action=argparse.BooleanOptionalAction, default=EncoderConfig.nn_dc,
                   help="NN-coded CUs may code the samples minus a separately coded DC per component "
                        "(default %(default)s)")
    n.add_argument("--nn-cbcr-separate", action=argparse.BooleanOptionalAction, default=EncoderConfig.nn_cbcr_separate,
                   help="separate luma/chroma decisions: an NN-coded CU may leave its chroma to host intra "
                        "coding (nn_compress_flag_cbcr; default %(default)s)")
    n.add_argument("--nn-level-offset", type=int, default=EncoderConfig.nn_level_offset, metavar="N",
                   help="-8..8, added to the level the QP maps to (default %(default)s)")
    n.add_argument("--nn-picture-check", action=argparse.BooleanOptionalAction,
                   default=EncoderConfig.nn_picture_check,
                   help="also code the whole picture with the NN and keep the cheaper (default %(default)s)")
    n.add_argument("--host-picture-check", action=argparse.BooleanOptionalAction,
                   default=EncoderConfig.host_picture_check,
                   help="also code the picture host-only (nn_compress_enable_flag 0) and keep the cheaper, so a "
                        "hybrid picture never costs more than host-only; off: about 40%% less encode time "
                        "(default %(default)s)")
    lf = p.add_argument_group("loop filters (modes host and hybrid, per CTU: a CNN after deblocking, then ALF)")
    lf.add_argument("--nn-loop-filter", action=argparse.BooleanOptionalAction, default=EncoderConfig.nn_loop_filter,
                    help="filter the deblocked picture where it lowers J; --no-nn-loop-filter writes "
                         "nn_lf_enabled_flag 0 (default %(default)s)")
    lf.add_argument("--nn-lf-model", default=EncoderConfig.nn_lf_model, metavar="NAME|FILE.npz",
                    help="loop-filter weights (default %(default)s)")
    lf.add_argument("--nn-lf-ctu-flags", action=argparse.BooleanOptionalAction, default=EncoderConfig.nn_lf_ctu_flags,
                    help="allow per-CTU nn_lf_ctb_flag; off: each component off or on everywhere (default %(default)s)")
    lf.add_argument("--nn-lf-scale", action=argparse.BooleanOptionalAction, default=EncoderConfig.nn_lf_scale,
                    help="least-squares residual scale per component; off: 1.0 (default %(default)s)")
    lf.add_argument("--nn-lf-chroma", action=argparse.BooleanOptionalAction, default=EncoderConfig.nn_lf_chroma,
                    help="filter Cb and Cr too (4:2:0 only) (default %(default)s)")
    lf.add_argument("--nn-lf-transforms", type=int, choices=NN_LF_NUM_TRANSFORMS,
                    default=EncoderConfig.nn_lf_transforms, metavar="N",
                    help="run the network on N flips/transposes of the picture and average "
                         "(log2_nn_lf_num_transforms; decode time grows with N; the packaged weights are "
                         "trained for 4) {1,2,4,8} (default %(default)s)")
    lf.add_argument("--alf", action=argparse.BooleanOptionalAction, default=EncoderConfig.alf,
                    help="adaptive loop filter after the neural one: clipped Wiener filters per luma class and chroma "
                         "component, sent in the picture header, on where they lower J; --no-alf writes "
                         "alf_enabled_flag 0 (default %(default)s)")
    q = p.add_argument_group("NN pictures as patches (mode nn and the whole-picture check) and memory")
    q.add_argument("--nn-patch-size", type=int, default=EncoderConfig.nn_patch_size, metavar="P",
                   choices=(0, 64, 128, 256, 512, 1024, 2048),
                   help="code the picture as patches of at most PxP, 64..2048 (default %(default)s: automatic, "
                        f"in one piece if it fits --memory-budget, else P = {AUTO_PATCH_SIZE})")
    q.add_argument("--nn-patch-overlap", type=int, default=EncoderConfig.nn_patch_overlap, metavar="N",
                   help="luma samples around each patch that its analysis sees (encoder-only: no extra bits), "
                        "even (default %(default)s)")
    q.add_argument("--memory-budget", dest="memory_budget_mb", type=int, default=EncoderConfig.memory_budget_mb,
                   metavar="MB", help="peak memory the encoder plans for: NN pictures go to patches above it, "
                                      "pictures that cannot fit are refused (default %(default)s)")
    t = p.add_argument_group("online optimisation of the NN coding (encoder-only; the decoder is unchanged)")
    t.add_argument("--nn-refine-steps", type=int, default=EncoderConfig.nn_refine_steps, metavar="N",
                   help="gradient steps on lambda*D + R for each NN-coded picture or CU candidate "
                        "(default %(default)s: off)")
    t.add_argument("--nn-refine-lr", type=parse_learning_rates, default=EncoderConfig.nn_refine_lr,
                   metavar="LR[,LR...]", help="learning rate (target latents: in quantisation steps); several: the "
                   f"best (lowest J) per picture or CU (default {','.join(map(str, EncoderConfig.nn_refine_lr))})")
    t.add_argument("--nn-refine-target", default=EncoderConfig.nn_refine_target, choices=("latents", "module"),
                   help="tune the latents, or a small pre-processing module before the analysis transform "
                        "(default %(default)s)")
    t.add_argument("--nn-refine-stop-mse", type=float, default=EncoderConfig.nn_refine_stop_mse, metavar="MSE",
                   help="stop refining once the MSE (samples in [0, 1]) is below MSE (default %(default)s: off)")
    t.add_argument("--nn-refine-rounding", default=EncoderConfig.nn_refine_rounding, choices=("ste", "sga"),
                   help="rounding while refining: straight-through, or stochastic Gumbel annealing "
                        "(default %(default)s)")
    t.add_argument("--nn-refine-hyper", action=argparse.BooleanOptionalAction, default=EncoderConfig.nn_refine_hyper,
                   help="also tune the hyper-latent z (default %(default)s)")
    s = p.add_argument_group("hybrid speed heuristics (skip NN trials that are unlikely to win)")
    s.add_argument("--nn-min-variance", type=float, default=EncoderConfig.nn_min_variance, metavar="V",
                   help="no NN trial on CUs whose luma variance is below V (default %(default)s: off)")
    s.add_argument("--nn-max-host-cost", type=float, default=EncoderConfig.nn_max_host_cost, metavar="C",
                   help="no NN trial where the host's J per luma sample is below C (default %(default)s: off)")
    s.add_argument("--nn-sizes", type=parse_nn_sizes, default=EncoderConfig.nn_sizes, metavar="S[,S...]",
                   help="CU sizes given an NN trial, from 32,64,128 (default "
                        f"{','.join(map(str, EncoderConfig.nn_sizes))})")
    r = p.add_argument_group("raw input (.yuv)")
    r.add_argument("-s", "--size", help="WxH of a .yuv input")
    r.add_argument("--input-bit-depth", type=int, default=8, help=".yuv sample bit depth (8 or 10)")
    r.add_argument("--input-chroma-format", default="420", choices=["400", "420", "444"])
    r.add_argument("--frame", type=int, default=0, help="frame index of a .yuv/.y4m input")
    o = p.add_argument_group("output")
    o.add_argument("--recon", help="also write the encoder's reconstruction (PNG, .yuv or .y4m)")
    o.add_argument("--trace", help="write the trace to this file (diff it against the decoder's)")
    o.add_argument("--trace-channels", default="syntax", type=_channels(("syntax", "cabac", "rd")),
                   help="comma-separated trace channels: syntax (elements), cabac (bins), rd (the encoder's "
                        "RD decisions, lines starting 'rd ') (default syntax)")
    o.add_argument("--json", action="store_true", help="print statistics as JSON")
    o.add_argument("--progress", action="store_true", help="show a progress bar")
    _add_threads(p)


def _add_threads(p) -> None:
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="torch threads of the neural tool (default: one per core). Use 1 when other jobs "
                        "share the machine: busy torch threads slowed a hybrid encode 3.5x in "
                        "docs/RESULTS.md. The output does not depend on it")


def _add_nn_model(p) -> None:
    p.add_argument("--nn-model", action="append", default=[], metavar="WEIGHTS.npz",
                   help="weights file of the built-in block codec to decode with, besides the installed "
                        "plugins (repeatable); the bitstream's nn_model_name and model id select among them")
    p.add_argument("--nn-lf-model", action="append", default=[], metavar="WEIGHTS.npz",
                   help="loop-filter weights file to decode with, besides the packaged ones (repeatable); "
                        "the bitstream's nn_lf_model_id selects among them")


def _add_decode(sub) -> None:
    p = sub.add_parser("decode", help="decode a .hbc bitstream",
                       description="Decode a .hbc bitstream to a picture (PNG etc., or .yuv/.y4m).")
    p.add_argument("input", help="input bitstream (.hbc)")
    p.add_argument("-o", "--output", required=True, help="output picture")
    _add_nn_model(p)
    p.add_argument("--trace", help="write the trace to this file")
    p.add_argument("--trace-channels", default="syntax", type=_channels(("syntax", "cabac")),
                   help="comma-separated trace channels: syntax (elements), cabac (bins) (default syntax)")
    p.add_argument("--json", action="store_true", help="print statistics as JSON")
    _add_threads(p)


def _add_inspect(sub) -> None:
    p = sub.add_parser("inspect", help="show a bitstream's header, coding tree and bits",
                       description="Decode a .hbc bitstream and show its picture header, the share of the "
                                   "picture coded by each path (host, NN), per CTU the coding tree (CU sizes, "
                                   "positions, intra modes, QP, cbf; nn_compress_flag and NN level in hybrid "
                                   "pictures) and the bits per syntax category, CTU and CU.")
    p.add_argument("input", help="input bitstream (.hbc)")
    _add_nn_model(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--map", metavar="OUT.png",
                   help="also draw CU boundaries (NN-coded CUs tinted) and a bits-per-pixel heat map")
    p.add_argument("--ctu", type=int, nargs="+", help="show the coding trees of these CTUs only (text)")
    p.add_argument("--summary", action="store_true", help="one line per CTU, no coding trees (text)")
    p.add_argument("-o", "--output", help="write the text or JSON here instead of printing it")


def _add_rd(sub) -> None:
    from hybridcodec.eval.rd import __doc__ as rd_doc, add_arguments
    p = sub.add_parser("rd", help="RD experiments against anchors (BD-rate, plots)", description=rd_doc,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)


def _channels(allowed: tuple[str, ...]):
    def parse(text: str) -> tuple[str, ...]:
        channels = tuple(c for c in text.split(",") if c)
        if not channels or any(c not in allowed for c in channels):
            raise argparse.ArgumentTypeError(f"channels must be among {','.join(allowed)}, got {text!r}")
        return channels
    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def parse_learning_rates(text: str) -> tuple[float, ...]:
    """``--nn-refine-lr 0.003,0.01,0.03`` -> (0.003, 0.01, 0.03)."""
    try:
        rates = tuple(float(v) for v in text.split(",") if v)
    except ValueError:
        rates = ()
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError(f"learning rates must be positive numbers, got {text!r}")
    return rates


def parse_nn_sizes(text: str) -> tuple[int, ...]:
    """``--nn-sizes 32,64,128`` -> (32, 64, 128)."""
    try:
        sizes = tuple(sorted({int(v) for v in text.split(",") if v}))
    except ValueError:
        sizes = ()
    if not sizes or not set(sizes) <= {32, 64, 128}:
        raise argparse.ArgumentTypeError(f"sizes must be among 32,64,128, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hybridcodec", description=(
        "Hybrid block-based image codec: a conventional intra host codec and a learned neural tool "
        "compete per block on rate-distortion cost."))
    sub = parser.add_subparsers(dest="command", required=True)
    _add_encode(sub)
    _add_decode(sub)
    _add_inspect(sub)
    _add_rd(sub)
    sub.add_parser("models", help="list the installed neural tools (plugins)",
                   description="List every installed neural tool: built-in, installed plugins (entry point "
                               "group hybridcodec.neural_tools), with kind, model id, levels and determinism."
                   ).add_argument("--json", action="store_true", help="print JSON")
    c = sub.add_parser("check", help="run the determinism checks on a neural tool",
                       description="Code small generated pictures with a block codec plugin and check that "
                                   "decoding is exact and identical across torch thread counts and runs "
                                   "(docs/PLUGINS.md). Exit status 0 when every check passes.")
    c.add_argument("model", help="plugin name (see `hybridcodec models`)")
    c.add_argument("--json", action="store_true", help="print JSON")
    sub.add_parser("demo", help="encode and decode the bundled sample picture", add_help=False)
    return parser


def write_picture(path: str, picture) -> None:
    suffix = Path(path).suffix.lower()
    if isinstance(picture, YuvFrame):
        if suffix == ".y4m":
            write_y4m(path, picture)
        elif suffix == ".yuv":
            write_yuv(path, picture.planes, picture.bit_depth)
        else:
            raise CodecError(f"a YCbCr picture is written as .yuv or .y4m, not {suffix}")
    else:
        write_image(path, picture)


def _open_trace(path: str | None):
    return open(path, "w") if path else None


def _trace_sink(file, channels: tuple[str, ...]):
    from bitstream.syntax_coder import ChannelTrace
    return ChannelTrace(file, channels) if file else None


def encoder_config(args) -> EncoderConfig:
    """Options named after an EncoderConfig field carry it; the --no-X switches negate theirs."""
    options = {f.name: getattr(args, f.name) for f in fields(EncoderConfig) if hasattr(args, f.name)}
    return EncoderConfig(**options, deblocking=not args.no_deblock, dst4=not args.no_dst4, rdoq=not args.no_rdoq,
                         context_init=not args.no_context_init)


def cmd_encode(args) -> dict:
    from hybridcodec.encoder import Encoder
    picture = read_image(args.input, size=args.size, bit_depth=args.input_bit_depth,
                         chroma_format=args.input_chroma_format, frame=args.frame)
    cfg = encoder_config(args)
    trace = _open_trace(args.trace)
    try:
        result = Encoder(cfg).encode(picture, trace_sink=_trace_sink(trace, args.trace_channels),
                                     progress=args.progress)
    finally:
        if trace:
            trace.close()
    Path(args.output).write_bytes(result.bitstream)
    if args.recon:
        write_picture(args.recon, result.reconstruction)
    s = result.stats
    report = {"input": args.input, "output": args.output, "qp": args.qp, "mode": args.mode,
              "bytes": s.total_bytes, "bpp": round(s.bpp, 5), "encode_seconds": round(s.seconds, 3),
              "cus": s.cu_count, "area_by_mode": {k: round(v, 5) for k, v in s.area_by_mode.items()},
              "nn_trials": s.nn_trials, "bits_by_category": {k: round(v, 1) for k, v in s.bits_by_category.items()},
              "loop_filter": s.loop_filter}
    if isinstance(picture, np.ndarray):
        report["psnr_y"] = round(psnr_y(picture, result.reconstruction), 4)
        if picture.ndim == 3:
            report["psnr_rgb"] = round(psnr_rgb(picture, result.reconstruction), 4)
    return report


def cmd_decode(args) -> dict:
    from hybridcodec.decoder import decode_full
    data = Path(args.input).read_bytes()
    trace = _open_trace(args.trace)
    t0 = time.perf_counter()
    try:
        result = decode_full(data, trace_sink=_trace_sink(trace, args.trace_channels), keep_structure=False)
    finally:
        if trace:
            trace.close()
    seconds = time.perf_counter() - t0
    write_picture(args.output, result.picture)
    width, height = result.header.PicWidthInLumaSamples, result.header.PicHeightInLumaSamples
    return {"input": args.input, "output": args.output, "width": width, "height": height,
            "bytes": len(data), "bpp": round(8 * len(data) / (width * height), 5),
            "decode_seconds": round(seconds, 3)}


def cmd_models(args) -> int:
    from nntools.registry import describe_all
    tools = describe_all()
    if args.json:
        print(json.dumps(tools, indent=2))
        return 0
    print(f"{'name':<24} {'kind':<12} {'model id':<33} {'levels':>6}  {'deterministic':<13} source")
    for t in tools:
        if "error" in t:
            print(f"{t['name']:<24} {'?':<12} {'(failed to load: ' + t['error'] + ')'}")
            continue
        print(f"{t['name']:<24} {t['kind']:<12} {t['model_id']:<33} {t.get('levels', ''):>6}  "
              f"{'yes' if t['deterministic'] else 'NO':<13} {t['source']}")
    return 0


def cmd_check(args) -> int:
    from nntools.conformance import check
    report = check(args.model)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.text())
    return 0 if report.passed else 1


def cmd_inspect(args) -> None:
    from hybridcodec.tools.inspector import format_text, inspect_file, to_json
    info = inspect_file(args.input)
    text = json.dumps(to_json(info), indent=1) + "\n" if args.json else \
        format_text(info, ctus=args.ctu, summary=args.summary)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    if args.map:
        from hybridcodec.tools.plots import inspection_map
        inspection_map(info, args.map)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:
        from hybridcodec.tools.demo import main as demo_main
        return demo_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "rd":
        from hybridcodec.eval.rd import run
        return run(args, command="hybridcodec " + shlex.join(argv))
    if getattr(args, "threads", None):
        import torch
        torch.set_num_threads(args.threads)
    try:
        if args.command in ("decode", "inspect"):
            from nntools.plugin import BLOCK_CODEC, LOOP_FILTER
            from nntools.registry import register_weights_file
            for path in args.nn_model:
                register_weights_file(path, BLOCK_CODEC)
            for path in args.nn_lf_model:
                register_weights_file(path, LOOP_FILTER)
        if args.command == "models":
            return cmd_models(args)
        if args.command == "check":
            return cmd_check(args)
        if args.command == "inspect":
            cmd_inspect(args)
            return 0
        report = {"encode": cmd_encode, "decode": cmd_decode}[args.command](args)
    except (CodecError, OSError) as exc:
        print(f"hybridcodec: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(text_report(report))
    return 0


def text_report(report: dict) -> str:
    """One line of ``key=value``; the area per coding path as ``area=host:0.875,nn:0.125``."""
    items = [f"{k}={v}" for k, v in report.items() if not isinstance(v, dict)]
    if "area_by_mode" in report:
        items.append("area=" + ",".join(f"{m}:{share:.3f}" for m, share in report["area_by_mode"].items()))
    return "  ".join(items)


if __name__ == "__main__":
    sys.exit(main())
