"""Patch-based NN coding (seed 003): exact decoding across sizes, contexts, formats and batch sizes; the
tiled synthesis equals the whole-field synthesis; the grid; header signalling; the automatic choice of
patches for a picture above the memory budget and the refusal of one that cannot fit."""
import dataclasses

import numpy as np
import pytest
import torch

from bitstream.container import PictureHeader, read_container, write_container
from bitstream.errors import BitstreamError, InputError
from hybridcodec.decoder import decode_full
from hybridcodec.encoder import Encoder
from nntools import synthesis
from nntools.exact import activation
from nntools.patches import PatchGrid
from nntools.picture import output_to_planes
from nntools.zoo import load_bundle
from pictures import synthetic_gray, synthetic_rgb


@pytest.mark.parametrize("shape,options", [
    ((100, 150), {"nn_patch_size": 64}),
    ((100, 150), {"nn_patch_size": 64, "nn_patch_overlap": 0}),
    ((130, 70), {"nn_patch_size": 64, "nn_patch_overlap": 2, "chroma_format": "444"}),
    ((40, 40), {"nn_patch_size": 64, "nn_patch_overlap": 8}),
    ((96, 200), {"nn_patch_size": 64, "nn_patch_overlap": 48}),
    ((200, 264), {"nn_patch_size": 64, "nn_patch_overlap": 16}),
    ((70, 130), {"nn_patch_size": 128, "nn_patch_overlap": 6}),
])
def test_patch_coding_decodes_to_reconstruction(shape, options):
    result = Encoder(mode="nn", level=4, **options).encode(synthetic_rgb(*shape, seed=shape[0]))
    header, _ = read_container(result.bitstream)
    assert header.NnPatchSize == options["nn_patch_size"]
    assert np.array_equal(decode_full(result.bitstream).picture, result.reconstruction)


def test_gray_patches():
    result = Encoder(mode="nn", level=3, nn_patch_size=64, nn_patch_overlap=4).encode(synthetic_gray(72, 90))
    assert np.array_equal(decode_full(result.bitstream).picture, result.reconstruction)


def test_patch_rows_read_the_row_above_as_one_piece():
    """A row of patches' context passes read the last decoded latent rows of the row above through the
    stage masks, as one-piece coding does: away from its bottom (the next row is not decoded yet) its
    context equals the one-piece context, in every pass; the first row reads nothing above it."""
    from nntools.codec import CONTEXT_REACH
    from nntools.patches import above
    bundle, r = load_bundle(), CONTEXT_REACH
    torch.manual_seed(5)
    field = activation(torch.randn(1, bundle.config.latent, 11, 9, dtype=torch.float64) * 3)
    masks = bundle.stage_masks(11, 9)
    for k in range(1, len(masks)):
        conv = bundle.context[min(k - 1, len(bundle.context) - 1)]
        one_piece = conv(field * sum(masks[:k]))
        last_rows = None
        for top in range(0, 11, 4):                                 # rows of patches of 64 luma: 4, 4, 3 latents
            row = field[:, :, top:top + 4]
            seen = sum(bundle.stage_masks(row.shape[2], 9)[:k])
            neighbours = above(bundle, last_rows, row.shape[2])
            assert (neighbours is None) == (top == 0)
            ctx = conv(row * seen) if neighbours is None else \
                conv(neighbours.context_input(row * seen, k))[neighbours.inner]
            rows = row.shape[2] - r if top + 4 < 11 else row.shape[2]
            assert torch.equal(ctx[:, :, :rows], one_piece[:, :, top:top + rows]), (k, top)
            last_rows = row[:, :, -r:]


@pytest.mark.parametrize("tile", [1, 2, 3, 5])
@pytest.mark.parametrize("chroma_format", [0, 1, 3])
def test_tiled_synthesis_equals_whole_field(monkeypatch, tile, chroma_format):
    """Any tile size and any band of rows give g_s's whole-field samples: the margin covers its reach."""
    bundle = load_bundle()
    torch.manual_seed(tile)
    y_hat = activation(torch.randn(1, bundle.config.latent, 7, 9, dtype=torch.float64) * 3)
    height, width = 7 * 16 - 6, 9 * 16 - 10
    whole = output_to_planes(bundle.g_s(y_hat), chroma_format, 8, height, width)
    monkeypatch.setattr(synthesis, "TILE", tile)
    field = synthesis.FieldSynthesis(bundle, height, width, chroma_format, 8)
    for r0, r1 in ((0, 1), (1, 4), (4, 5), (5, 7)):                   # bands of any height
        field.add(y_hat[:, :, r0:r1])
    assert all(np.array_equal(a, b) for a, b in zip(field.planes(), whole))
    assert field.field.shape[2] <= 2 * synthesis.synthesis_margin(bundle) + 3     # only a margin kept


def test_synthesis_reach_of_the_shipped_model():
    """Three 5x5 transposed convolutions of stride 2 and a 3x3 convolution: 15 half-resolution samples,
    so tiles need 2 latent positions of margin."""
    assert synthesis.synthesis_margin(load_bundle()) == 2


def test_incomplete_field_is_refused():
    bundle = load_bundle()
    field = synthesis.FieldSynthesis(bundle, 64, 64, 1, 8)
    field.add(torch.zeros(1, bundle.config.latent, 2, 4, dtype=torch.float64))
    with pytest.raises(ValueError):
        field.planes()
    with pytest.raises(ValueError):
        field.add(torch.zeros(1, bundle.config.latent, 3, 4, dtype=torch.float64))


def test_grid_tiles_the_aligned_picture_like_ctus():
    grid = PatchGrid(1000, 300, 256)
    assert list(grid.xs) == [0, 256, 512, 768] and list(grid.ys) == [0, 256]
    assert grid.shape_at(768, 256) == (304 - 256, 1008 - 768)                  # cut at the 16-aligned edge
    assert grid.shape_at(0, 0) == (256, 256)
    assert list(PatchGrid(768, 512, 256).xs) == [0, 256, 512]                  # no extra patch, any overlap
    assert sum(h * w for h, w in (grid.shape_at(x, y) for x, y in grid.origins())) == 1008 * 304


def test_header_range_checks():
    base = dict(width=64, height=64, nn_compress_enable_flag=True, model_id=bytes(16), nn_model_name="m")
    header = PictureHeader.build(**base, nn_patch_size=256)
    assert read_container(write_container(header, []))[0] == header
    with pytest.raises(BitstreamError):
        PictureHeader.build(**{**base, "nn_patch_size": 100})
    with pytest.raises(BitstreamError):
        PictureHeader.build(width=64, height=64, nn_patch_size=64)


def test_truncated_patch_stream_is_refused():
    data = Encoder(mode="nn", level=2, nn_patch_size=64, nn_patch_overlap=4).encode(synthetic_rgb(64, 128)).bitstream
    header, streams = read_container(data)
    kind, payload = streams[0]
    with pytest.raises(BitstreamError):
        decode_full(write_container(header, [(kind, payload[:-4])]))
    with pytest.raises(BitstreamError):
        decode_full(write_container(header, [(kind, bytes([99]) + payload[1:])]))      # no such level
    with pytest.raises(BitstreamError):                                                 # one patch more
        decode_full(write_container(dataclasses.replace(header, pic_width_minus1=199), streams))


def test_picture_above_the_budget_is_coded_in_patches():
    """No patch option: a picture whose one-piece coding would exceed the budget goes to patches of
    AUTO_PATCH_SIZE, and decodes exactly; under the default budget the same picture is one piece."""
    from hybridcodec.config import EncoderConfig
    from hybridcodec.encoder.memory import plan_memory
    image = synthetic_rgb(320, 320, 9)
    options = dict(mode="nn", level=3, nn_patch_overlap=0)
    in_patches = plan_memory(320, 320, EncoderConfig(**options, nn_patch_size=256)).estimate_mb
    budget = int(in_patches) + 1
    assert plan_memory(320, 320, EncoderConfig(**options, memory_budget_mb=10 ** 6)).estimate_mb > budget
    tight = Encoder(**options, memory_budget_mb=budget).encode(image)
    assert read_container(tight.bitstream)[0].NnPatchSize == 256
    assert np.array_equal(decode_full(tight.bitstream).picture, tight.reconstruction)
    assert read_container(Encoder(**options).encode(image).bitstream)[0].NnPatchSize == 0


def test_plan_switches_to_patches_at_the_budget():
    from hybridcodec.config import EncoderConfig
    from hybridcodec.encoder.memory import plan_memory
    cfg = EncoderConfig(mode="nn")
    assert plan_memory(768, 512, cfg).nn_patch_size == 0
    big = plan_memory(7680, 4320, cfg)
    assert big.nn_patch_size == 256 and big.estimate_mb < 3000
    assert plan_memory(7680, 4320, dataclasses.replace(cfg, nn_patch_size=512)).nn_patch_size == 512
    assert plan_memory(1920, 1080, dataclasses.replace(cfg, mode="host")).nn_patch_size == 0
    checked = dataclasses.replace(cfg, mode="hybrid", nn_picture_check=True, memory_budget_mb=4096)
    assert plan_memory(3840, 2160, checked).nn_patch_size == 256                    # the whole-picture check
    assert plan_memory(3840, 2160, dataclasses.replace(checked, nn_picture_check=False)).nn_patch_size == 0


@pytest.mark.parametrize("mode", ["nn", "host", "hybrid"])
def test_picture_that_cannot_fit_gets_a_clear_error(mode):
    """Refused with the reason before anything picture-sized is allocated."""
    from hybridcodec.config import EncoderConfig
    from hybridcodec.encoder.memory import plan_memory
    with pytest.raises(InputError, match="memory_budget_mb"):
        plan_memory(16000, 16000, EncoderConfig(mode=mode))
    with pytest.raises(InputError, match="memory_budget_mb"):
        Encoder(mode=mode, memory_budget_mb=512).encode(np.zeros((2400, 2400, 3), dtype=np.uint8))
