import sys
from functools import partial
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from steering import steer_nn  # noqa: E402


@pytest.fixture
def force_nn(monkeypatch):
    """``force_nn(wins, spoil_chroma, mode_wins)``: make NN candidates win (see steering.steer_nn)."""
    return partial(steer_nn, monkeypatch)
