"""Calls between apps point one way: ecommerce draws on the zones' accounts through zones'
services and queries; zones never imports ecommerce (docs/architecture.md)."""

import ast
from pathlib import Path

import zones


def test_the_zones_app_never_imports_ecommerce():
    root = Path(zones.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [
                f"{path.relative_to(root)}:{node.lineno} {name}"
                for name in names
                if name == "ecommerce" or name.startswith("ecommerce.")
            ]
    assert found == []
