"""Screen-content detection (encoder only): whether a picture is worth the transform-skip trials.

Transform skip wins on text, graphics and rendered content, whose residuals are sparse steps, and
almost never on camera pictures, where trying it only costs encode time.  Like VTM's screen-content
detection, the encoder looks at the picture once: rendered content repeats samples exactly, camera
noise rarely does.  On ../shared/data the fraction of horizontally adjacent equal luma samples is
0.03–0.43 for the dev photographs (0.03–0.63 for train, the darkest night shot highest) and
0.59–0.97 for the dev screen pictures (docs/RESULTS.md, issue 26).
"""
from __future__ import annotations

import numpy as np

SCREEN_FLAT_FRACTION = 0.5


def is_screen_content(luma: np.ndarray) -> bool:
    """True when at least half of the horizontally adjacent luma samples are equal."""
    if luma.shape[1] < 2:
        return False
    return float(np.mean(luma[:, 1:] == luma[:, :-1])) >= SCREEN_FLAT_FRACTION
