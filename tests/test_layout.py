"""Structure the code relies on, checked: only dialects/ knows dialect names. The relay, the
server, adapt and the provider base ask the registered Dialect object instead of comparing
names (DESIGN.md, "Rules that keep this shape"); modules stay a readable size."""

from __future__ import annotations

import ast
from pathlib import Path

from crossway.dialects import registry

SRC = Path(__file__).resolve().parents[1] / "src" / "crossway"
NAMES = set(registry.names()) | {"openai_responses", "gemini", "openai", "messages", "chat"}
NO_DIALECT_NAMES = [
    *sorted((SRC / "server").rglob("*.py")),
    SRC / "relay.py", SRC / "relay_stream.py", SRC / "adapt.py", SRC / "exchange.py",
    SRC / "providers" / "base.py",
]


def _compared_names(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op in operands:
                elts = op.elts if isinstance(op, ast.Tuple | ast.List | ast.Set) else [op]
                found += [(node.lineno, e.value) for e in elts
                          if isinstance(e, ast.Constant) and e.value in NAMES]
        elif isinstance(node, ast.match_case) and isinstance(node.pattern, ast.MatchValue):
            value = node.pattern.value
            if isinstance(value, ast.Constant) and value.value in NAMES:
                found.append((node.pattern.lineno, value.value))
    return found


def test_no_dialect_name_comparisons_outside_dialects() -> None:
    offenders = []
    for path in NO_DIALECT_NAMES:
        for line, name in _compared_names(ast.parse(path.read_text(), str(path))):
            offenders.append(f"{path.relative_to(SRC)}:{line} compares with {name!r}")
    assert offenders == []


def test_the_checker_finds_a_comparison() -> None:
    sample = 'if dialect == "anthropic" or d in ("openai_chat", "x"):\n    pass\n'
    assert [n for _, n in _compared_names(ast.parse(sample))] == ["anthropic", "openai_chat"]


def test_modules_stay_readable() -> None:
    long = [f"{p.relative_to(SRC)}: {n} lines" for p in SRC.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 650]
    assert long == []
