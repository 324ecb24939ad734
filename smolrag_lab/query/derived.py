"""Structures derived from the index for retrieval, kept until what they derive from changes.

BM25 over the excerpts follows the index version by applying the documents logged since the version
it shows (a one-document commit costs that document, not the corpus); the pruned graph, the
entity-name table and the entity linker follow the graph view a query reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..index import Index
from ..settings import Settings
from ..stores.graph import GraphView
from ..text import excerpt_search_text
from . import planner
from .bm25 import LexicalIndex
from .graph_rank import EntityLinker

PRUNING = ("prune_min_degree", "prune_min_weight", "prune_min_mentions", "prune_orphans")


@dataclass
class _Lexical:
    """A BM25 index, the index version it shows and the excerpt ids it holds per document."""

    version: int
    bm25: LexicalIndex = field(default_factory=LexicalIndex)
    by_doc: dict[str, list[str]] = field(default_factory=dict)


class DerivedStructures:
    """One engine's cache of retrieval structures; each is built on first use."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._lexical: dict[bool, _Lexical] = {}
        self._lexical_lock = threading.Lock()
        self._by_view: dict[tuple, Any] = {}

    def forget(self) -> None:
        """Drop what follows the index version (after a repair or rebuild within one version)."""
        with self._lexical_lock:
            self._lexical.clear()

    def lexical(self, with_summary: bool = True) -> LexicalIndex:
        """BM25 over each excerpt (with its summary unless told otherwise), brought up to the
        index's version.
        """
        with self._lexical_lock:
            state = self._lexical.get(with_summary)
            if state is None or state.version != self.index.version:
                with self.index.db.snapshot():
                    state = self._updated(state, with_summary)
                self._lexical[with_summary] = state
            return state.bm25

    def _updated(self, state: _Lexical | None, with_summary: bool) -> _Lexical:
        """``state`` with the documents changed since its version re-read (all of them when there
        is no state or no log to follow); call inside a snapshot.
        """
        now = self.index.version
        changed = self.index.document_log.since(state.version) if state else None
        if state is None or changed is None:
            state, excerpts = _Lexical(now), dict(self.index.excerpts.items())
        else:
            records = self.index.documents.get_many(changed)
            for doc_id in changed:
                state.bm25.remove(state.by_doc.pop(doc_id, ()))
            wanted = [eid for record in records.values() for eid in record["excerpt_ids"]]
            state.version, excerpts = now, self.index.excerpts.get_many(wanted)
        ids = list(excerpts)
        texts = [
            excerpt_search_text(excerpts[e]["text"], excerpts[e]["summary"], with_summary)
            for e in ids
        ]
        state.bm25.add(ids, texts)
        for eid in ids:
            state.by_doc.setdefault(excerpts[eid]["doc_id"], []).append(eid)
        return state

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
