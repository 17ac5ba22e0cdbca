"""Calls between apps point one way: inspection reads declarations, never the reverse
(docs/architecture.md, "Who owns what")."""

import ast
from pathlib import Path

import declarations


def test_the_declarations_app_never_imports_inspection():
    root = Path(declarations.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [
                f"{path.relative_to(root)}:{node.lineno} {name}"
                for name in names
                if name == "inspection" or name.startswith("inspection.")
            ]
    assert found == []
