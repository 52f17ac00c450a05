"""pyproject.toml says requires-python >= 3.9, but only 3.11 runs here (uv cannot download
interpreters on this machine). So the installed package's source is checked for what
3.9 cannot run: syntax newer than 3.9 (match, parenthesized context managers...), and
``X | Y`` annotations in modules that evaluate them (no postponed annotations: KFP reads
larder.kfp's annotations at run time)."""

from __future__ import annotations

import ast
import pathlib
import re
from typing import List

import larder

PACKAGE = pathlib.Path(larder.__file__).parent
SOURCES = sorted(p for p in PACKAGE.glob("*.py"))


def _floor() -> tuple:
    pyproject = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"
    found = re.search(r'^requires-python = ">=(\d+)\.(\d+)"$', pyproject.read_text(), re.MULTILINE)
    assert found, "pyproject.toml has no requires-python = \">=X.Y\""
    return (int(found.group(1)), int(found.group(2)))


def test_every_module_parses_with_the_oldest_python_pyproject_allows() -> None:
    floor = _floor()
    assert floor <= (3, 11)  # what is tested; README.md says which versions that means
    assert len(SOURCES) > 10  # the installed package, not an empty folder
    for source in SOURCES:
        ast.parse(source.read_text(encoding="utf-8"), filename=str(source), feature_version=floor)


def _runtime_unions(tree: ast.Module) -> List[int]:
    """Lines of ``a | b`` inside annotations (which 3.9 evaluates and cannot run)."""
    lines: List[int] = []
    annotations: List[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            annotations.extend(a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a is not None and a.annotation is not None)
            if node.returns is not None:
                annotations.append(node.returns)
    for annotation in annotations:
        lines.extend(n.lineno for n in ast.walk(annotation) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr))
    return lines


def test_modules_that_evaluate_annotations_use_no_pep_604_unions() -> None:
    evaluated = []
    for source in SOURCES:
        text = source.read_text(encoding="utf-8")
        if "from __future__ import annotations" in text:
            continue
        evaluated.append(source.name)
        lines = _runtime_unions(ast.parse(text))
        assert lines == [], f"{source.name}: X | Y annotations at lines {lines} fail on Python 3.9; use Optional/Union"
    assert "kfp.py" in evaluated
    # The checker itself finds one.
    assert _runtime_unions(ast.parse("def f(x: int | None) -> str | bytes: ...")) == [1, 1]
