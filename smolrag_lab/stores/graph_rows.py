"""The knowledge graph as rows, the same SQL on SQLite and PostgreSQL.

``smolrag_entities`` (one row per entity key) and ``smolrag_edges`` (one per undirected edge, stored
with ``source < target``) hold each item's attributes as JSON, including every document's
contribution keyed by its id (descriptions, keywords, weights, excerpt ids). Each row carries the
index version that last wrote it, and ``smolrag_graph_removed`` the version that removed an item, so
a reader brings its view up to date by reading only the rows changed after the version it shows.
Writes happen inside the caller's transaction (the document's commit), touching only changed rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, cast

from .base import GraphStore
from .graph import GraphChanges, Pair

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS smolrag_entities (workspace text NOT NULL, key text NOT NULL, "
    "attrs {json} NOT NULL, version bigint NOT NULL DEFAULT 0, PRIMARY KEY (workspace, key))",
    "CREATE TABLE IF NOT EXISTS smolrag_edges (workspace text NOT NULL, source text NOT NULL, "
    "target text NOT NULL, attrs {json} NOT NULL, version bigint NOT NULL DEFAULT 0, "
    "PRIMARY KEY (workspace, source, target))",
    "CREATE INDEX IF NOT EXISTS smolrag_edges_by_target ON smolrag_edges (workspace, target)",
    "CREATE TABLE IF NOT EXISTS smolrag_graph_removed (workspace text NOT NULL, "
    "kind text NOT NULL, a text NOT NULL, b text NOT NULL, version bigint NOT NULL, "
    "PRIMARY KEY (workspace, kind, a, b))",
    "CREATE INDEX IF NOT EXISTS smolrag_entities_by_version ON smolrag_entities "
    "(workspace, version)",
    "CREATE INDEX IF NOT EXISTS smolrag_edges_by_version ON smolrag_edges (workspace, version)",
    "CREATE INDEX IF NOT EXISTS smolrag_removed_by_version ON smolrag_graph_removed "
    "(workspace, version)",
]
_BATCH = 400


class RowGraphStore(GraphStore):
    """Graph rows in ``db`` (a :class:`~.kv.SqliteDatabase` or :class:`~.postgres.PostgresDatabase`:
    anything with ``execute``, ``executemany``, ``transaction``, ``workspace`` and ``param``).
    """

    def __init__(self, db: Any) -> None:
        self.db = db
        self.ws = db.workspace

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        return self.db.execute(sql.replace("?", self.db.param), (self.ws, *params))

    def _many(self, sql: str, rows: list[tuple]) -> None:
        if rows:
            self.db.executemany(sql.replace("?", self.db.param), rows)

    # Reading ------------------------------------------------------------------------------
    def nodes(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys, found = list(dict.fromkeys(keys)), cast("dict[str, dict[str, Any]]", {})
        for start in range(0, len(keys), _BATCH):
            chunk = keys[start : start + _BATCH]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT key, attrs FROM smolrag_entities WHERE workspace=? AND key IN ({marks})"
            found.update((k, _attrs(a)) for k, a in self._rows(sql, chunk))
        return found

    def edges(self, pairs: Iterable[Pair]) -> dict[Pair, dict[str, Any]]:
        found = {}
        for source, target in dict.fromkeys(tuple(sorted(p)) for p in pairs):
            rows = self._rows(
                "SELECT attrs FROM smolrag_edges WHERE workspace=? AND source=? AND target=?",
                (source, target),
            )
            if rows:
                found[(source, target)] = _attrs(rows[0][0])
        return found

    def incident(self, key: str) -> list[Pair]:
        rows = self._rows(
            "SELECT source, target FROM smolrag_edges WHERE workspace=? AND source=? "
            "UNION SELECT source, target FROM smolrag_edges WHERE workspace=? AND target=?",
            (key, self.ws, key),
        )
        return sorted((s, t) for s, t in rows)

    def changes_since(self, version: int, now: int) -> GraphChanges:
        """Rows written or removed after ``version`` (all of them when ``version`` < 0), as of
        ``now``. Call inside a snapshot so that ``now`` and the rows agree.
        """
        after = (max(version, -1),)
        changes = GraphChanges(now, full=version < 0)
        changes.nodes = [
            (k, _attrs(a))
            for k, a in self._rows(
                "SELECT key, attrs FROM smolrag_entities WHERE workspace=? AND version>? "
                "ORDER BY version, key",
                after,
            )
        ]
        changes.edges = [
            (s, t, _attrs(a))
            for s, t, a in self._rows(
                "SELECT source, target, attrs FROM smolrag_edges WHERE workspace=? AND version>? "
                "ORDER BY version, source, target",
                after,
            )
        ]
        if not changes.full:
            for kind, a, b in self._rows(
                "SELECT kind, a, b FROM smolrag_graph_removed WHERE workspace=? AND version>?",
                after,
            ):
                (
                    changes.removed_nodes.append(a)
                    if kind == "n"
                    else changes.removed_edges.append((a, b))
                )
        return changes

    def number_of_nodes(self) -> int:
        return int(self._rows("SELECT count(*) FROM smolrag_entities WHERE workspace=?")[0][0])

    def number_of_edges(self) -> int:
        return int(self._rows("SELECT count(*) FROM smolrag_edges WHERE workspace=?")[0][0])

    # Writing ------------------------------------------------------------------------------
    def write(
        self,
        nodes: Mapping[str, dict[str, Any] | None],
        edges: Mapping[Pair, dict[str, Any] | None],
        version: int,
    ) -> None:
        """Store these items' new attributes (None: removed), stamped with ``version``."""
        ws = self.ws
        edges = {(min(p), max(p)): a for p, a in edges.items()}
        with self.db.transaction():
            gone = [("n", k, "") for k, a in nodes.items() if a is None]
            gone += [("e", *p) for p, a in edges.items() if a is None]
            self._many(
                "DELETE FROM smolrag_entities WHERE workspace=? AND key=?",
                [(ws, k) for kind, k, _ in gone if kind == "n"],
            )
            self._many(
                "DELETE FROM smolrag_edges WHERE workspace=? AND source=? AND target=?",
                [(ws, a, b) for kind, a, b in gone if kind == "e"],
            )
            self._many(
                "INSERT INTO smolrag_graph_removed (workspace, kind, a, b, version) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace, kind, a, b) "
                "DO UPDATE SET version = excluded.version",
                [(ws, kind, a, b, version) for kind, a, b in gone],
            )
            self._many(
                "INSERT INTO smolrag_entities (workspace, key, attrs, version) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (workspace, key) DO UPDATE SET attrs = excluded.attrs, "
                "version = excluded.version",
                [(ws, k, _json(a), version) for k, a in sorted(nodes.items()) if a is not None],
            )
            self._many(
                "INSERT INTO smolrag_edges (workspace, source, target, attrs, version) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace, source, target) "
                "DO UPDATE SET attrs = excluded.attrs, version = excluded.version",
                [(ws, *p, _json(a), version) for p, a in sorted(edges.items()) if a is not None],
            )

    def clear(self, version: int) -> None:
        """Remove every item (recorded as removed at ``version``, so views drop them too)."""
        nodes = {
            k: None for (k,) in self._rows("SELECT key FROM smolrag_entities WHERE workspace=?")
        }
        edges = {
            (s, t): None
            for s, t in self._rows("SELECT source, target FROM smolrag_edges WHERE workspace=?")
        }
        self.write(nodes, edges, version)

    def size_bytes(self) -> int:
        return 0  # counted with the database file / tables


def _attrs(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, (str, bytes)) else dict(value)


def _json(attrs: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in attrs.items() if v is not None}, ensure_ascii=False)
