"""The normative boundary, enforced by an allow-list: decoding loads only the modules below.

Every kind of stream is decoded in a fresh interpreter; any project module outside ``NORMATIVE`` (or
OpenCV) in ``sys.modules`` afterwards fails the test.  A static check adds the imports of rarely run
branches: an allow-listed module may import (at any depth, lazily or not) only allow-listed modules.
docs/DESIGN.md and docs/SYNTAX.md carry the list between ``normative-modules`` markers, generated from
``NORMATIVE`` (``python tests/test_architecture.py`` rewrites them), so the three cannot drift.
"""
import ast
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hybridcodec
from test_golden_streams import CASES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bitstream", "host", "nntools", "hybridcodec")
NORMATIVE = (
    "bitstream", "bitstream.bitio", "bitstream.cabac", "bitstream.container", "bitstream.contexts",
    "bitstream.errors", "bitstream.header_coder", "bitstream.rans", "bitstream.syntax_coder",
    "host", "host.alf", "host.cclm", "host.color", "host.context_init", "host.contexts", "host.deblock", "host.decoder",
    "host.edges", "host.intra",
    "host.partition", "host.quant", "host.reconstruct", "host.residual_coding", "host.scan", "host.syntax",
    "host.transform",
    "nntools", "nntools.architecture", "nntools.codec", "nntools.exact", "nntools.hyperprior", "nntools.patches",
    "nntools.picture", "nntools.plugin", "nntools.registry", "nntools.synthesis",
    "nntools.weights_id", "nntools.zoo",
    "nntools.loop_filter", "nntools.loop_filter.exact", "nntools.loop_filter.picture", "nntools.loop_filter.tool",
    "nntools.loop_filter.zoo",
    "hybridcodec", "hybridcodec.decoder", "hybridcodec.frame", "hybridcodec.nn_blocks", "hybridcodec.picture",
)
# every kind of stream: host (4:2:0, 4:4:4 with NxN, 4:0:0 10-bit), loop filter, NN-only, patches, hybrid
STREAMS = ("host-420-q22", "host-444-ctu64-nxn", "host-400-10bit", "host-sample-lf", "nn-level2", "nn-patches",
           "hybrid-nn-cus-tools", "hybrid-sample-lf")
# The package's API module loads the encoder lazily, inside encode(), and each built-in tool its encoder
# side, inside encoder() / decider(): the allowed exceptions.
LAZY_ENCODER_IMPORTS = {"hybridcodec": {"hybridcodec.config", "hybridcodec.encoder"},
                        "nntools.hyperprior": {"nntools.encoder.hyperprior"},
                        "nntools.loop_filter.tool": {"nntools.encoder.loop_filter"}}
DOCS = (ROOT / "docs" / "DESIGN.md", ROOT / "docs" / "SYNTAX.md")
MARK = re.compile(r"(<!-- normative-modules:begin -->\n).*?(<!-- normative-modules:end -->)", re.S)


def test_decoding_loads_only_normative_modules(tmp_path, force_nn):
    paths = []
    for name in STREAMS:
        make, options, steer = CASES[name]
        if steer:
            force_nn()
        paths.append(str(tmp_path / f"{name}.hbc"))
        Path(paths[-1]).write_bytes(hybridcodec.encode(make(), **options))
    script = (
        "import json, sys, hybridcodec\n"
        f"for path in {paths!r}:\n"
        "    hybridcodec.decode(open(path, 'rb').read())\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {PACKAGES!r} or m == 'cv2')))\n"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                       text=True, cwd=tmp_path).stdout)
    outside = sorted(set(loaded) - set(NORMATIVE))
    assert not outside, f"decoding loaded non-normative modules: {outside}"
    assert "nntools.loop_filter.picture" in loaded and "nntools.patches" in loaded   # every path was run


def project_imports(module: str) -> set[str]:
    """Project modules that ``module``'s source imports anywhere (top level or inside functions)."""
    spec = importlib.util.find_spec(module)
    tree = ast.parse(Path(spec.origin).read_text())
    package = module if spec.origin.endswith("__init__.py") else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n.split(".")[0] in PACKAGES and is_module(n)}
    return found


def is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:      # an attribute of a module (from host.quant import clip16)
        return False


@pytest.mark.parametrize("module", NORMATIVE)
def test_normative_module_imports_only_normative_modules(module):
    outside = sorted(project_imports(module) - set(NORMATIVE) - LAZY_ENCODER_IMPORTS.get(module, set()))
    assert not outside, f"{module} imports {outside}"
    source = Path(importlib.util.find_spec(module).origin).read_text()
    assert not re.search(r"^\s*(import|from)\s+cv2\b", source, re.M), f"{module} imports OpenCV"


def test_built_in_tools_are_normative():
    """The registry loads built-in tools by "module:factory" strings, which the static check cannot see."""
    from nntools.registry import BUILT_IN
    assert {factory.partition(":")[0] for _, factory in BUILT_IN.values()} <= set(NORMATIVE)


def module_table() -> str:
    """The allow-list as a Markdown table (module, file, first line of its docstring)."""
    rows = ["| module | file | what it specifies |", "|---|---|---|"]
    for module in NORMATIVE:
        path = Path(importlib.util.find_spec(module).origin)
        doc = (ast.get_docstring(ast.parse(path.read_text())) or "").split("\n")[0]
        rows.append(f"| `{module}` | `{path.relative_to(ROOT)}` | {doc} |")
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_list_the_allow_list(doc):
    match = MARK.search(doc.read_text())
    assert match, f"{doc.name} lacks the normative-modules markers"
    assert match.group(0) == match.group(1) + module_table() + match.group(2), \
        f"{doc.name}'s module list differs from NORMATIVE: run python tests/test_architecture.py"


if __name__ == "__main__":       # regenerate the docs' module lists from NORMATIVE
    for doc in DOCS:
        text = doc.read_text()
        doc.write_text(MARK.sub(lambda m: m.group(1) + module_table() + m.group(2), text))
    print("module lists rewritten in", ", ".join(d.name for d in DOCS))
