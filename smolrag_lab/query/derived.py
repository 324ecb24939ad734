"""Structures derived from the index for retrieval, rebuilt only when what they derive from changes.

BM25 over the excerpts follows the index version; the pruned graph, the entity-name table and the
entity linker follow the graph view a query reads, so a query never mixes two versions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..index import Index
from ..settings import Settings
from ..stores.graph import GraphView
from ..text import excerpt_search_text
from . import planner
from .graph_rank import EntityLinker
from .lexical import LexicalIndex

PRUNING = ("prune_min_degree", "prune_min_weight", "prune_min_mentions", "prune_orphans")


class DerivedStructures:
    """One engine's cache of retrieval structures; each is built on first use."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._lexical: tuple[tuple[int, bool], LexicalIndex] | None = None
        self._by_view: dict[tuple, Any] = {}

    def forget(self) -> None:
        """Drop what follows the index version (after a repair or rebuild within one version)."""
        self._lexical = None

    def lexical(self, with_summary: bool = True) -> LexicalIndex:
        """BM25 over each excerpt (with its summary unless told otherwise)."""
        stamp = (self.index.version, with_summary)
        if self._lexical is None or self._lexical[0] != stamp:
            items = list(self.index.excerpts.items())
            texts = [excerpt_search_text(v["text"], v["summary"], with_summary) for _, v in items]
            self._lexical = (stamp, LexicalIndex([k for k, _ in items], texts))
        return self._lexical[1]

    def _of_view(self, view: GraphView, kind: str, build: Callable[[], Any], *key: Any) -> Any:
        """``build()``'s result, kept while ``view`` is the one queries read; structures of older
        views are dropped when a newer one is first used.
        """
        stamp = (kind, view.version, id(view), *key)
        if stamp not in self._by_view:
            self._by_view = {k: v for k, v in self._by_view.items() if k[1:3] == stamp[1:3]}
            self._by_view[stamp] = build()
        return self._by_view[stamp]

    def linker(self, view: GraphView) -> EntityLinker:
        """The graph's entity names, to spot those a question names."""
        return self._of_view(view, "linker", lambda: EntityLinker(view.graph))

    def names(self, view: GraphView) -> planner.EntityNames:
        """The entity-name table the ``auto`` planner matches questions against."""
        return self._of_view(view, "names", lambda: planner.EntityNames(view.graph))

    def query_graph(self, view: GraphView, s: Settings) -> Any:
        """The graph retrieval sees: the view's graph, or its pruned copy when pruning is set."""
        prune = tuple(getattr(s, k) for k in PRUNING)
        return self._of_view(view, "pruned", lambda: planner.pruned_graph(view.graph, s), *prune)
