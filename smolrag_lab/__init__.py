"""smolrag_lab: a small graph-plus-vector RAG engine and a workbench that shows what retrieval does."""

from .engine import QueryResult, SmolRag
from .settings import Settings, SettingsError

__version__ = "0.1.0"
__all__ = ["QueryResult", "Settings", "SettingsError", "SmolRag", "__version__"]
