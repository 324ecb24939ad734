"""Which searches a query runs, and how: the ``auto`` query type's choice of mode, graph pruning
for retrieval, and the searches of ``hybrid_kg`` / ``mix`` run one after another or concurrently.

Searches always run in a worker thread, never on the event loop, so queries from several threads
(or an async server) overlap instead of queueing behind one another.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import networkx as nx
import numpy as np

from ..index import Index
from ..settings import Settings
from ..stores.graph import GraphView
from . import retrieval
from .bm25 import LexicalIndex
from .graph_rank import EntityLinker

QUERY_TYPES = (*retrieval.MODES, "auto")
RELATION_CUES = frozenset(
    {
        "between",
        "relationship",
        "relationships",
        "relate",
        "relates",
        "related",
        "compare",
        "compared",
        "comparison",
        "difference",
        "differences",
        "versus",
        "vs",
        "interact",
        "interacts",
        "connect",
        "connects",
        "connected",
        "affect",
        "affects",
        "impact",
    }
)
_WORD = re.compile(r"[\w.+-]+")


@dataclass
class Plan:
    mode: str
    reason: str = ""


class EntityNames:
    """Casefolded entity names of the graph (n-grams of up to ``max_words`` words), for spotting
    the entities a question names without a model call.
    """

    def __init__(self, graph: nx.Graph, max_words: int = 4) -> None:
        self.max_words = max_words
        self.names = {
            str(key).casefold() for key in graph.nodes if len(str(key).split()) <= max_words
        }

    def named_in(self, question: str) -> list[str]:
        words = [w.strip(".-+").casefold() for w in _WORD.findall(question)]
        found: list[str] = []
        for size in range(self.max_words, 0, -1):
            for start in range(len(words) - size + 1):
                gram = " ".join(words[start : start + size])
                if gram in self.names and not any(gram in longer for longer in found):
                    found.append(gram)
        return found


def choose_mode(question: str, names: EntityNames) -> Plan:
    """``mix`` (graph and vector search) when the question relates two or more entities the graph
    knows; ``standard`` otherwise. Deliberately conservative: ``mix`` keeps the vector ranking, and
    graph-only modes lose to it on factual lookups in both labelled sets.
    """
    named = names.named_in(question)
    words = {w.casefold() for w in _WORD.findall(question)}
    cue = sorted(words & RELATION_CUES)
    if len(named) >= 2 and cue:
        return Plan(
            "mix", f"names {len(named)} known entities and asks how they relate ({cue[0]!r})"
        )
    if len(named) >= 3 and len(words) >= 12:
        return Plan("mix", f"a long question naming {len(named)} known entities")
    return Plan(
        "standard",
        f"names {len(named)} known entit{'y' if len(named) == 1 else 'ies'}; no relation asked",
    )


def pruned_graph(graph: nx.Graph, s: Settings) -> nx.Graph:
    """The graph retrieval sees: relationships below ``prune_min_weight``, entities cited by fewer
    than ``prune_min_mentions`` excerpts or with degree below ``prune_min_degree`` (counted once,
    after the relationship cut: not an iterated k-core), and (with ``prune_orphans``) entities left
    without relationships, removed. The stored graph is untouched.
    """
    if not (s.prune_min_weight or s.prune_min_mentions or s.prune_min_degree or s.prune_orphans):
        return graph
    kept = nx.Graph()
    kept.graph.update(graph.graph)
    kept.add_nodes_from(
        (n, d)
        for n, d in graph.nodes(data=True)
        if len(d.get("excerpt_ids", ())) >= s.prune_min_mentions
    )
    kept.add_edges_from(
        (a, b, d)
        for a, b, d in graph.edges(data=True)
        if float(d.get("weight", 0.0)) >= s.prune_min_weight and a in kept and b in kept
    )
    kept.remove_nodes_from([n for n, degree in kept.degree() if degree < s.prune_min_degree])
    if s.prune_orphans:  # last, so entities whose every neighbour was pruned go too
        kept.remove_nodes_from([n for n, degree in kept.degree() if degree == 0])
    return kept


async def search(
    index: Index,
    view: GraphView,
    graph: nx.Graph,
    mode: str,
    vectors: dict[str, np.ndarray],
    s: Settings,
    question: str,
    lexical: LexicalIndex | None,
    linker: EntityLinker | None = None,
) -> retrieval.Retrieved:
    """Run the mode's searches on ``graph`` (``view``'s graph or a pruned copy of it);
    ``linker`` spots the entities a question names.
    """
    jobs: dict[str, Callable[[], Any]] = {}
    pruned = graph is not view.graph
    if mode in ("local_kg", "hybrid_kg", "mix"):
        jobs["local"] = partial(
            retrieval.local_kg, index, vectors["low"], s, graph, view.mentions, pruned
        )
    if mode in ("global_kg", "hybrid_kg", "mix"):
        jobs["global"] = partial(retrieval.global_kg, index, vectors["high"], s, graph, pruned)
    rerank = mode == "mix" and s.mix_graph == "rerank"
    if mode == "standard" or (mode == "mix" and not rerank):
        jobs["vector"] = partial(retrieval.standard, index, vectors["query"], s, question, lexical)
    done = await _run_searches(jobs, s.parallel_retrieval)
    if "local" in done and "global" in done:
        result = retrieval.hybrid_kg(done["local"], done["global"])
    else:
        result = done.get("local") or done.get("global") or retrieval.Retrieved(mode)
    if rerank:
        seeds = _seeds(done["local"].entities, linker.linked(question) if linker else [])
        done["vector"] = await asyncio.to_thread(
            retrieval.graph_reranked,
            index,
            graph,
            view.mentions,
            vectors["query"],
            s,
            question,
            lexical,
            seeds,
        )
    result.vector_excerpts = done.get("vector", [])
    result.mode = mode
    return result


async def _run_searches(jobs: dict[str, Callable[[], Any]], parallel: bool) -> dict[str, Any]:
    """Each job's result by name: in one worker thread after another, or (``parallel``, with more
    than one) in a thread each at once.
    """
    if parallel and len(jobs) > 1:
        return dict(
            zip(
                jobs,
                await asyncio.gather(*(asyncio.to_thread(job) for job in jobs.values())),
                strict=True,
            )
        )
    return await asyncio.to_thread(lambda: {name: job() for name, job in jobs.items()})


def _seeds(entities: list[dict[str, Any]], named: list[str]) -> dict[str, float]:
    """Personalisation for PageRank: entities the question names (weight 1) and the entity-vector
    hits of ``local_kg`` (weight: their similarity).
    """
    seeds = {e["key"]: max(float(e.get("score", 0.0)), 0.0) for e in entities}
    seeds.update({key: 1.0 for key in named})
    return seeds
