"""Element names: the trace, the code and docs/SYNTAX.md use one vocabulary, checked both ways.

* Every element the code can trace (a literal name in a ``trace(...)`` call or a header-syntax call of a
  normative module) appears in SYNTAX.md's element tables or syntax blocks.
* Every element SYNTAX.md defines is traced by some stream of this test (the golden-stream cases and a
  few more), so the tables hold no element the decoder never parses.
* ``PictureHeader``'s fields are exactly the header elements of SYNTAX.md §3.
"""
import ast
import dataclasses
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

import hybridcodec
from bitstream.container import PictureHeader
from hybridcodec.decoder import decode_full
from test_architecture import NORMATIVE
from test_golden_streams import CASES
from pictures import smooth_rgb, synthetic_rgb

SYNTAX = Path(__file__).resolve().parents[1] / "docs" / "SYNTAX.md"
DESCRIPTOR = r"(?:u\(\d+\)|ue\(v\)|se\(v\)|ae\(v\)|\d+ bytes)"
SYNTAX_CALLS = {"trace", "u", "ue", "se", "bytes", "flag"}   # calls whose first argument names an element


def base(name: str) -> str:
    """``nn_lf_scale[0]`` and ``nn_dc_offset[c]`` name the elements nn_lf_scale and nn_dc_offset."""
    return name.split("[")[0]


def syntax_md_elements() -> set[str]:
    """Names in the first column of SYNTAX.md's element tables and in its syntax blocks' element lines."""
    text = SYNTAX.read_text()
    names = set()
    for table in re.findall(r"^\| element \|.*?\n((?:\|.*\n)+)", text, re.M):
        for row in table.splitlines()[1:]:
            first = row.split("|")[1]
            names |= {base(n) for n in re.findall(r"`([a-z][a-z0-9_]*(?:\[\w+\])?)`", first)}
    for block in re.findall(r"```\n(.*?)```", text, re.S):
        for line in block.splitlines():
            m = re.match(r"\s+([a-z][a-z0-9_]*(?:\[\w+\])*)\s+" + DESCRIPTOR, line)
            if m:
                names.add(base(m.group(1)))
    return names


def traceable_names() -> set[str]:
    """Literal element names in the normative modules' ``trace(...)`` calls and header-syntax calls
    (``hc.u("pic_qp", ...)``, ``flag("...")``, and the names a syntax function loops over)."""
    names = set()
    for module in NORMATIVE:
        tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                first = node.args[0]
                if func in SYNTAX_CALLS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(base(first.value))
            elif isinstance(node, ast.FunctionDef) and "hc" in {a.arg for a in node.args.args}:
                for loop in (n for n in ast.walk(node) if isinstance(n, ast.For)):   # for name in ("...", ...)
                    names |= {base(c.value) for c in ast.walk(loop.iter)
                              if isinstance(c, ast.Constant) and isinstance(c.value, str)}
            elif isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CBF_NAMES":
                names |= {c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant)}
    return names


class NameSink:
    def __init__(self) -> None:
        self.names: set[str] = set()

    def element(self, name, value, where, bits, category) -> None:
        self.names.add(base(name))


EXTRA = {   # streams for elements the golden cases do not reach
    "nn-dc": (lambda: synthetic_rgb(64, 64, seed=8), dict(qp=30, nn_dc=True), "dc"),
    "host-tu64": (lambda: synthetic_rgb(128, 128, seed=4), dict(mode="host", qp=22, max_tu_size=64), None),
    "host-alf": (lambda: smooth_rgb(128, 192, seed=22), dict(mode="host", qp=22, nn_loop_filter=False), None),
    "host-alf-ctb": (lambda: np.concatenate([smooth_rgb(64, 128, seed=27), synthetic_rgb(64, 128, seed=27)], axis=1),
                     dict(mode="host", qp=27, ctu_size=64, nn_loop_filter=False), None),
}


@pytest.fixture(scope="module")
def emitted(tmp_path_factory) -> set[str]:
    from steering import steer_nn
    sink = NameSink()
    streams = {name: (make, options, "all" if steer else None) for name, (make, options, steer) in CASES.items()}
    for name, (make, options, steer) in (streams | EXTRA).items():
        with pytest.MonkeyPatch.context() as mp:
            if steer == "all":
                steer_nn(mp)
            elif steer == "dc":
                steer_nn(mp, mode_wins=lambda residual: residual is not None and residual[0] == 2)
            decode_full(hybridcodec.encode(make(), **options), trace_sink=sink)
    return sink.names


def test_every_traceable_element_is_in_syntax_md():
    missing = sorted(traceable_names() - syntax_md_elements())
    assert not missing, f"traced but not in docs/SYNTAX.md: {missing}"


def test_every_syntax_md_element_is_traced_by_some_stream(emitted):
    assert not sorted(emitted - syntax_md_elements()), sorted(emitted - syntax_md_elements())
    never = sorted(syntax_md_elements() - emitted)
    assert not never, f"in docs/SYNTAX.md but traced by no test stream: {never}"


def test_picture_header_fields_are_the_header_elements():
    table = SYNTAX.read_text().split("## 3. Picture header")[1].split("\n## ")[0]
    elements = {base(n) for n in re.findall(r"^\| `([a-z][a-z0-9_]*(?:\[\w+\])?)`", table, re.M)}
    elements |= {base(n) for n in re.findall(r"^\| `[a-z0-9_]+`, `([a-z][a-z0-9_]*(?:\[\w+\])?)`", table, re.M)}
    elements -= {"extension_length", "nn_model_name_length"}     # coded as the lengths of their data
    assert {f.name for f in dataclasses.fields(PictureHeader)} == elements
