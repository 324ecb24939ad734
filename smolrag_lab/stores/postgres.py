"""PostgreSQL + pgvector as the one shared store of an index: key-value records in a jsonb table,
vectors in a ``vector`` column with an HNSW cosine index, the graph in entity and edge tables.

Several independent indexes share one database as *workspaces*: every row carries its workspace
(the natural Citus distribution key; see ``sql/citus.sql``). The schema is versioned in
``smolrag_schema`` and created or migrated on first use under an advisory lock, so two processes
opening a new database at once do not race. All stores of an index share one connection, so a
document's records, vectors and graph rows commit in one transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .base import KVStore
from .document_log import SCHEMA as LOG_SCHEMA
from .graph_rows import SCHEMA as GRAPH_SCHEMA
from .lock import WriterLock

SCHEMA_VERSION = 4
MIGRATIONS: dict[int, list[str]] = {
    1: [
        "CREATE TABLE IF NOT EXISTS smolrag_kv (workspace text NOT NULL, namespace text NOT NULL, "
        "k text NOT NULL, v jsonb NOT NULL, PRIMARY KEY (workspace, namespace, k))",
        "CREATE TABLE IF NOT EXISTS smolrag_entities (workspace text NOT NULL, key text NOT NULL, "
        "attrs jsonb NOT NULL, PRIMARY KEY (workspace, key))",
        "CREATE TABLE IF NOT EXISTS smolrag_edges (workspace text NOT NULL, source text NOT NULL, "
        "target text NOT NULL, attrs jsonb NOT NULL, PRIMARY KEY (workspace, source, target))",
        "CREATE INDEX IF NOT EXISTS smolrag_edges_by_target ON smolrag_edges (workspace, target)",
    ],
    2: [  # graph rows stamped with the version that wrote them, removals recorded (graph_rows.py)
        "ALTER TABLE smolrag_entities ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0",
        "ALTER TABLE smolrag_edges ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0",
        *(statement.format(json="jsonb") for statement in GRAPH_SCHEMA),
    ],
    3: [  # per-document contribution rows (graph_rows.py); existing rows are split on opening
        *(statement.format(json="jsonb") for statement in GRAPH_SCHEMA),
    ],
    4: LOG_SCHEMA,  # which documents changed after a version (document_log.py)
}
_LOCK_ID = 0x5D01_7A6  # advisory lock held while the schema is created or migrated


class PostgresDatabase:
    """One connection to the database for one workspace, shared by the index's stores."""

    param = "%s"

    def __init__(
        self,
        dsn: str,
        workspace: str = "default",
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 64,
        hnsw_ef_search: int = 64,
    ) -> None:
        import psycopg
        from pgvector.psycopg import register_vector

        self.workspace, self.dsn = workspace, dsn
        self.hnsw_m, self.hnsw_ef_construction = hnsw_m, hnsw_ef_construction
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._lock = threading.RLock()
        self._depth = 0
        self._conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(self._conn)
        self._conn.execute(f"SET hnsw.ef_search = {int(hnsw_ef_search)}")
        self._conn.execute("SET hnsw.iterative_scan = strict_order")  # filters never starve a top-k
        self.migrate()

    def migrate(self) -> int:
        """Bring the schema to ``SCHEMA_VERSION``; returns the version found before."""
        with self.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            self._conn.execute("CREATE TABLE IF NOT EXISTS smolrag_schema (version int NOT NULL)")
            row = self._conn.execute("SELECT max(version) FROM smolrag_schema").fetchone()
            found = (row[0] if row else 0) or 0
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    self._conn.execute(statement)
                self._conn.execute("INSERT INTO smolrag_schema (version) VALUES (%s)", (version,))
        return found

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            with self._lock, self.transaction(), self._conn.cursor() as cursor:
                cursor.executemany(sql, rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit everything written inside the block at once; nested blocks join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                with self._conn.transaction():
                    yield
            finally:
                self._depth = 0

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside the block see one committed state (a repeatable-read transaction)."""
        with self._lock:
            if self._depth:
                yield
                return
            self._depth = 1
            try:
                with self._conn.transaction():
                    self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    yield
            finally:
                self._depth = 0

    def namespace(self, name: str) -> PostgresKV:
        return PostgresKV(self, name)

    def size_bytes(self) -> int:
        """The workspace's share of the key-value and graph tables (rows' stored size)."""
        total = 0
        for table in ("smolrag_kv", "smolrag_entities", "smolrag_edges"):
            total += self.execute(
                f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t WHERE workspace=%s",
                (self.workspace,),
            )[0][0]
        return int(total)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresWriterLock(WriterLock):
    """One writer per workspace across every machine using the database: a session-level advisory
    lock on a connection of its own, which the server drops if the holder dies or disconnects.
    """

    def __init__(self, dsn: str, workspace: str, timeout_s: float = 0.0) -> None:
        import psycopg

        self._init_state(f"workspace {workspace!r}", timeout_s)
        self.key = int.from_bytes(
            hashlib.sha256(f"smolrag:{workspace}".encode()).digest()[:8], "big", signed=True
        )
        self._lock_conn = psycopg.connect(dsn, autocommit=True)

    def _take(self) -> bool:
        return bool(
            (
                self._lock_conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
                or [False]
            )[0]
        )

    def _drop(self) -> None:
        self._lock_conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))

    def holder(self) -> str:
        row = self._lock_conn.execute(
            "SELECT a.pid, coalesce(host(a.client_addr), 'local'), a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.granted "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
            (self.key,),
        ).fetchone()
        return (
            f"server pid {row[0]} from {row[1]} since {row[2]:%Y-%m-%d %H:%M:%S}"
            if row
            else "unknown"
        )

    def close(self) -> None:
        super().close()
        self._lock_conn.close()


class PostgresKV(KVStore):
    """One namespace of JSON values (rows of ``smolrag_kv``)."""

    def __init__(self, db: PostgresDatabase, name: str) -> None:
        self.db, self.name = db, name
        self._where = "workspace=%s AND namespace=%s"

    def _key(self) -> tuple[str, str]:
        return self.db.workspace, self.name

    def get(self, key: str, default: Any = None) -> Any:
        rows = self.db.execute(
            f"SELECT v FROM smolrag_kv WHERE {self._where} AND k=%s", (*self._key(), key)
        )
        return rows[0][0] if rows else default

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        rows = self.db.execute(
            f"SELECT k, v FROM smolrag_kv WHERE {self._where} AND k = ANY(%s)",
            (*self._key(), list(dict.fromkeys(keys))),
        )
        return dict(rows)

    def set(self, key: str, value: Any) -> None:
        self.set_many({key: value})

    def set_many(self, items: Mapping[str, Any]) -> None:
        self.db.executemany(
            "INSERT INTO smolrag_kv (workspace, namespace, k, v) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (workspace, namespace, k) DO UPDATE SET v = EXCLUDED.v",
            [(*self._key(), k, json.dumps(v, ensure_ascii=False)) for k, v in items.items()],
        )

    def delete(self, keys: Iterable[str]) -> int:
        with self.db.transaction():
            rows = self.db.execute(
                f"DELETE FROM smolrag_kv WHERE {self._where} AND k = ANY(%s) RETURNING k",
                (*self._key(), list(keys)),
            )
        return len(rows)

    def keys(self) -> list[str]:
        return [
            k
            for (k,) in self.db.execute(
                f"SELECT k FROM smolrag_kv WHERE {self._where} ORDER BY k", self._key()
            )
        ]

    def items(self) -> Iterator[tuple[str, Any]]:
        return iter(
            self.db.execute(
                f"SELECT k, v FROM smolrag_kv WHERE {self._where} ORDER BY k", self._key()
            )
        )

    def clear(self) -> None:
        with self.db.transaction():
            self.db.execute(f"DELETE FROM smolrag_kv WHERE {self._where}", self._key())

    def __len__(self) -> int:
        return self.db.execute(f"SELECT count(*) FROM smolrag_kv WHERE {self._where}", self._key())[
            0
        ][0]
