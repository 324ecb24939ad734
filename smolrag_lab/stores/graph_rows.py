"""The knowledge graph as rows, the same SQL on SQLite and PostgreSQL.

``smolrag_entities`` (one row per entity key, holding its display name) and ``smolrag_edges`` (one
per undirected edge, stored with ``source < target``) say which items exist. What each document
contributes to an item (descriptions, keywords, weight, type counts, the excerpts citing it) is its
own row in ``smolrag_contributions``, so a commit writes only its document's rows, however much an
item has accumulated. Every row carries the index version that last wrote it, and the ``_removed``
tables the version that took an item or a contribution out, so a reader brings its view up to date
by reading only what changed after the version it shows. Writes happen inside the caller's
transaction (the document's commit).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

from .base import GraphStore
from .graph import Contribution, GraphChanges, GraphWrite, Item, Pair

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
    "CREATE TABLE IF NOT EXISTS smolrag_contributions (workspace text NOT NULL, "
    "kind text NOT NULL, a text NOT NULL, b text NOT NULL, doc_id text NOT NULL, "
    "attrs {json} NOT NULL, version bigint NOT NULL, seq bigint NOT NULL, "
    "PRIMARY KEY (workspace, kind, a, b, doc_id))",
    "CREATE INDEX IF NOT EXISTS smolrag_contributions_by_version ON smolrag_contributions "
    "(workspace, version, seq)",
    "CREATE TABLE IF NOT EXISTS smolrag_contributions_removed (workspace text NOT NULL, "
    "kind text NOT NULL, a text NOT NULL, b text NOT NULL, doc_id text NOT NULL, "
    "version bigint NOT NULL, PRIMARY KEY (workspace, kind, a, b, doc_id))",
    "CREATE INDEX IF NOT EXISTS smolrag_contributions_removed_by_version ON "
    "smolrag_contributions_removed (workspace, version)",
]
_BATCH = 400
_ITEM = "kind=? AND a=? AND b=?"


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

    def contribution(self, item: Item, doc_id: str) -> dict[str, Any] | None:
        rows = self._rows(
            f"SELECT attrs FROM smolrag_contributions WHERE workspace=? AND {_ITEM} AND doc_id=?",
            (*item, doc_id),
        )
        return _attrs(rows[0][0]) if rows else None

    def contributors(self, item: Item, excluding: str, limit: int) -> list[str]:
        """Up to ``limit`` documents other than ``excluding`` that contribute to ``item``."""
        rows = self._rows(
            f"SELECT doc_id FROM smolrag_contributions WHERE workspace=? AND {_ITEM} "
            "AND doc_id<>? LIMIT ?",
            (*item, excluding, int(limit)),
        )
        return [doc for (doc,) in rows]

    def changes_since(self, version: int, now: int) -> GraphChanges:
        """Rows written or removed after ``version`` (all of them when ``version`` < 0), as of
        ``now``. Call inside a snapshot so that ``now`` and the rows agree.
        """
        after = (max(version, -1),)
        changes = GraphChanges(now, full=version < 0)
        where = "WHERE workspace=? AND version>?"
        nodes = self._rows(f"SELECT key, attrs FROM smolrag_entities {where}", after)
        edges = self._rows(f"SELECT source, target, attrs FROM smolrag_edges {where}", after)
        changes.items = [
            *zip([("n", k, "") for k, _ in nodes], _attrs_all(a for _, a in nodes), strict=True),
            *zip([("e", s, t) for s, t, _ in edges], _attrs_all(a for *_, a in edges), strict=True),
        ]
        rows = self._rows(
            f"SELECT kind, a, b, doc_id, attrs FROM smolrag_contributions {where} "
            "ORDER BY version, seq",
            after,
        )
        changes.contributions = list(
            zip([tuple(r[:4]) for r in rows], _attrs_all(r[4] for r in rows), strict=True)
        )
        if not changes.full:
            changes.removed_items = [
                (kind, a, b)
                for kind, a, b in self._rows(
                    f"SELECT kind, a, b FROM smolrag_graph_removed {where}", after
                )
            ]
            changes.removed_contributions = [
                (kind, a, b, doc)
                for kind, a, b, doc in self._rows(
                    f"SELECT kind, a, b, doc_id FROM smolrag_contributions_removed {where}", after
                )
            ]
        return changes

    def item_rows(self) -> tuple[list[tuple[str, dict]], list[tuple[str, str, dict]]]:
        """Every entity row and edge row as stored (how an earlier layout is read to convert it)."""
        nodes = self._rows("SELECT key, attrs FROM smolrag_entities WHERE workspace=?")
        edges = self._rows("SELECT source, target, attrs FROM smolrag_edges WHERE workspace=?")
        return [(k, _attrs(a)) for k, a in nodes], [(s, t, _attrs(a)) for s, t, a in edges]

    def number_of_nodes(self) -> int:
        return int(self._rows("SELECT count(*) FROM smolrag_entities WHERE workspace=?")[0][0])

    def number_of_edges(self) -> int:
        return int(self._rows("SELECT count(*) FROM smolrag_edges WHERE workspace=?")[0][0])

    # Writing ------------------------------------------------------------------------------
    def write(self, change: GraphWrite, version: int) -> None:
        """Apply one commit's :class:`GraphWrite`, stamped with ``version``: removals first (an
        item removed and made again in one commit ends up made), then rows.
        """
        ws = self.ws
        with self.db.transaction():
            removed = sorted(change.removed)
            self._many(
                "DELETE FROM smolrag_entities WHERE workspace=? AND key=?",
                [(ws, a) for kind, a, _ in removed if kind == "n"],
            )
            self._many(
                "DELETE FROM smolrag_edges WHERE workspace=? AND source=? AND target=?",
                [(ws, a, b) for kind, a, b in removed if kind == "e"],
            )
            self._many(
                f"DELETE FROM smolrag_contributions WHERE workspace=? AND {_ITEM}",
                [(ws, *item) for item in removed],
            )
            self._many(
                "INSERT INTO smolrag_graph_removed (workspace, kind, a, b, version) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace, kind, a, b) "
                "DO UPDATE SET version = excluded.version",
                [(ws, *item, version) for item in removed],
            )
            self._write_items(change.created, version)
            self._write_contributions(change.contributions, version)

    def _write_items(self, created: dict[Item, dict[str, Any]], version: int) -> None:
        ws = self.ws
        self._many(
            "INSERT INTO smolrag_entities (workspace, key, attrs, version) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (workspace, key) DO UPDATE SET attrs = excluded.attrs, "
            "version = excluded.version",
            [(ws, a, _json(v), version) for (k, a, _), v in sorted(created.items()) if k == "n"],
        )
        self._many(
            "INSERT INTO smolrag_edges (workspace, source, target, attrs, version) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace, source, target) "
            "DO UPDATE SET attrs = excluded.attrs, version = excluded.version",
            [(ws, a, b, _json(v), version) for (k, a, b), v in sorted(created.items()) if k == "e"],
        )

    def _write_contributions(
        self, contributions: dict[Contribution, dict[str, Any] | None], version: int
    ) -> None:
        ws = self.ws
        gone = [c for c, values in contributions.items() if values is None]
        self._many(
            f"DELETE FROM smolrag_contributions WHERE workspace=? AND {_ITEM} AND doc_id=?",
            [(ws, *c) for c in gone],
        )
        self._many(
            "INSERT INTO smolrag_contributions_removed (workspace, kind, a, b, doc_id, version) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workspace, kind, a, b, doc_id) "
            "DO UPDATE SET version = excluded.version",
            [(ws, *c, version) for c in gone],
        )
        self._many(
            "INSERT INTO smolrag_contributions "
            "(workspace, kind, a, b, doc_id, attrs, version, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (workspace, kind, a, b, doc_id) "
            "DO UPDATE SET attrs = excluded.attrs, version = excluded.version, seq = excluded.seq",
            [
                (ws, *c, _json(values), version, seq)
                for seq, (c, values) in enumerate(contributions.items())
                if values is not None
            ],
        )

    def clear(self, version: int) -> None:
        """Remove every item (recorded as removed at ``version``, so views drop them too)."""
        removed = {
            ("n", k, "")
            for (k,) in self._rows("SELECT key FROM smolrag_entities WHERE workspace=?")
        }
        removed |= {
            ("e", s, t)
            for s, t in self._rows("SELECT source, target FROM smolrag_edges WHERE workspace=?")
        }
        self.write(GraphWrite(removed=removed), version)


def _attrs(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, (str, bytes)) else dict(value)


def _attrs_all(values: Iterable[Any]) -> list[dict[str, Any]]:
    """:func:`_attrs` of many values at once: SQLite's JSON texts are joined into one array and
    decoded in one call, about 2.5 times faster than one ``json.loads`` per row (PostgreSQL's
    ``jsonb`` arrives decoded).
    """
    values = list(values)
    if values and all(isinstance(v, str) for v in values):
        return cast("list[dict[str, Any]]", json.loads("[" + ",".join(values) + "]"))
    return [_attrs(v) for v in values]


def _json(attrs: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in attrs.items() if v is not None}, ensure_ascii=False)
