"""smolrag_lab: a small graph-plus-vector RAG engine and a workbench that shows what retrieval does."""

from .settings import Settings, SettingsError

__version__ = "0.1.0"
__all__ = ["Settings", "SettingsError", "__version__"]
