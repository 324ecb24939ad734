"""smolrag_lab: a small graph-plus-vector RAG engine and a workbench that shows what retrieval does.

The names below are imported on first use, so ``import smolrag_lab`` (and a command that needs
only part of the package) does not pay for the engine's dependencies up front.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import SmolRag
    from .query.result import QueryResult
    from .settings import Settings, SettingsError

__version__ = "0.1.0"
__all__ = ["QueryResult", "Settings", "SettingsError", "SmolRag", "__version__"]
_LAZY = {
    "QueryResult": ".query.result",
    "SmolRag": ".engine",
    "Settings": ".settings",
    "SettingsError": ".settings",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
