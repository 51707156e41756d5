"""The built-in loop filter ``cnnlf-32x8`` as a plugin (normative decoder side; encoder side lazily).

Its streams are found by nn_lf_model_id (``nntools.registry.loop_filter_for``); its encoder decisions are
``nntools.encoder.loop_filter.decide``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nntools.loop_filter.exact import LoopFilterWeights
from nntools.loop_filter.picture import filter_picture, picture_edges
from nntools.loop_filter.zoo import DEFAULT_MODEL, load_weights
from nntools.plugin import LoopFilter, name_from_file


class CnnLoopFilter(LoopFilter):
    def __init__(self, name: str, weights: LoopFilterWeights):
        self.name, self.weights = name, weights

    @property
    def model_id(self) -> bytes:
        return self.weights.model_id

    def post_filter(self, header):
        def run(planes: list[np.ndarray], edges, lf) -> list[np.ndarray]:
            return filter_picture(self.weights, planes, header, lf, picture_edges(self.weights, edges),
                                  in_place=True)
        return run

    def decider(self, original: list[np.ndarray], lam: float, config):
        from nntools.encoder.loop_filter import LoopFilterSearchConfig, decide
        cfg = LoopFilterSearchConfig(config.nn_lf_ctu_flags, config.nn_lf_scale, config.nn_lf_chroma,
                                     config.nn_lf_transforms)
        return lambda header, planes, edges: decide(self.weights, header, original, planes, edges, lam, cfg,
                                                    in_place=True)


def packaged() -> CnnLoopFilter:
    return CnnLoopFilter(DEFAULT_MODEL, load_weights(DEFAULT_MODEL))


def from_file(path: Path) -> CnnLoopFilter:
    """A weights file of this architecture (an experiment's export), named after the file."""
    weights = load_weights(path)
    return CnnLoopFilter(name_from_file(path, weights.model_id), weights)
