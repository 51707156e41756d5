"""An example hybridcodec plugin: a CompressAI-style scale hyperprior as the hybrid's block codec.

Installed with ``pip install -e examples/plugins/hybridcodec-example-plugin``, it registers the entry
point ``example-hyperprior`` (group ``hybridcodec.neural_tools``), so ``hybridcodec encode --nn-model
example-hyperprior`` and ``hybridcodec rd --modes hybrid@example-hyperprior`` use it and every decoder
that has it installed decodes its streams.  Weights: the file shipped in the package, or the one that
the environment variable HYBRIDCODEC_EXAMPLE_WEIGHTS names (e.g. a longer training run of ``train.py``).
"""
from __future__ import annotations

import os
from pathlib import Path

WEIGHTS = Path(__file__).with_name("weights") / "example_hyperprior.npz"


def load():
    """The entry point: the codec with the packaged (or HYBRIDCODEC_EXAMPLE_WEIGHTS) weights."""
    from hybridcodec_example_plugin.codec import load_file
    return load_file(os.environ.get("HYBRIDCODEC_EXAMPLE_WEIGHTS") or WEIGHTS)
