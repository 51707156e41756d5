"""Patch-based NN coding (seed 003): exact decoding across sizes, overlaps, formats and batch sizes; the
integer merge rule; header signalling and its range checks."""
import dataclasses

import numpy as np
import pytest

from bitstream.container import PictureHeader, read_container, write_container
from bitstream.errors import BitstreamError
from hybridcodec.decoder import decode_full
from hybridcodec.encoder import Encoder
from nntools.patches import PatchGrid, PatchMerger, decode_patches, tent
from nntools.zoo import load_bundle
from pictures import synthetic_gray, synthetic_rgb


@pytest.mark.parametrize("shape,options", [
    ((100, 150), {"nn_patch_size": 64}),
    ((100, 150), {"nn_patch_size": 64, "nn_patch_overlap": 16}),
    ((130, 70), {"nn_patch_size": 64, "nn_patch_overlap": 2, "chroma_format": "444"}),
    ((40, 40), {"nn_patch_size": 64, "nn_patch_overlap": 8}),
    ((96, 200), {"nn_patch_size": 64, "nn_patch_overlap": 32, "nn_patch_batch": 3}),
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


def test_decoder_batch_size_does_not_change_samples():
    result = Encoder(mode="nn", level=2, nn_patch_size=64, nn_patch_overlap=8).encode(synthetic_rgb(80, 160))
    header, streams = read_container(result.bitstream)
    payload = streams[0][1]
    grid = PatchGrid(160, 80, 64, 8)
    outs = [decode_patches(load_bundle(), payload[1:], grid, payload[0], 1, 8, batch=b) for b in (1, 4, 100)]
    assert all(np.array_equal(a, b) for a, b in zip(outs[0], outs[1])) and all(
        np.array_equal(a, b) for a, b in zip(outs[0], outs[2]))


@pytest.mark.parametrize("overlap", [0, 2, 8, 32])
def test_merge_of_identical_patches_is_identity(overlap):
    grid = PatchGrid(200, 136, 64, overlap)
    rng = np.random.default_rng(overlap)
    picture = [rng.integers(0, 256, (136, 200)), rng.integers(0, 256, (68, 100)), rng.integers(0, 256, (68, 100))]
    merger = PatchMerger(grid, 1, 8)
    ph, pw = grid.patch_shape()
    for x, y in grid.origins():
        patch = []
        for c, plane in enumerate(picture):
            s = 1 if c else 0
            region = plane[y >> s:(y + ph) >> s, x >> s:(x + pw) >> s]
            patch.append(np.pad(region, ((0, (ph >> s) - region.shape[0]), (0, (pw >> s) - region.shape[1]))))
        merger.add(x, y, patch)
    assert all(np.array_equal(a, b) for a, b in zip(merger.planes(), picture))


def reference_merge(grid: PatchGrid, patches: dict) -> np.ndarray:
    """The merge rule of the module docstring on whole-picture accumulators (luma only)."""
    acc = np.zeros((grid.height, grid.width), dtype=np.int64)
    den = np.zeros_like(acc)
    ph, pw = grid.patch_shape()
    for (x, y), patch in patches.items():
        iy, ix = grid.ys.index(y), grid.xs.index(x)
        w = tent(ph, iy == 0, iy == len(grid.ys) - 1)[:, None] * tent(pw, ix == 0, ix == len(grid.xs) - 1)[None, :]
        h, wd = min(ph, grid.height - y), min(pw, grid.width - x)
        acc[y:y + h, x:x + wd] += (w * patch)[:h, :wd]
        den[y:y + h, x:x + wd] += w[:h, :wd]
    return (acc + den // 2) // den


@pytest.mark.parametrize("size,overlap", [((200, 136), 0), ((200, 136), 8), ((64, 64), 4), ((328, 264), 32)])
def test_banded_merge_equals_whole_picture_merge(size, overlap):
    grid = PatchGrid(size[0], size[1], 64, overlap)
    rng = np.random.default_rng(7)
    patches = {o: rng.integers(0, 1024, grid.patch_shape()) for o in grid.origins()}
    merger = PatchMerger(grid, 0, 10)
    for (x, y), patch in patches.items():
        merger.add(x, y, [patch])
    assert np.array_equal(merger.planes()[0], reference_merge(grid, patches))


def test_merger_refuses_patches_out_of_raster_order():
    grid = PatchGrid(128, 128, 64, 0)
    merger = PatchMerger(grid, 0, 8)
    merger.add(0, 64, [np.zeros((64, 64), dtype=np.int64)])
    with pytest.raises(ValueError):
        merger.add(0, 0, [np.zeros((64, 64), dtype=np.int64)])


def test_tents_of_an_overlap_cross_fade():
    left, right = tent(64, True, False), tent(64, False, True)
    assert np.all(left[-16:] + right[:16] == 32)                  # any overlap: weights add up to 2·overlap
    assert np.all(np.diff(left[-16:]) == -2) and np.all(np.diff(right[:16]) == 2)
    assert np.array_equal(tent(8, True, True), np.ones(8))


def test_grid_covers_the_picture_evenly_and_ends_flush():
    for width, patch, overlap in ((1000, 256, 16), (256, 256, 0), (264, 256, 32), (768, 256, 16), (32, 64, 8),
                                  (768, 256, 0), (4320, 256, 32), (1080, 128, 2)):
        grid = PatchGrid(width, 64, patch, overlap)
        span = grid.patch_shape()[1]
        xs = grid.xs
        assert span <= patch and span % 16 == 0
        assert xs[0] == 0 and xs[-1] + span == max(width, span)
        assert all(b - a == span - overlap for a, b in zip(xs, xs[1:-1]))
        assert all(0 < b - a <= span - overlap for a, b in zip(xs, xs[1:]))   # overlaps of at least N
        if len(xs) > 1:                                       # the fewest patches of at most P
            assert (len(xs) - 1) * (patch - overlap) + overlap < width
    assert PatchGrid(768, 512, 256, 16).xs == [0, 208 - 16, 2 * (208 - 16), 768 - 208]
    assert PatchGrid(768, 512, 256, 0).xs == [0, 256, 512]


def test_header_range_checks():
    base = dict(width=64, height=64, nn_compress_enable_flag=True, model_id=bytes(16))
    header = PictureHeader.build(**base, nn_patch_size=256, nn_patch_overlap=16)
    assert read_container(write_container(header, []))[0] == header
    for bad in ({"nn_patch_size": 100}, {"nn_patch_size": 64, "nn_patch_overlap": 3},
                {"nn_patch_size": 64, "nn_patch_overlap": 34}):
        with pytest.raises(BitstreamError):
            PictureHeader.build(**{**base, **bad})
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
