"""Model providers: embedders and completion-task backends, chosen by :class:`Settings`.

The OpenAI-compatible client is imported when first used (the ``openai`` SDK takes seconds to
import, and an offline index never needs it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..settings import Settings
from ..stores.kv import SqliteDatabase
from .base import (
    CompletionTasks,
    Embedder,
    EntityRecord,
    Extraction,
    ProviderError,
    QueryKeywords,
    RelationshipRecord,
)
from .cache import CachedEmbedder, CompletionCache
from .local_embedder import LocalEmbedder
from .local_tasks import LocalTasks
from .stats import CallStats, ProviderStats

if TYPE_CHECKING:
    from .openai_client import OpenAIClient
    from .openai_embedder import OpenAIEmbedder
    from .openai_tasks import OpenAITasks

_LAZY = {
    "OpenAIClient": ".openai_client",
    "OpenAIEmbedder": ".openai_embedder",
    "OpenAITasks": ".openai_tasks",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Providers:
    """The embedder, the completion tasks and the shared cache database for one configuration."""

    def __init__(self, settings: Settings, cache_db: SqliteDatabase | None = None) -> None:
        self.settings = settings
        needs_cache = settings.embedding_cache or settings.completion_cache
        self.cache_db = cache_db or (
            SqliteDatabase(settings.resolved_cache_path) if needs_cache else None
        )
        self._client: OpenAIClient | None = None
        self.embedder = self._make_embedder()
        self.tasks = self._make_tasks()

    @property
    def client(self) -> OpenAIClient:
        if self._client is None:
            from .openai_client import OpenAIClient

            cache = (
                CompletionCache(self.cache_db.namespace("completion_cache"))
                if self.cache_db
                else None
            )
            self._client = OpenAIClient(self.settings, cache)
        return self._client

    def _make_embedder(self) -> Embedder:
        s = self.settings
        if s.embedding_backend == "openai":
            model = (
                s.embedding_model
                if s.embedding_model != "all-MiniLM-L6-v2"
                else "text-embedding-3-small"
            )
            from .openai_embedder import OpenAIEmbedder

            inner: Embedder = OpenAIEmbedder(self.client, model)
        else:
            inner = LocalEmbedder(batch_size=s.embedding_batch_size, threads=s.embedding_threads)
        if s.embedding_cache and self.cache_db is not None:
            return CachedEmbedder(inner, self.cache_db.namespace("embedding_cache"))
        return inner

    def _make_tasks(self) -> CompletionTasks:
        if self.settings.resolved_completion_backend == "openai":
            from .openai_tasks import OpenAITasks

            return OpenAITasks(self.client, self.settings.entity_types)
        return LocalTasks()

    def stats(self) -> dict[str, dict]:
        merged = dict(self.embedder.stats.snapshot())
        merged.update(self.tasks.stats.snapshot())
        return merged


__all__ = [
    "CallStats",
    "CachedEmbedder",
    "CompletionCache",
    "CompletionTasks",
    "Embedder",
    "EntityRecord",
    "Extraction",
    "LocalEmbedder",
    "LocalTasks",
    "OpenAIClient",
    "OpenAIEmbedder",
    "OpenAITasks",
    "ProviderError",
    "ProviderStats",
    "Providers",
    "QueryKeywords",
    "RelationshipRecord",
]
