"""Key-value store on SQLite in WAL mode: one database file, one table per namespace.

WAL lets readers (queries, notebooks) see the last committed state while a writer works, and a
transaction spanning several namespaces commits all of them or none.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .base import KVStore
from .document_log import SCHEMA as LOG_SCHEMA
from .graph_rows import SCHEMA as GRAPH_SCHEMA

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BATCH = 500  # SQLite's bound-parameter limit is 999 on old builds


class SqliteDatabase:
    """A SQLite file shared by several :class:`SqliteKV` namespaces and the graph rows."""

    param = "?"  # how SQL shared with PostgreSQL (see graph_rows.py) marks a parameter
    workspace = "default"  # a file index is one workspace

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        uri = f"file:{self.path}?mode=ro" if readonly else f"file:{self.path}"
        self._conn = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        if not readonly:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()
        self._depth = 0
        self._tables: set[str] = set()
        if not readonly:
            with self.transaction():
                for statement in GRAPH_SCHEMA + LOG_SCHEMA:
                    self._conn.execute(statement.format(json="TEXT"))

    def namespace(self, name: str) -> SqliteKV:
        if not _NAME.match(name):
            raise ValueError(f"invalid namespace name {name!r}")
        if name not in self._tables and not self.readonly:
            self.execute(
                f'CREATE TABLE IF NOT EXISTS "{name}" (k TEXT PRIMARY KEY, v TEXT NOT NULL)'
            )
            self._tables.add(name)
        return SqliteKV(self, name)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._lock, self.transaction():
            self._conn.executemany(sql, rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit everything written inside the block at once; nested blocks join the outer one."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside the block see one committed state (a deferred transaction in WAL mode)."""
        with self._lock:
            if self._depth:
                yield
                return
            self._conn.execute("BEGIN")
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                self._conn.execute("COMMIT")

    def table_exists(self, name: str) -> bool:
        rows = self.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
        return bool(rows)

    def size_bytes(self) -> int:
        return sum(
            p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file()
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class SqliteKV(KVStore):
    """One namespace (table) of JSON values."""

    def __init__(self, db: SqliteDatabase, name: str) -> None:
        self.db = db
        self.name = name

    def _exists(self) -> bool:
        return not self.db.readonly or self.db.table_exists(self.name)

    def get(self, key: str, default: Any = None) -> Any:
        if not self._exists():
            return default
        rows = self.db.execute(f'SELECT v FROM "{self.name}" WHERE k=?', (key,))
        return json.loads(rows[0][0]) if rows else default

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if not self._exists():
            return found
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), _BATCH):
            chunk = keys[start : start + _BATCH]
            marks = ",".join("?" * len(chunk))
            for k, v in self.db.execute(
                f'SELECT k, v FROM "{self.name}" WHERE k IN ({marks})', chunk
            ):
                found[k] = json.loads(v)
        return found

    def set(self, key: str, value: Any) -> None:
        self.set_many({key: value})

    def set_many(self, items: Mapping[str, Any]) -> None:
        rows = [(k, json.dumps(v, ensure_ascii=False)) for k, v in items.items()]
        self.db.executemany(f'INSERT OR REPLACE INTO "{self.name}" (k, v) VALUES (?, ?)', rows)

    def delete(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        before = len(self)
        self.db.executemany(f'DELETE FROM "{self.name}" WHERE k=?', [(k,) for k in keys])
        return before - len(self)

    def keys(self) -> list[str]:
        if not self._exists():
            return []
        return [k for (k,) in self.db.execute(f'SELECT k FROM "{self.name}" ORDER BY k')]

    def items(self) -> Iterator[tuple[str, Any]]:
        if not self._exists():
            return iter(())
        rows = self.db.execute(f'SELECT k, v FROM "{self.name}" ORDER BY k')
        return ((k, json.loads(v)) for k, v in rows)

    def clear(self) -> None:
        self.db.execute(f'DELETE FROM "{self.name}"')

    def __len__(self) -> int:
        if not self._exists():
            return 0
        return self.db.execute(f'SELECT COUNT(*) FROM "{self.name}"')[0][0]
