"""The neural loop filter: exact fixed-point inference, tiling, syntax, and decoder == encoder."""
import io

import numpy as np
import pytest
import torch

from bitstream.container import NN_LF_ALL_CTUS, NN_LF_PER_CTU, read_container
from bitstream.errors import BitstreamError, ModelMismatchError
from host.encoder.picture import encode_host
from host.syntax import LoopFilterCtbFlags
from hybridcodec import Encoder, EncoderConfig, decode, decode_full
from hybridcodec.encoder.source import prepare_source
from nntools.loop_filter.exact import TILE, TRANSFORMS, LoopFilterWeights, ensemble_correction, input_block, luma_correction
from nntools.loop_filter.picture import filter_picture, picture_edges
from nntools.loop_filter.zoo import DEFAULT_MODEL, load_weights
from pictures import synthetic_gray, synthetic_rgb


def reference_correction(weights: LoopFilterWeights, x: np.ndarray) -> np.ndarray:
    """The network in int64 arithmetic, straight from the definition in nntools.loop_filter.exact."""
    a = x.astype(np.int64)
    for i, layer in enumerate(weights.layers):
        w = layer.weight.numpy().astype(np.int64)
        b = layer.bias.numpy().astype(np.int64)
        k = layer.shift.numpy().astype(np.int64)
        padded = np.pad(a, ((0, 0), (1, 1), (1, 1)))
        h, wd = a.shape[1:]
        acc = np.zeros((w.shape[0], h, wd), dtype=np.int64) + b[:, None, None]
        for dy in range(3):
            for dx in range(3):
                acc += np.einsum("oi,ihw->ohw", w[:, :, dy, dx], padded[:, dy:dy + h, dx:dx + wd])
        out = (acc + (1 << (k - 1))[:, None, None]) >> k[:, None, None]
        last = i == len(weights.layers) - 1
        a = np.clip(out, -(1 << 13), 1 << 13) if last else np.clip(out, 0, weights.act_max)
    return a


@pytest.fixture(scope="module")
def weights() -> LoopFilterWeights:
    return load_weights(DEFAULT_MODEL)


def test_fixed_point_network_is_exact_integer_arithmetic(weights):
    planes = prepare_source(synthetic_rgb(40, 56, seed=1), EncoderConfig()).planes
    x = input_block(planes, 1, 8, 37, weights.cfg, 0, 20, 0, 28)
    exact = weights.correction(x)[0].numpy().astype(np.int64)
    assert np.array_equal(exact, reference_correction(weights, x[0].numpy().astype(np.int64)))
    assert np.abs(exact).max() > 0


def _transform_picture(planes: list[np.ndarray], ops, inverse: bool = False) -> list[np.ndarray]:
    """The transforms of SYNTAX.md §9.2 step 3 on full-resolution planes, straight from their wording."""
    do = {"t": lambda p: p.T, "h": lambda p: p[:, ::-1], "v": lambda p: p[::-1, :]}
    for op in (reversed(ops) if inverse else ops):
        planes = [do[op](p) for p in planes]
    return [np.ascontiguousarray(p) for p in planes]


@pytest.mark.parametrize("n", [1, 2, 4, 8])
def test_geometric_ensemble_follows_its_definition(weights, n):
    """The ensemble averages the network's corrections of the transformed pictures, transformed back,
    with (sum + n/2) >> log2(n); the implementation transforms the half-resolution stack instead."""
    rng = np.random.default_rng(n)
    h, w = 36, 52
    planes = [rng.integers(0, 1024, (2 * h, 2 * w)), rng.integers(0, 1024, (h, w)), rng.integers(0, 1024, (h, w))]
    total = None
    for ops in TRANSFORMS[:n]:
        tp = _transform_picture(planes, ops)
        x = input_block(tp, 1, 10, 33, weights.cfg, 0, tp[1].shape[0], 0, tp[1].shape[1])
        c = weights.correction(x)[0].numpy().astype(np.int64)
        back = _transform_picture([luma_correction(c[:4]), c[4], c[5]], ops, inverse=True)
        total = back if total is None else [a + b for a, b in zip(total, back)]
    expected = [(t + n // 2) >> (n.bit_length() - 1) for t in total]
    got = ensemble_correction(weights, input_block(planes, 1, 10, 33, weights.cfg, 0, h, 0, w), n)[0].numpy()
    got = [luma_correction(got[:4]), got[4], got[5]]
    assert all(np.array_equal(a, b) for a, b in zip(expected, got))


def test_ensemble_sizes_other_than_1_2_4_8_are_refused(weights):
    from nntools.encoder.loop_filter import LoopFilterSearchConfig
    x = torch.zeros(1, weights.cfg.in_channels, 8, 8)
    for n in (0, 3, 16):
        with pytest.raises(ValueError):
            ensemble_correction(weights, x, n)
        with pytest.raises(ValueError):
            LoopFilterSearchConfig(transforms=n)


@pytest.mark.parametrize("n,ops", [(8, ("t",)), (8, ("h", "v")), (4, ("h",)), (4, ("v",))])
def test_geometric_ensemble_commutes_with_its_transforms(weights, n, ops):
    """With the 8 transforms the filter of a flipped or transposed picture is the flipped or transposed
    filter output; with 4, for the flips."""
    rng = np.random.default_rng(3)
    planes = [rng.integers(0, 1024, (56, 88)), rng.integers(0, 1024, (28, 44)), rng.integers(0, 1024, (28, 44))]

    def corr(p):
        c = ensemble_correction(weights, input_block(p, 1, 10, 40, weights.cfg, 0, p[1].shape[0], 0, p[1].shape[1]),
                                n)[0].numpy()
        return [luma_correction(c[:4]), c[4], c[5]]
    expected = _transform_picture(corr(planes), ops)
    assert all(np.array_equal(a, b) for a, b in zip(expected, corr(_transform_picture(planes, ops))))


@pytest.mark.parametrize("log2_transforms", [0, 3])
def test_same_output_with_one_and_two_threads_and_any_tiling(weights, log2_transforms):
    image = synthetic_rgb(200, 264, seed=4)
    cfg = EncoderConfig(qp=40, mode="host", ctu_size=64, nn_loop_filter=False)
    enc = Encoder(cfg)
    src = prepare_source(image, cfg)
    host = encode_host(enc.header_for(src), src.planes, enc.search_config())
    rng = np.random.default_rng(0)
    lf = LoopFilterCtbFlags((NN_LF_PER_CTU, NN_LF_PER_CTU), rng.integers(0, 2, (2, 4, 5)).astype(np.uint8))
    from dataclasses import replace
    header = replace(host.header, nn_lf_enabled_flag=True, nn_lf_luma_mode=NN_LF_PER_CTU,
                     nn_lf_chroma_mode=NN_LF_PER_CTU, nn_lf_scale=(80, 40, 64), nn_lf_model_id=weights.model_id,
                     log2_nn_lf_num_transforms=log2_transforms)
    threads = torch.get_num_threads()
    outputs = []
    try:
        for n, tile in ((1, TILE), (2, TILE), (2, 32), (1, 64), (2, 4096)):
            torch.set_num_threads(n)
            outputs.append(filter_picture(weights, host.planes, header, lf, tile=tile))
        for tile in (32, 64, TILE):          # the decoder's way: in place, rows of tiles written a row late
            copies = [p.copy() for p in host.planes]
            outputs.append(filter_picture(weights, copies, header, lf, tile=tile, in_place=True))
            assert outputs[-1][0] is copies[0]
    finally:
        torch.set_num_threads(threads)
    for out in outputs[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(outputs[0], out))
    changed = [not np.array_equal(a, b) for a, b in zip(outputs[0], host.planes)]
    assert all(changed)
    off = np.kron(lf.flags[0] == 0, np.ones((64, 64), dtype=bool))[:200, :264]
    assert np.array_equal(outputs[0][0][:200, :264][off], host.planes[0][:200, :264][off])


def forced_post_search(modes=(NN_LF_PER_CTU, NN_LF_PER_CTU), scales=(64, 64, 64), seed=0, lf_weights=DEFAULT_MODEL,
                       log2_transforms=2):
    """A loop-filter 'search' that enables the filter with the given modes and random CTU flags (the
    weights are taken as the encoder takes them, so that a weights file is registered for decoding)."""
    from nntools.plugin import LOOP_FILTER
    from nntools.registry import tool_for_encoding
    weights = tool_for_encoding(lf_weights, LOOP_FILTER).weights
    rng = np.random.default_rng(seed)

    def post_search(header, planes, edges):
        from dataclasses import replace
        chroma = header.chroma_format_idc == 1
        m = (modes[0], modes[1] if chroma else 0)
        header = replace(header, nn_lf_enabled_flag=True, nn_lf_luma_mode=m[0], nn_lf_chroma_mode=m[1],
                         nn_lf_scale=(scales[0] if m[0] else 64,) + ((scales[1], scales[2]) if m[1] else (64, 64)),
                         nn_lf_model_id=weights.model_id, log2_nn_lf_num_transforms=log2_transforms)
        lf = LoopFilterCtbFlags.from_header(header, enc_geo(header))
        for c in range(2):
            if m[c] == NN_LF_PER_CTU:
                lf.flags[c] = rng.integers(0, 2, lf.flags[c].shape)
        return header, lf, filter_picture(weights, planes, header, lf, picture_edges(weights, edges)), {}
    return post_search


def forced_roundtrip(image, modes=(NN_LF_PER_CTU, NN_LF_PER_CTU), scales=(64, 64, 64), seed=0,
                     lf_weights=DEFAULT_MODEL, log2_transforms=2, **options):
    """Code with forced loop-filter decisions (random CTU flags), decode, compare with the encoder."""
    cfg = EncoderConfig(**{"mode": "host", "qp": 37, "nn_loop_filter": False, **options})
    enc = Encoder(cfg)
    src = prepare_source(image, cfg)
    post_search = forced_post_search(modes, scales, seed, lf_weights, log2_transforms)
    host = encode_host(enc.header_for(src), src.planes, enc.search_config(), post_search=post_search)
    from bitstream.container import SubstreamType, write_container
    from hybridcodec.picture import output_picture
    data = write_container(host.header, [(SubstreamType.HOST_CABAC, host.payload)])
    assert read_container(data)[0].nn_lf_enabled_flag
    assert np.array_equal(decode(data), output_picture(host.planes, host.header))
    return host


def enc_geo(header):
    from host.partition import PictureGeometry
    return PictureGeometry.from_header(header)


@pytest.mark.parametrize("height,width,log2_transforms,options", [
    (72, 88, 2, {}), (61, 90, 3, {"ctu_size": 64}), (8, 8, 3, {}), (130, 66, 3, {"chroma_format": "444"}),
    (100, 36, 1, {"min_cu_size": 4, "qp": 45}), (72, 88, 0, {"internal_bit_depth": 8}),
    (61, 90, 3, {"internal_bit_depth": 8, "chroma_format": "444"}),
])
def test_forced_flags_decode_to_the_encoder_reconstruction(height, width, log2_transforms, options):
    forced_roundtrip(synthetic_rgb(height, width, seed=height), scales=(90, 30, 127), log2_transforms=log2_transforms,
                     **options)


def test_forced_flags_gray_and_10_bit():
    forced_roundtrip(synthetic_gray(45, 70, seed=2), modes=(NN_LF_ALL_CTUS, 0))
    forced_roundtrip(synthetic_gray(45, 70, seed=2), modes=(NN_LF_ALL_CTUS, 0), internal_bit_depth=8, log2_transforms=3)
    forced_roundtrip(synthetic_rgb(40, 72, seed=3, dtype=np.uint16), modes=(NN_LF_PER_CTU, NN_LF_ALL_CTUS))


@pytest.mark.parametrize("mode,options", [
    ("host", {}), ("host", {"chroma_format": "444"}), ("host", {"ctu_size": 64, "qp": 42}),
    ("hybrid", {}),
])
def test_encoder_decisions_decode_exactly(mode, options):
    image = synthetic_rgb(96, 136, seed=7)
    result = Encoder(EncoderConfig(**{"mode": mode, "qp": 40, **options})).encode(image)
    decoded = decode_full(result.bitstream)
    assert np.array_equal(decoded.picture, result.reconstruction)
    assert "luma" in result.stats.loop_filter
    if decoded.header.nn_lf_enabled_flag:
        assert decoded.header.nn_lf_model_id == load_weights(DEFAULT_MODEL).model_id


def test_filter_lowers_the_cost_where_it_is_used():
    """With the filter's decisions, J never exceeds J of the same picture without the filter.  ALF is
    off in both: it decides after this filter, on its output, so the two greedy stages together
    promise no such bound (docs/RESULTS.md, issue 26: 2 of 16 dev pictures lose up to 0.11%)."""
    image = synthetic_rgb(128, 128, seed=12)
    on = Encoder(EncoderConfig(mode="host", qp=42, alf=False)).encode(image)
    off = Encoder(EncoderConfig(mode="host", qp=42, nn_loop_filter=False, alf=False)).encode(image)
    src = prepare_source(image, EncoderConfig())
    lam = __import__("host.encoder.quant", fromlist=["qp_to_lambda"]).qp_to_lambda(42, 8)

    def cost(r):
        sse = sum(float(np.sum((o.astype(np.int64) - p) ** 2)) for o, p in zip(src.planes, r.planes))
        return sse + lam * 8 * len(r.bitstream)
    assert cost(on) <= cost(off) + lam * 8       # the estimate of the flags' bits is within a byte
    assert not decode_full(off.bitstream).header.nn_lf_enabled_flag


def test_traces_match_and_name_the_flags():
    image = synthetic_rgb(64, 96, seed=5)
    enc_trace, dec_trace = io.StringIO(), io.StringIO()
    host = forced_roundtrip(image)
    from host.encoder.picture import trace_encoding
    from bitstream.container import SubstreamType, write_container
    data = write_container(host.header, [(SubstreamType.HOST_CABAC, host.payload)], trace_sink=enc_trace)
    trace_encoding(host, enc_trace)
    decode_full(data, trace_sink=dec_trace)
    assert enc_trace.getvalue() == dec_trace.getvalue() and "nn_lf_enabled_flag = 1" in enc_trace.getvalue()
    assert "nn_lf_ctb_flag" in enc_trace.getvalue()


def test_inspector_lists_flags_and_header():
    from hybridcodec.tools.inspector import format_text, inspect_bitstream, to_json
    from bitstream.container import SubstreamType, write_container
    host = forced_roundtrip(synthetic_rgb(64, 160, seed=8), ctu_size=64)
    info = inspect_bitstream(write_container(host.header, [(SubstreamType.HOST_CABAC, host.payload)]))
    assert info.header["nn_lf_enabled_flag"] == 1 and "nn_lf_model_id" in info.header
    flags = [c.nn_lf_ctb_flag for c in info.ctus]
    assert flags == [[int(host.lf.flags[k, i // 3, i % 3]) for k in range(2)] for i in range(len(info.ctus))]
    assert "nn_lf_ctb_flag luma" in format_text(info)
    assert all("nn_lf_ctb_flag" in c for c in to_json(info)["ctus"])


def test_unknown_weights_and_unsafe_weights_are_refused(weights, tmp_path):
    host = forced_roundtrip(synthetic_rgb(32, 32, seed=1))
    from dataclasses import replace
    from bitstream.container import SubstreamType, write_container
    data = write_container(replace(host.header, nn_lf_model_id=bytes(16)), [(SubstreamType.HOST_CABAC, host.payload)])
    with pytest.raises(ModelMismatchError, match="loop-filter weights"):
        decode(data)
    arrays = dict(np.load(_packaged_path()))
    arrays["conv1.w"] = np.full_like(arrays["conv1.w"], 32767)
    with pytest.raises(BitstreamError, match="overflow"):
        LoopFilterWeights.from_arrays("bad", arrays)
    arrays = dict(np.load(_packaged_path()))        # over the bound by the rounding offset 2^(k-1) alone
    w, k = arrays["conv0.w"].astype(np.int64), arrays["conv0.shift"].astype(np.int64)
    b = arrays["conv0.b"].copy()
    b[0] = (1 << 23) - np.abs(w[0]).sum() * 512 - (1 << (int(k[0]) - 1))
    arrays["conv0.b"] = b
    with pytest.raises(BitstreamError, match="overflow"):
        LoopFilterWeights.from_arrays("bad", arrays)
    b[0] -= 1
    assert LoopFilterWeights.from_arrays("edge", arrays).layers[0].bias[0] == b[0]


def _packaged_path():
    from nntools.loop_filter.zoo import MODELS, WEIGHTS_DIR
    return WEIGHTS_DIR / MODELS[DEFAULT_MODEL]


def test_off_switch_writes_no_filter_syntax():
    image = synthetic_rgb(64, 64, seed=2)
    data = Encoder(EncoderConfig(mode="host", qp=45, nn_loop_filter=False)).encode(image).bitstream
    assert not read_container(data)[0].nn_lf_enabled_flag


def test_cli_and_api_switches(tmp_path, capsys):
    """--no-nn-loop-filter / nn_loop_filter=False write flag 0; --json reports the filter's decisions."""
    import json
    import hybridcodec
    from hybridcodec.tools.cli import main
    from hybridcodec.imageio import write_image
    src = tmp_path / "in.png"
    write_image(src, synthetic_rgb(48, 64, seed=9))
    assert main(["encode", str(src), "-o", str(tmp_path / "on.hbc"), "--qp", "40", "--mode", "host", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"enabled", "luma"} <= set(report["loop_filter"])
    assert main(["encode", str(src), "-o", str(tmp_path / "off.hbc"), "--qp", "40", "--mode", "host",
                 "--no-nn-loop-filter"]) == 0
    assert not read_container((tmp_path / "off.hbc").read_bytes())[0].nn_lf_enabled_flag
    data = hybridcodec.encode(synthetic_rgb(48, 64, seed=9), qp=40, mode="host", nn_loop_filter=False)
    assert data == (tmp_path / "off.hbc").read_bytes()
    from hybridcodec.tools.cli import build_parser, encoder_config
    for n, option in ((4, []), (1, ["--nn-lf-transforms", "1"]), (8, ["--nn-lf-transforms", "8"])):
        assert encoder_config(build_parser().parse_args(["encode", "in.png", "-o", "o.hbc"] + option)).nn_lf_transforms == n


@pytest.mark.parametrize("n", [1, 8])
def test_encoder_writes_its_ensemble_size_and_filters_with_it(weights, n):
    """The encoder's decision carries log2_nn_lf_num_transforms, and its output is the normative filter's."""
    from nntools.encoder.loop_filter import LoopFilterSearchConfig, decide
    image = synthetic_rgb(72, 136, seed=13)
    cfg = EncoderConfig(mode="host", qp=42, nn_loop_filter=False, alf=False)
    enc = Encoder(cfg)
    src = prepare_source(image, cfg)
    host = encode_host(enc.header_for(src), src.planes, enc.search_config())
    header, lf, out, stats = decide(weights, host.header, src.planes, host.planes, host.edges, 0.0,
                                    LoopFilterSearchConfig(transforms=n))
    assert stats["enabled"] and header.NnLfNumTransforms == n
    expected = filter_picture(weights, host.planes, header, lf, picture_edges(weights, host.edges))
    assert all(np.array_equal(a, b) for a, b in zip(out, expected))


def test_hybrid_with_nn_cus_filters_them_too(force_nn, monkeypatch):
    """A hybrid picture with NN-coded CUs and the filter on (random CTU flags) decodes to the encoder's samples."""
    force_nn()
    monkeypatch.setattr(Encoder, "loop_filter_search", lambda self, src: forced_post_search(scales=(100, 20, 70)))
    image = synthetic_rgb(64, 96, seed=11)
    result = Encoder(EncoderConfig(mode="hybrid", qp=35)).encode(image)
    decoded = decode_full(result.bitstream)
    assert any(cu.mode.name == "NN" for cu in decoded.host.cus)
    assert np.array_equal(decoded.picture, result.reconstruction)
    assert decoded.header.nn_lf_enabled_flag and decoded.host.lf_flags.flags.any()


def test_batch_norm_folds_into_the_exported_convolutions():
    from nntools.training.loop_filter_model import FilterConfig, LoopFilterNet
    torch.manual_seed(0)
    net = LoopFilterNet(FilterConfig(channels=8, layers=4), batch_norm=True)
    x = torch.randn(2, 7, 12, 12)
    net(x)                                   # training mode: running statistics move
    with torch.no_grad():
        for norm in net.norms:
            norm.weight.uniform_(0.5, 2.0)
            norm.bias.uniform_(-0.1, 0.1)
    net.eval()
    folded = net.folded()
    assert folded.norms is None
    with torch.no_grad():
        assert torch.allclose(net(x), folded(x), atol=1e-6)


def test_decoder_takes_experimental_loop_filter_weights(tmp_path, monkeypatch):
    """Weights outside the package decode once given to the decoder (--nn-lf-model), not before."""
    from bitstream.container import SubstreamType, write_container
    from hybridcodec.tools.cli import main
    from nntools import registry
    arrays = dict(np.load(_packaged_path()))
    arrays["conv0.b"] = arrays["conv0.b"] + 1                 # another model id
    path = tmp_path / "lf.npz"
    np.savez(path, **arrays)
    host = forced_roundtrip(synthetic_rgb(40, 48, seed=6), lf_weights=str(path))   # the encoder registered it
    stream = tmp_path / "a.hbc"
    stream.write_bytes(write_container(host.header, [(SubstreamType.HOST_CABAC, host.payload)]))
    monkeypatch.setattr(registry, "_factories", {})                                  # a fresh decoder has not
    monkeypatch.setattr(registry, "_loaded", {})
    assert main(["decode", str(stream), "-o", str(tmp_path / "a.png")]) == 1
    assert main(["decode", str(stream), "-o", str(tmp_path / "a.png"), "--nn-lf-model", str(path)]) == 0


def test_loss_margin_ignores_the_samples_that_see_the_crop_padding():
    from nntools.training.train_loop_filter import crop_loss
    torch.manual_seed(1)
    corr, target = torch.randn(2, 6, 20, 20), torch.randn(2, 6, 20, 20)
    inner = (slice(None), slice(None), slice(4, 16), slice(4, 16))
    assert torch.isclose(crop_loss(corr, target, False, margin=4), ((corr - target)[inner] ** 2).mean())
    changed = corr.clone()
    changed[..., :4, :] += 5.0                       # only samples within the margin
    changed[..., :, -4:] -= 3.0
    assert crop_loss(changed, target, False, margin=4) == crop_loss(corr, target, False, margin=4)
    assert crop_loss(changed, target, False) > crop_loss(corr, target, False)


@pytest.mark.parametrize("n", [2, 4, 8])
def test_training_ensemble_is_the_decoders_ensemble_in_float(n):
    """``--transforms n`` trains the average the decoder computes: the float ensemble of a network is
    invariant to its own transforms (here a flip and, for 8, a transposition), and it is the mean of
    the single runs turned back, in the decoder's order."""
    from nntools.loop_filter.exact import transform_stack, untransform_stack
    from nntools.training.loop_filter_model import FilterConfig, LoopFilterNet
    from nntools.training.train_loop_filter import ensemble_forward
    torch.manual_seed(2)
    net = LoopFilterNet(FilterConfig(channels=8, layers=3)).eval()
    with torch.no_grad():
        net.convs[-1].weight.normal_(0, 0.1)
        x = torch.randn(2, 7, 10, 10)
        ops = ("t",) if n == 8 else ("h",)
        moved = ensemble_forward(net, transform_stack(x, ops), n)
        assert torch.allclose(untransform_stack(moved, ops), ensemble_forward(net, x, n), atol=1e-5)
        single = [untransform_stack(net(transform_stack(x, t)), t) for t in TRANSFORMS[:n]]
        assert torch.allclose(ensemble_forward(net, x, n), torch.stack(single).mean(0), atol=1e-6)
        assert not torch.allclose(single[0], single[1], atol=1e-3)      # the runs do differ
        assert torch.equal(ensemble_forward(net, x, 1), net(x))


def test_training_snapshots_average_into_a_checkpoint_that_exports(tmp_path):
    """``--snapshots`` keeps every checkpoint of a run; ``average_checkpoints`` makes their mean weights
    a checkpoint that training resumes from and the exporter turns into decodable weights."""
    from nntools.training.average_checkpoints import average_checkpoints
    from nntools.training.loop_filter_export import export
    from nntools.training.loop_filter_model import FilterConfig, LoopFilterNet
    from nntools.training.train_loop_filter import split_pairs, train
    rng = np.random.default_rng(3)
    cache, run = tmp_path / "cache", tmp_path / "run"
    cache.mkdir()
    for i in range(3):                        # pair 0 is held out (every 40th)
        orig = [rng.integers(0, 256, s, dtype=np.uint16) for s in ((32, 32), (16, 16), (16, 16))]
        rec = [np.clip(o.astype(np.int32) + rng.integers(-3, 4, o.shape), 0, 255).astype(np.uint16) for o in orig]
        np.savez(cache / f"pair_{i:06d}.npz", **{f"orig{c}": p for c, p in enumerate(orig)},
                 **{f"rec{c}": p for c, p in enumerate(rec)}, qp=np.int16(30), bit_depth=np.int16(8),
                 rdoq=np.int8(0), edge_ver=np.zeros((8, 4), bool), edge_hor=np.zeros((4, 8), bool))
    cfg = FilterConfig(channels=4, layers=2)

    def one_more_step(snapshots: bool) -> None:     # a budget just past the time trained so far
        done = torch.load(run / "checkpoint.pt")["elapsed"] if (run / "checkpoint.pt").exists() else 0.0
        train(cache, run, cfg, done / 60 + 1e-9, batch=2, crop=8, threads=1, snapshots=snapshots, progress=False)

    one_more_step(True)
    one_more_step(True)                        # resumes the first
    snaps = sorted((run / "snapshots").glob("step*.pt"))
    assert len(snaps) == 2
    states = [torch.load(p) for p in snaps]
    mean = average_checkpoints(snaps)
    assert (mean["step"], mean["elapsed"]) == (states[1]["step"], states[1]["elapsed"])
    for k, v in mean["model"].items():
        assert torch.allclose(v, (states[0]["model"][k] + states[1]["model"][k]) / 2)
    assert not torch.equal(states[0]["model"]["convs.0.weight"], states[1]["model"]["convs.0.weight"])
    torch.save(mean, run / "checkpoint.pt")
    one_more_step(False)                       # resumes from the mean
    assert torch.load(run / "checkpoint.pt")["step"] == mean["step"] + 1
    net = LoopFilterNet(cfg)
    net.load_state_dict(mean["model"])
    export(net.eval(), split_pairs(cache)[1], tmp_path / "mean.npz")
    assert load_weights(tmp_path / "mean.npz").cfg == cfg
    other = {**states[0], "cfg": FilterConfig(channels=8, layers=2).__dict__}
    torch.save(other, tmp_path / "other.pt")
    with pytest.raises(ValueError):
        average_checkpoints([snaps[0], tmp_path / "other.pt"])
