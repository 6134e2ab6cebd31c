"""Package faces that import on first use: each stage's public names, without its import cost.

A face lists what a package offers (`__all__`) and the module each name
lives in. Nothing is imported until a name is asked for, so `from mlcore
import vector` stays light, reading `mlcore.raster` does not load torch, and
no face can close an import circle between the stages. `from pkg import
submodule` keeps working: a name that is not in the face falls through to
the import system.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_face(
    package: str, exports: dict[str, str | None]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`; `exports` maps a name to its module.

    A module of None means the name is a subpackage or module of `package` itself.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = exports[name]
        if module is None:
            value = importlib.import_module(f"{package}.{name}")
        else:
            value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__


def names(**modules: str) -> dict[str, str]:
    """{name: module} from module="name name ..." keyword arguments, for short faces."""
    return {name: module for module, listed in modules.items() for name in listed.split()}
