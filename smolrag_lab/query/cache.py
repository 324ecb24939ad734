"""The query cache: results keyed by everything that shapes them, bounded in size.

The key includes the graph version the answer was built from (not the index's current one), so a
result built from an older view is never served under a newer version.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from ..providers.cache import request_key
from ..settings import QUERY_SETTINGS, Settings
from .result import QueryResult

# Settings the query cache key includes: what a query may override, and what the engine was opened
# with that changes a result (the answering model, the vector search, the description caps).
RESULT_SETTINGS = (
    *QUERY_SETTINGS,
    "description_cap",
    "keywords_cap",
    "completion_model",
    "completion_temperature",
    "vector_index",
    "vector_storage",
    "vector_pca_dims",
    "vector_rescore",
    "vector_shortlist_factor",
    "hnsw_expansion_search",
    "hnsw_dtype",
)


class QueryCache:
    """Cached results in the index's ``query_cache`` namespace (shared by every process)."""

    def __init__(self, store: Any, backend: str, embedder: str) -> None:
        self.store, self.backend, self.embedder = store, backend, embedder
        self._writes = 0

    def key(self, text: str, mode: str, answer: bool, s: Settings, version: int) -> str:
        return request_key(
            "query",
            text=text,
            mode=mode,
            answer=answer,
            version=version,
            backend=self.backend,
            embedder=self.embedder,
            settings={k: getattr(s, k) for k in RESULT_SETTINGS},
        )

    def get(self, key: str) -> QueryResult | None:
        hit = self.store.get(key)
        if not hit:
            return None
        return dataclasses.replace(QueryResult.from_dict(hit.get("result", hit)), cached=True)

    def remember(self, key: str, result: QueryResult, cap: int) -> None:
        """Cache a result, stamped; past ``cap`` entries the oldest go, down to 90% of it. Counting
        is checked every tenth of the cap's writes, so the bound costs O(1) per query amortised.
        """
        self.store.set(key, {"at": time.time(), "result": result.to_dict()})
        self._writes += 1
        if self._writes % max(1, cap // 10) and self._writes > 1:
            return
        excess = len(self.store) - cap
        if excess > 0:
            stamped = sorted((entry.get("at", 0.0), k) for k, entry in self.store.items())
            self.store.delete([k for _, k in stamped[: excess + cap // 10]])
