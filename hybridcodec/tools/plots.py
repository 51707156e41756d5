"""Figures for researchers: rate-distortion curves and the inspector's decision / bits maps.

matplotlib is used through ``Figure`` objects only (no pyplot), so plotting never touches global
state or needs a display, and works the same in worker processes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybridcodec.imageio import YuvFrame

METRIC_LABELS = {"psnr_y": "PSNR-Y (dB)", "psnr_rgb": "PSNR-RGB (dB)", "ms_ssim_db": "MS-SSIM-RGB (dB)"}
NN_TINT = (0.0, 0.85, 1.0, 0.30)            # RGBA over NN-coded areas (hatched, so it shows on any picture)
NN_EDGE = (0.0, 0.85, 1.0, 1.0)
LF_TINT = (0.2, 1.0, 0.2, 0.22)             # CTUs where the neural loop filter is on for luma
LF_CHROMA_TINT = (1.0, 0.6, 0.0, 0.22)      # ... for chroma only
PATCH_EDGE = (1.0, 0.3, 0.85, 1.0)          # outlines of the patches of a picture NN-coded as patches


@dataclass
class RdCurve:
    label: str
    bpp: list[float]
    values: dict[str, list[float | None]]    # metric -> value per point (None where not measured)
    published: bool = False                  # drawn dashed: a curve read from a results file


def rd_figure(curves: list[RdCurve], path: str | Path, metrics: tuple[str, ...] = tuple(METRIC_LABELS),
              title: str = "") -> None:
    """One panel per metric, every curve that has that metric; rate in bits per pixel."""
    from matplotlib.figure import Figure
    metrics = tuple(m for m in metrics if any(_points(c, m)[0] for c in curves))
    fig = Figure(figsize=(5.2 * max(len(metrics), 1), 4.2), layout="constrained")
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), i + 1)
        for curve in curves:
            bpp, values = _points(curve, metric)
            if bpp:
                ax.plot(bpp, values, "--" if curve.published else "-", marker="" if curve.published else "o",
                        markersize=3.5, label=curve.label)
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)


def _points(curve: RdCurve, metric: str) -> tuple[list[float], list[float]]:
    pairs = sorted((b, v) for b, v in zip(curve.bpp, curve.values.get(metric, [])) if v is not None
                   and np.isfinite(v))
    return [b for b, _ in pairs], [v for _, v in pairs]


def displayable(picture) -> np.ndarray:
    """A decoded picture as 8-bit RGB (YCbCr output shows its luma; 16-bit is scaled)."""
    if isinstance(picture, YuvFrame):
        plane = picture.planes[0].astype(np.float64) / ((1 << picture.bit_depth) - 1)
        picture = np.round(plane * 255).astype(np.uint8)
    if picture.dtype != np.uint8:
        picture = (picture >> 8).astype(np.uint8)
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=-1)
    return picture


def inspection_map(info, path: str | Path, panel_px: int = 560) -> None:
    """Two panels: CU boundaries over the decoded picture (CTU borders thicker, NN-coded areas
    tinted), and the estimated bits per pixel of each area as a heat map.  ``info`` is a
    ``hybridcodec.tools.inspector.Inspection``."""
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle
    picture = displayable(info.picture)
    h, w = picture.shape[:2]
    scale = panel_px / max(h, w)
    fig = Figure(figsize=(2 * w * scale / 100 + 1.4, h * scale / 100 + 0.7), layout="constrained")
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.imshow(picture, interpolation="nearest")
    cus = info.cus
    left.add_collection(LineCollection(_cu_edges(cus, w, h), colors="white", linewidths=0.4, alpha=0.8))
    left.add_collection(LineCollection(_cu_edges([c for c in info.ctus], w, h), colors="yellow",
                                       linewidths=0.9))
    nn_areas = [(r.x, r.y, r.width, r.height) for r in info.nn_regions] + \
               [(c.x, c.y, c.size, c.size) for c in cus if c.coding == "nn"]
    for x, y, rw, rh in nn_areas:
        left.add_patch(Rectangle((x - 0.5, y - 0.5), min(rw, w - x), min(rh, h - y), facecolor=NN_TINT,
                                 edgecolor=NN_EDGE, hatch="//", linewidth=1.0))
    filtered = [c for c in info.ctus if c.nn_lf_ctb_flag is not None and any(c.nn_lf_ctb_flag)]
    for c in filtered:
        left.add_patch(Rectangle((c.x - 0.5, c.y - 0.5), min(c.size, w - c.x), min(c.size, h - c.y),
                                 facecolor=LF_TINT if c.nn_lf_ctb_flag[0] else LF_CHROMA_TINT, edgecolor="none"))
    patches = info.nn_patches
    if patches:
        left.add_collection(LineCollection(_patch_edges(patches, w, h), colors=[PATCH_EDGE], linewidths=0.9))
    left.set_xlim(-0.5, w - 0.5)
    left.set_ylim(h - 0.5, -0.5)
    title = f"{len(cus)} CUs, CTU borders yellow" if cus else \
        f"{len(patches)} NN patches (one latent field)" if patches else "no host CUs"
    left.set_title(title + (f", {len(nn_areas)} NN-coded" if cus and nn_areas else ""), fontsize=8)
    legend = [Line2D([], [], color="yellow", linewidth=0.9, label="CTU border"),
              Line2D([], [], color="white", linewidth=0.6, label="CU border")] if cus else []
    if patches:
        legend.append(Line2D([], [], color=PATCH_EDGE, linewidth=0.9, label="NN patch border"))
    if nn_areas:
        legend.append(Patch(facecolor=NN_TINT, edgecolor=NN_EDGE, hatch="//", label="NN-coded (neural tool)"))
    if filtered:
        legend.append(Patch(facecolor=LF_TINT, label="loop filter on (luma)"))
        if any(not c.nn_lf_ctb_flag[0] for c in filtered):
            legend.append(Patch(facecolor=LF_CHROMA_TINT, label="loop filter on (chroma only)"))
    left.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=len(legend), fontsize=7,
                facecolor="0.4", edgecolor="none", labelcolor="white", framealpha=1.0)
    bits = info.bits_map[:h, :w]
    image = right.imshow(bits, cmap="magma", interpolation="nearest", vmin=0,
                         vmax=max(float(np.percentile(bits, 99.5)), 1e-6))
    right.add_collection(LineCollection(_cu_edges(cus, w, h) + _patch_edges(patches, w, h), colors="white",
                                        linewidths=0.25, alpha=0.35))
    right.set_title(f"estimated bits per pixel (picture: {info.bpp:.3f} bpp)", fontsize=8)
    fig.colorbar(image, ax=right, shrink=0.8, label="bpp")
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.savefig(path, dpi=100)


def _cu_edges(blocks, width: int, height: int) -> list[list[tuple[float, float]]]:
    """Top and left edge of every block (clipped to the picture), plus the picture's outline."""
    segments = []
    for b in blocks:
        x0, y0 = b.x - 0.5, b.y - 0.5
        x1, y1 = min(b.x + b.size, width) - 0.5, min(b.y + b.size, height) - 0.5
        if b.x < width and b.y < height:
            segments += [[(x0, y0), (x1, y0)], [(x0, y0), (x0, y1)]]
    return segments


def _patch_edges(patches, width: int, height: int) -> list[list[tuple[float, float]]]:
    """All four edges of every patch, clipped to the picture: with an overlap, neighbouring patches'
    edges are N samples apart, so the overlap bands show as double lines."""
    segments = []
    for p in patches:
        x0, y0 = p.x - 0.5, p.y - 0.5
        x1, y1 = min(p.x + p.width, width) - 0.5, min(p.y + p.height, height) - 0.5
        if p.x < width and p.y < height:
            segments += [[(x0, y0), (x1, y0)], [(x0, y1), (x1, y1)], [(x0, y0), (x0, y1)], [(x1, y0), (x1, y1)]]
    return segments
