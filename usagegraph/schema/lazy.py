"""The one way a type reaches its resolver module: lazily, at call time. Types call resolvers and resolvers
build types, so neither may import the other when it loads; type-to-type references use strawberry.lazy."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class resolvers:  # noqa: N801  (reads as a module reference at the call sites)
    def __init__(self, name: str) -> None:
        self._name = f"usagegraph.resolvers.{name}"
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)
