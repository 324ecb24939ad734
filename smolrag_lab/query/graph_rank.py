"""Graph signals that re-rank the fused excerpt list of ``mix`` (``mix_graph="rerank"``), in the
spirit of HippoRAG and fast-graphrag: personalised PageRank seeded with the entities the question
names, each candidate excerpt scored by the PageRank mass of the entities it mentions, and that
score blended with the fused text score. Appending graph excerpts after the fused ones
(``mix_graph="append"``) leaves the top of the list exactly as ``standard`` has it; re-ranking
lets the graph move it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import networkx as nx
import numpy as np
import Stemmer

from ..text import STOPWORDS
from .lexical import normalised

_STEMMER = Stemmer.Stemmer("english")
_WORD = re.compile(r"[\w+#]+(?:[.'][\w+#]+)*")


def _stems(text: str) -> tuple[str, ...]:
    return tuple(_STEMMER.stemWords([w.casefold() for w in _WORD.findall(text)]))


class EntityLinker:
    """The graph's entity names as stemmed word sequences (up to ``max_words`` words), so that a
    question's "excerpt vectors" finds the entity "Excerpt vector" and its "threads" finds "thread".
    Longer names win over the names inside them.
    """

    def __init__(self, graph: nx.Graph, max_words: int = 4) -> None:
        self.max_words = max_words
        stopwords = set(_STEMMER.stemWords(sorted(STOPWORDS))) | STOPWORDS
        self.keys: dict[tuple[str, ...], list[str]] = {}
        for key in graph.nodes:
            stems = _stems(str(key))
            if 0 < len(stems) <= max_words and not (len(stems) == 1 and stems[0] in stopwords):
                self.keys.setdefault(stems, []).append(key)

    def linked(self, question: str) -> list[str]:
        """Graph keys the question names, longest names first, each once."""
        words = _stems(question)
        covered: set[int] = set()
        found: list[str] = []
        for size in range(self.max_words, 0, -1):
            for start in range(len(words) - size + 1):
                span = set(range(start, start + size))
                keys = self.keys.get(words[start : start + size])
                if keys and not span <= covered:
                    covered |= span
                    found += [k for k in keys if k not in found]
        return found


def personalised_pagerank(
    graph: nx.Graph,
    nodes: set[str],
    seeds: Mapping[str, float],
    alpha: float = 0.85,
    iterations: int = 100,
) -> dict[str, float]:
    """PageRank on the subgraph of ``nodes``, restarting at ``seeds`` (weights need not sum to 1).

    Power iteration over the subgraph's dense weighted adjacency (numpy; the subgraph holds only the
    entities of a few dozen candidate excerpts), dangling nodes restarting at the seeds as
    ``networkx.pagerank`` does.
    """
    seeds = {k: w for k, w in seeds.items() if k in nodes and w > 0}
    if not seeds:
        return {}
    order = list(nodes)
    adjacency = nx.to_numpy_array(graph.subgraph(order), nodelist=order, weight="weight")
    out_weight = adjacency.sum(axis=1)
    transition = np.divide(
        adjacency, out_weight[:, None], out=np.zeros_like(adjacency), where=out_weight[:, None] > 0
    )
    restart = np.array([seeds.get(k, 0.0) for k in order])
    restart /= restart.sum()
    dangling = out_weight == 0
    rank = restart.copy()
    for _ in range(iterations):
        updated = (
            alpha * (rank @ transition + rank[dangling].sum() * restart) + (1 - alpha) * restart
        )
        if np.abs(updated - rank).sum() < 1e-9:
            rank = updated
            break
        rank = updated
    return dict(zip(order, rank.tolist(), strict=True))


def rerank(
    candidates: Sequence[tuple[str, float]],
    mentions: Mapping[str, Iterable[str]],
    graph: nx.Graph,
    seeds: Mapping[str, float],
    weight: float,
) -> list[tuple[str, float]]:
    """``candidates`` (fused excerpt ids and scores, best first) ordered by
    ``(1 - weight) * text + weight * graph``, both min-max normalised over the list; the graph score
    of an excerpt is the personalised PageRank mass of the entities it mentions. Without seeds in
    the candidates' entities, the list comes back unchanged.
    """
    if not candidates or weight <= 0:
        return list(candidates)
    nodes = {k for i, _ in candidates for k in mentions.get(i, ()) if k in graph}
    rank = personalised_pagerank(graph, nodes | {k for k in seeds if k in graph}, seeds)
    if not rank:
        return list(candidates)
    graph_scores = [sum(rank.get(k, 0.0) for k in mentions.get(i, ())) for i, _ in candidates]
    text = normalised([s for _, s in candidates], "minmax")
    structure = normalised(graph_scores, "minmax")
    blended = [
        (i, float((1 - weight) * t + weight * g))
        for (i, _), t, g in zip(candidates, text, structure, strict=True)
    ]
    return sorted(blended, key=lambda item: -item[1])  # stable: ties keep the fused order
