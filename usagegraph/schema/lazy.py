"""Types call resolvers, and resolvers build types: the types reach their resolver modules lazily so that
neither import order nor a cycle matters."""

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
