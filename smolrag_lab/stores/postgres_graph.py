"""The knowledge graph in PostgreSQL: ``smolrag_entities`` and ``smolrag_edges`` rows (attributes as
jsonb), loaded into networkx for retrieval as the file backend's GraphML is. Writes go out as the
changed rows of each commit (:meth:`persist`), inside the document's transaction; neighbourhoods can
be asked of the database itself with a recursive query. Edges are undirected and stored once, with
``source < target``; recursive queries filter on the workspace, so the edge table may be a Citus
reference table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import networkx as nx

from .graph import NetworkXGraph
from .postgres import PostgresDatabase


class PostgresGraphStore(NetworkXGraph):
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self.graph = nx.Graph()
        self.reload()

    def reload(self) -> None:
        graph = nx.Graph()
        ws = (self.db.workspace,)
        graph.add_nodes_from(
            self.db.execute("SELECT key, attrs FROM smolrag_entities WHERE workspace=%s", ws)
        )
        graph.add_edges_from(
            (s, t, a)
            for s, t, a in self.db.execute(
                "SELECT source, target, attrs FROM smolrag_edges WHERE workspace=%s", ws
            )
        )
        self.graph = graph

    def persist(self, nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> None:
        """Write the current state of these nodes and edges: upserted where they exist, deleted where not."""
        ws, graph = self.db.workspace, self.graph
        nodes, edges = set(nodes), {tuple(sorted(e)) for e in edges}
        with self.db.transaction():
            gone = [n for n in nodes if n not in graph]
            cut = [e for e in edges if not graph.has_edge(*e)]
            if gone:
                self.db.execute(
                    "DELETE FROM smolrag_entities WHERE workspace=%s AND key = ANY(%s)", (ws, gone)
                )
            for source, target in cut:
                self.db.execute(
                    "DELETE FROM smolrag_edges WHERE workspace=%s AND source=%s AND target=%s",
                    (ws, source, target),
                )
            self.db.executemany(
                "INSERT INTO smolrag_entities (workspace, key, attrs) VALUES (%s, %s, %s) "
                "ON CONFLICT (workspace, key) DO UPDATE SET attrs = EXCLUDED.attrs",
                [(ws, n, _json(graph.nodes[n])) for n in sorted(nodes) if n in graph],
            )
            self.db.executemany(
                "INSERT INTO smolrag_edges (workspace, source, target, attrs) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (workspace, source, target) DO UPDATE SET attrs = EXCLUDED.attrs",
                [
                    (ws, s, t, _json(graph.edges[s, t]))
                    for s, t in sorted(edges)
                    if graph.has_edge(s, t)
                ],
            )

    def save(self) -> None:
        """Rewrite the workspace's whole graph (after a rebuild); commits persist their own rows."""
        with self.db.transaction():
            self.db.execute("DELETE FROM smolrag_edges WHERE workspace=%s", (self.db.workspace,))
            self.db.execute("DELETE FROM smolrag_entities WHERE workspace=%s", (self.db.workspace,))
            self.persist(self.graph.nodes, self.graph.edges)

    def neighbourhood(self, key: str, hops: int = 1) -> set[str]:
        """Entities within ``hops`` relationships of ``key`` (itself included), by a recursive query."""
        rows = self.db.execute(
            "WITH RECURSIVE reach(key, depth) AS (SELECT %s::text, 0 UNION "
            "SELECT CASE WHEN e.source = r.key THEN e.target ELSE e.source END, r.depth + 1 "
            "FROM reach r JOIN smolrag_edges e ON e.workspace = %s AND (e.source = r.key OR e.target = r.key) "
            "WHERE r.depth < %s) SELECT DISTINCT key FROM reach",
            (key, self.db.workspace, int(hops)),
        )
        found = {k for (k,) in rows}
        return found if key in self.graph or len(found) > 1 else set()

    def size_bytes(self) -> int:
        return 0  # counted with the database (PostgresDatabase.size_bytes)


def _json(attrs: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in attrs.items() if v is not None}, ensure_ascii=False)
