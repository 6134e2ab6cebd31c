"""Serializers have one home, inventories/api/serializers/: a view that defines its own fails here.

The rule and the names are in that package's docstring; this keeps the first
half of it from drifting back (a serializer written inside a view module, or
an `inline_serializer` in a schema decorator).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

from rest_framework.serializers import BaseSerializer

import inventories.api.serializers

ROOT = Path(__file__).resolve().parents[2]
HOME = ROOT / "inventories" / "api" / "serializers"


def _base_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def _serializers_outside_home() -> list[str]:
    """`path:line name` of each serializer class or inline_serializer call outside the home."""
    found = []
    for package in ("inventories", "webapp"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if HOME in path.parents:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.ClassDef) and any(
                    _base_name(base).endswith("Serializer") for base in node.bases
                ):
                    found.append(f"{where} {node.name}")
                elif isinstance(node, ast.Call) and _base_name(node.func) == "inline_serializer":
                    found.append(f"{where} inline_serializer")
    return found


def test_no_module_outside_the_serializers_package_defines_a_serializer():
    assert _serializers_outside_home() == []


def test_every_class_in_the_serializers_package_is_a_serializer_named_so():
    classes = {}
    for info in pkgutil.iter_modules(inventories.api.serializers.__path__):
        module = importlib.import_module(f"inventories.api.serializers.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, type) and value.__module__ == module.__name__:
                classes[name] = issubclass(value, BaseSerializer)
    assert len(classes) > 30  # the walk found the modules
    misnamed = [
        name for name, is_serializer in classes.items()
        if not (is_serializer and name.endswith("Serializer"))
    ]  # fmt: skip
    assert misnamed == []
