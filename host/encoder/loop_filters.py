"""The choice between the loop filters that follow deblocking (encoder-only).

The neural filter decides first, on the deblocked picture, and ALF then adapts to its output.  Each
decision is greedy: the neural filter's flags count the error it removes, not the error ALF would have
removed from the same samples without it, and where both filters correct the same error (much of the
luma of photographs, the flat areas of screen content) ALF alone can give the lower cost.  So with
both on, ALF is also decided on the deblocked picture, and the pair with the lower
J = SSE + lambda * R (every parameter and flag bit counted) is kept: the neural filter never makes a
picture cost more than ALF alone.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from bitstream.container import PictureHeader
from host.edges import EdgeMap
from host.encoder.alf import AlfSearchConfig
from host.encoder.alf import decide as decide_alf

PostSearch = Callable[[PictureHeader, list[np.ndarray], EdgeMap], tuple]


def decide_loop_filters(header: PictureHeader, original: list[np.ndarray], planes: list[np.ndarray],
                        edges: EdgeMap, lam: float, post_search: PostSearch | None,
                        alf_search: AlfSearchConfig | None) -> tuple:
    """(header, neural filter's CTU flags, its statistics, ALF's CTU flags, its statistics, output planes).

    ``post_search(header, deblocked planes, edges) -> (header, CTU flags, planes, stats)`` is the neural
    filter's decision (it may filter the planes in place); its ``stats["delta_J"]`` and ALF's are the
    change of J each made to the picture it was given.  A decision that reports no ``delta_J`` (a
    plugin's, a test's forced flags) is kept as made."""
    lf, lf_stats, alf, alf_stats = None, {}, None, {}
    plain_header, deblocked = header, None
    if post_search is not None:
        if alf_search is not None:
            deblocked = [p.copy() for p in planes]
        header, lf, planes, lf_stats = post_search(header, planes, edges)
        if lf is None or "delta_J" not in lf_stats:
            deblocked = None                            # nothing to weigh: release the copy before ALF
    if alf_search is not None:
        header, alf, planes, alf_stats = decide_alf(header, original, planes, lam, alf_search)
        if deblocked is not None:
            alone = decide_alf(plain_header, original, deblocked, lam, alf_search)
            if alone[3]["delta_J"] < lf_stats["delta_J"] + alf_stats["delta_J"]:
                header, alf, planes, alf_stats = alone
                lf, lf_stats = None, {**lf_stats, "enabled": False, "alf_alone_cheaper": True}
    return header, lf, lf_stats, alf, alf_stats, planes
