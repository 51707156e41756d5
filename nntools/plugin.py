"""The neural-tool plugin interface: what the codec asks of a learned block codec or loop filter (normative).

The host, the hybrid search, the decoder, the inspector and the rd command talk to neural tools only
through these classes, so a researcher's model (registered by name, ``nntools.registry``) takes the
built-in model's place without any of them knowing.  A tool has a decoder side (here: what a stream
needs to be decoded, the part a conformance claim covers) and an encoder side
(``nntools.encoder.plugin``), which the decoder never loads.

Determinism contract (docs/PLUGINS.md).  A tool that declares ``deterministic = True`` promises that
everything its decoder side returns -- the samples of every region and picture, and which bytes of the
payload it consumes -- is a function of the payload and the arguments alone: identical across torch
thread counts, runs and processes, and identical to the reconstruction its encoder side reports.
``nntools.conformance.check`` tests exactly that.  A tool that cannot promise it (float decoding, as
CompressAI's models do) sets ``deterministic = False``; its streams carry nn_nondeterministic_flag = 1.
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Protocol

import numpy as np

from bitstream.bitio import BitReader
from bitstream.container import MODEL_ID_BYTES, MODEL_NAME_MAX, valid_model_name
from bitstream.errors import BitstreamError
from bitstream.header_coder import NN_STREAM_CATEGORY, HeaderCoder, HeaderReader

BLOCK_CODEC, LOOP_FILTER = "block_codec", "loop_filter"          # the kinds of neural tool


def check_name(name: str) -> str:
    if not valid_model_name(name):
        raise ValueError(f"neural tool name {name!r}: 1-{MODEL_NAME_MAX} characters from A-Z a-z 0-9 . _ + -, "
                         "starting with a letter or digit")
    return name


def name_from_file(path, model_id: bytes) -> str:
    """The tool name of a weights file loaded by path: its file stem (made a valid name) and the start
    of its model id, so that two runs' ``weights.npz`` never share a name."""
    stem = re.sub(r"[^A-Za-z0-9._+-]", "-", Path(path).stem).lstrip("._+-")[:MODEL_NAME_MAX - 9] or "weights"
    return f"{stem}-{model_id.hex()[:8]}"


class NeuralTool(ABC):
    """What every neural tool has: a registered name, the hash of its weights, a determinism claim."""
    kind: str = ""
    name: str = ""
    deterministic: bool = True

    @property
    @abstractmethod
    def model_id(self) -> bytes:
        """MODEL_ID_BYTES (16) bytes identifying the weights, e.g. ``nntools.weights_id.model_id``."""

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "model_id": self.model_id.hex(),
                "deterministic": self.deterministic}


class RegionReader(Protocol):
    """An open NN substream: regions come out in decoding order."""

    def decode(self, height: int, width: int, level: int) -> list[np.ndarray]:
        """The next region's reconstruction: integer planes of ``height`` x ``width`` luma samples (chroma
        planes of the picture's format), values within the bit depth."""

    def finish(self) -> None:
        """The stream must end here (raise BitstreamError if bytes are left or missing)."""

    bits: float | None      # opened with ``meter``: bits read so far, if the codec can tell; else None


class BlockCodec(NeuralTool):
    """A learned codec of rectangular regions, the tool behind nn_compress_flag (and whole NN pictures).

    Regions are NN-coded CUs (32, 64 or 128 luma samples square) or whole pictures at their coded size
    (a multiple of 4); a codec that needs other sizes pads inside its encoder and crops in its decoder.
    The codec owns its NN substream's syntax: the payload holds every NN region of the picture, in
    decoding order (after nn_picture()'s nn_level for a whole NN picture).
    """
    kind = BLOCK_CODEC
    levels: int = 1            # rate levels 0 .. levels - 1 (higher: more bits)
    patches: bool = False      # supports whole-picture coding as patches (nn_patch_size_idc > 0)

    @property
    @abstractmethod
    def level_map(self) -> dict[int, np.ndarray]:
        """Level_Map[bit depth][QP]: for 8 and 10, an int array of 52 levels (fit one with
        ``nntools.training.level_map.fit_level_map``); part of the weights, covered by ``model_id``."""

    @abstractmethod
    def open_regions(self, payload: bytes, chroma_format: int, bit_depth: int, trace_sink=None,
                     meter: bool = False) -> RegionReader:
        """Open the NN substream of a hybrid picture (its NN-coded CUs).  ``meter``: the inspector asks
        the reader to count the bits it reads (``reader.bits``); decoding does not pay for it."""

    def decode_picture(self, payload: bytes, level: int, height: int, width: int, chroma_format: int,
                       bit_depth: int, patch_size: int = 0, trace_sink=None) -> list[np.ndarray]:
        """A whole picture coded by the tool (the payload after nn_level): by default one region."""
        if patch_size:
            raise BitstreamError(f"neural tool {self.name!r} does not code pictures as patches")
        reader = self.open_regions(payload, chroma_format, bit_depth, trace_sink)
        planes = reader.decode(height, width, level)
        reader.finish()
        return planes

    def encoder(self, picture):
        """The encoder side (``nntools.encoder.plugin.BlockCodecEncoder``) for one picture
        (``nntools.encoder.plugin.PictureContext``)."""
        raise NotImplementedError(f"neural tool {self.name!r} has no encoder")


class LoopFilter(NeuralTool):
    """A restoration filter after deblocking, switched per CTU by the flags of docs/SYNTAX.md §9."""
    kind = LOOP_FILTER

    @abstractmethod
    def post_filter(self, header):
        """The normative filter of a picture, as ``host.decoder.decode_host`` takes it:
        ``run(planes, edges, flags) -> planes`` (``edges``: the picture's ``host.edges.EdgeMap``); ``run``
        may filter the deblocked ``planes`` in place (the decoder does not read them again)."""

    def decider(self, original: list[np.ndarray], lam: float, config):
        """The encoder's decisions, as ``host.encoder.picture.encode_host`` takes them:
        ``decide(header, deblocked planes, edges) -> (header, flags or None, planes, stats)``.  With
        ``stats["delta_J"]`` (the change of SSE + lambda * bits it made) the encoder also tries ALF on
        the unfiltered picture and drops the filter where ALF alone costs less
        (``host.encoder.loop_filters``); without it the decision is kept as made."""
        raise NotImplementedError(f"loop filter {self.name!r} has no encoder")


def check_tool(tool: NeuralTool) -> NeuralTool:
    """A registered tool's static promises, checked once when it is loaded."""
    check_name(tool.name)
    if tool.kind not in (BLOCK_CODEC, LOOP_FILTER):
        raise ValueError(f"neural tool {tool.name!r}: unknown kind {tool.kind!r}")
    if not isinstance(tool.model_id, bytes) or len(tool.model_id) != MODEL_ID_BYTES:
        raise ValueError(f"neural tool {tool.name!r}: model_id must be {MODEL_ID_BYTES} bytes")
    if isinstance(tool, BlockCodec):
        if not 1 <= tool.levels <= 256:
            raise ValueError(f"block codec {tool.name!r}: levels must be 1..256")
    return tool


def check_level_map(tool: BlockCodec) -> dict[int, np.ndarray]:
    table = tool.level_map
    for depth in (8, 10):
        row = np.asarray(table.get(depth)) if isinstance(table, dict) else None
        if row is None or row.shape != (52,) or row.min() < 0 or row.max() >= tool.levels:
            raise BitstreamError(f"neural tool {tool.name!r}: malformed Level_Map for {depth}-bit pictures")
    return table


def nn_picture(hc: HeaderCoder, nn_level: int = 0, levels: int = 256) -> int:
    """nn_picture() (docs/SYNTAX.md §7): nn_level u(8), a level of the block codec (0..levels - 1); the
    codec's payload of the whole picture follows."""
    hc.category = NN_STREAM_CATEGORY
    nn_level = hc.u("nn_level", nn_level, 8)
    if nn_level >= levels:
        raise BitstreamError(f"NN picture: nn_level {nn_level} outside 0..{levels - 1}")
    return nn_level


def read_nn_picture(levels: int, payload: bytes, trace_sink=None) -> tuple[int, bytes]:
    """(nn_level, the block codec's payload) of an NN picture's substream."""
    if len(payload) < 2:
        raise BitstreamError("NN picture payload too short")
    level = nn_picture(HeaderReader(BitReader(payload[:1], "NN substream"), trace_sink), levels=levels)
    return level, payload[1:]
