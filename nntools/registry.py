"""Neural tools by name: the built-in ones, those installed as entry points, those registered in code.

A plugin package declares, in its pyproject.toml::

    [project.entry-points."hybridcodec.neural_tools"]
    my-codec = "my_package:load"

where ``load`` is a ``nntools.plugin`` tool, a tool class, or a function returning a tool; it is called
the first time the name is asked for.  ``register(name, factory)`` does the same in code.  A stream
names its block codec (nn_model_name) and the hash of its weights (model_id); the decoder takes the
installed tool of that name and checks the hash, so a missing plugin or other weights fail with a
``ToolNotInstalledError`` or ``ModelMismatchError`` that names what is missing.  Loop filters are found by
nn_lf_model_id among the installed ones.
"""
from __future__ import annotations

from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Callable

from bitstream.errors import BitstreamError, InputError, ModelMismatchError
from nntools.plugin import BLOCK_CODEC, LOOP_FILTER, NeuralTool, check_name, check_tool

ENTRY_POINT_GROUP = "hybridcodec.neural_tools"
BUILT_IN: dict[str, tuple[str, str]] = {     # name -> (kind, "module:factory"), loaded on first use
    "hyperprior-4p": (BLOCK_CODEC, "nntools.hyperprior:packaged"),
    "cnnlf-32x8": (LOOP_FILTER, "nntools.loop_filter.tool:packaged"),
}


class ToolNotInstalledError(BitstreamError):
    """The bitstream needs a neural tool (plugin) that is not installed."""


_factories: dict[str, Callable[[], NeuralTool] | str] = {}
_loaded: dict[str, NeuralTool] = {}


def register(name: str, factory: Callable[[], NeuralTool] | NeuralTool | str, replace: bool = False) -> None:
    """Make a tool available under ``name`` in this process (``factory``: a tool, a tool class or a
    function returning one, or a "module:attribute" string)."""
    check_name(name)
    if not replace and name in names():
        raise ValueError(f"a neural tool named {name!r} is already registered")
    _factories[name] = factory
    _loaded.pop(name, None)


def unregister(name: str) -> None:
    _factories.pop(name, None)
    _loaded.pop(name, None)


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    """Every registered name: built-in, installed entry points, registered in code."""
    return list(dict.fromkeys([*BUILT_IN, *_entry_points(), *_factories]))


def _resolve(factory) -> NeuralTool:
    if isinstance(factory, str):
        from importlib import import_module
        module, _, attr = factory.partition(":")
        factory = getattr(import_module(module), attr)
    elif isinstance(factory, EntryPoint):
        factory = factory.load()
    return factory if isinstance(factory, NeuralTool) else factory()


def load(name: str) -> NeuralTool:
    """The tool registered as ``name`` (loaded once per process)."""
    if name not in _loaded:
        factory = _factories.get(name) or _entry_points().get(name) or BUILT_IN.get(name, (None, None))[1]
        if factory is None:
            raise KeyError(name)
        tool = check_tool(_resolve(factory))
        if tool.name != name:
            raise ValueError(f"neural tool registered as {name!r} calls itself {tool.name!r}")
        _loaded[name] = tool
    return _loaded[name]


def tool_for_encoding(name_or_path: str, kind: str) -> NeuralTool:
    """The tool an encoder option names: a registered name, or a weights file of a built-in
    architecture (registered as "stem-<model id>" so that this process can decode what it codes)."""
    if name_or_path in names():
        tool = load(name_or_path)
    elif str(name_or_path).endswith(".npz"):
        tool = register_weights_file(name_or_path, kind)
    else:
        raise InputError(f"no neural tool named {name_or_path!r} (installed: {', '.join(names())}); "
                         "see `hybridcodec models`")
    if tool.kind != kind:
        raise InputError(f"{name_or_path!r} is a {tool.kind.replace('_', ' ')}, not a {kind.replace('_', ' ')}")
    return tool


def register_weights_file(path: str | Path, kind: str) -> NeuralTool:
    """A weights file of a built-in architecture, registered for decoding in this process."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no weights file {path}")
    if kind == BLOCK_CODEC:
        from nntools.hyperprior import from_file
    else:
        from nntools.loop_filter.tool import from_file
    tool = check_tool(from_file(path))         # named after the file and its model id: no clash
    _factories[tool.name] = tool
    _loaded[tool.name] = tool
    return tool


def block_codec_for(name: str, model_id: bytes):
    """The installed block codec a stream names (nn_model_name, model_id); else a clear refusal."""
    if name not in names():
        raise ToolNotInstalledError(
            f"the bitstream was coded with neural tool {name!r} (model id {model_id.hex()}), which is not "
            f"installed (installed: {', '.join(names())}); install its plugin or pass its weights file")
    tool = load(name)
    if tool.kind != BLOCK_CODEC:
        raise ToolNotInstalledError(f"the bitstream's nn_model_name {name!r} is installed as a {tool.kind}")
    if tool.model_id != model_id:
        raise ModelMismatchError(
            f"the bitstream needs neural tool {name!r} with model id {model_id.hex()}, but the installed "
            f"{name!r} has model id {tool.model_id.hex()} (other weights)")
    return tool


def loop_filter_for(model_id: bytes):
    """The installed loop filter whose nn_lf_model_id a stream carries; else a clear refusal.  Built-in
    filters are tried first, so a stream of the packaged filter loads no other tool."""
    order = [n for n, (kind, _) in BUILT_IN.items() if kind == LOOP_FILTER] + names()
    seen = []
    for name in dict.fromkeys(order):
        try:
            tool = load(name)
        except Exception as exc:              # a broken plugin of any kind must not stop the search
            seen.append(f"{name} (failed to load: {type(exc).__name__})")
            continue
        if tool.kind == LOOP_FILTER:
            if tool.model_id == model_id:
                return tool
            seen.append(f"{name} {tool.model_id.hex()}")
    raise ModelMismatchError(f"the bitstream needs loop-filter weights with nn_lf_model_id {model_id.hex()}, "
                             f"which are not installed (installed: {', '.join(seen) or 'none'})")


def source_of(name: str) -> str:
    if name in _factories:
        return "registered in code"
    if name in _entry_points():
        ep = _entry_points()[name]
        return f"entry point {ep.value}" + (f" ({ep.dist.name})" if getattr(ep, "dist", None) else "")
    return "built-in"


def describe_all() -> list[dict]:
    """Every registered tool, loaded, with its kind, model id, levels and determinism claim; a tool that
    fails to load is listed with its error instead of hiding the others."""
    out = []
    for name in names():
        try:
            tool = load(name)
        except Exception as exc:                  # a broken plugin must not break the listing
            out.append({"name": name, "source": source_of(name), "error": f"{type(exc).__name__}: {exc}"})
            continue
        row = tool.describe() | {"source": source_of(name)}
        if tool.kind == BLOCK_CODEC:
            row["levels"] = tool.levels
        out.append(row)
    return out
