"""The libraries' own tests stand on the library alone: no ``strokealert`` import in them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("library", ["perfusion", "notifications"])
def test_library_tests_import_nothing_of_strokealert(library: str) -> None:
    files = sorted((TESTS / library).rglob("*.py"))
    assert files, f"no tests for {library}"
    offenders = {str(f.relative_to(TESTS)): sorted(m for m in _imported_modules(f)
                                                   if m.split(".")[0] == "strokealert")
                 for f in files}
    assert {f: m for f, m in offenders.items() if m} == {}
