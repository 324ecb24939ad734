"""Which documents changed after a version: one row per document id, stamped with the index
version of its last write or deletion (same SQL on SQLite and PostgreSQL).

Structures derived from the excerpts (the BM25 index of fusion) follow the index by re-reading only
the documents logged after the version they show, instead of every excerpt after every commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS smolrag_document_log (workspace text NOT NULL, "
    "doc_id text NOT NULL, version bigint NOT NULL, PRIMARY KEY (workspace, doc_id))",
    "CREATE INDEX IF NOT EXISTS smolrag_document_log_by_version ON smolrag_document_log "
    "(workspace, version)",
]


class DocumentLog:
    """The log in ``db`` (anything with ``execute``, ``executemany``, ``workspace`` and ``param``,
    as :class:`~.graph_rows.RowGraphStore` takes).
    """

    def __init__(self, db: Any) -> None:
        self.db = db

    def mark(self, doc_ids: Iterable[str], version: int) -> None:
        """Record that ``doc_ids`` were written or deleted by ``version``; call in that commit."""
        rows = [(self.db.workspace, doc_id, int(version)) for doc_id in dict.fromkeys(doc_ids)]
        if rows:
            self.db.executemany(
                "INSERT INTO smolrag_document_log (workspace, doc_id, version) VALUES (?, ?, ?) "
                "ON CONFLICT (workspace, doc_id) DO UPDATE SET version = excluded.version".replace(
                    "?", self.db.param
                ),
                rows,
            )

    def since(self, version: int) -> list[str] | None:
        """Documents written or deleted after ``version``; None where the index has no log (an
        older index opened read-only), so the caller rebuilds.
        """
        if hasattr(self.db, "table_exists") and not self.db.table_exists("smolrag_document_log"):
            return None
        rows = self.db.execute(
            "SELECT doc_id FROM smolrag_document_log WHERE workspace=? AND version>?".replace(
                "?", self.db.param
            ),
            (self.db.workspace, int(version)),
        )
        return [doc_id for (doc_id,) in rows]
