"""The knowledge graph in PostgreSQL: the rows of :mod:`.graph_rows` in ``smolrag_entities`` and
``smolrag_edges`` (attributes as jsonb), written inside the document's transaction. Neighbourhoods
can also be asked of the database itself with a recursive query; it filters on the workspace, so the
edge table may be a Citus reference table.
"""

from __future__ import annotations

from .graph_rows import RowGraphStore


class PostgresGraphStore(RowGraphStore):
    def neighbourhood(self, key: str, hops: int = 1) -> set[str]:
        """Entities within ``hops`` relationships of ``key`` (itself included), asked of the
        database with a recursive query.
        """
        rows = self.db.execute(
            "WITH RECURSIVE reach(key, depth) AS (SELECT %s::text, 0 UNION "
            "SELECT CASE WHEN e.source = r.key THEN e.target ELSE e.source END, r.depth + 1 "
            "FROM reach r JOIN smolrag_edges e ON e.workspace = %s "
            "AND (e.source = r.key OR e.target = r.key) "
            "WHERE r.depth < %s) SELECT DISTINCT key FROM reach",
            (key, self.db.workspace, int(hops)),
        )
        found = {k for (k,) in rows}
        return found if self.nodes([key]) or len(found) > 1 else set()
