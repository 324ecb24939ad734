"""The vector store's files (see :mod:`smolrag_lab.stores.vector` for the layout): the
append-only matrix generations and the SQLite row map beside them. Kept apart from the search and
bookkeeping logic so that what makes a write durable (fsync before the row map commits, cutting
what a dead writer left) reads in one place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .kv import SqliteDatabase

_BATCH = 500  # ids or rows per SQL statement: under SQLite's bound-parameter limit


# Matrix files -------------------------------------------------------------------------------
def matrix_file(folder: Path, generation: int, suffix: str) -> Path:
    return folder / f"matrix.{generation}.{suffix}"


def drop_uncommitted(folder: Path, generation: int, current: Path, committed_bytes: int) -> None:
    """Cut bytes appended to ``current`` by a writer that died before committing, and remove
    matrices and shortlist files of other generations (orphaned by a compaction cut short).
    """
    if current.exists() and current.stat().st_size > committed_bytes:
        with open(current, "r+b") as handle:
            handle.truncate(committed_bytes)
    for other in [*folder.glob("matrix.*"), *folder.glob("ann.*")]:
        if other != current and not other.name.startswith(f"ann.{generation}."):
            other.unlink()


def append_rows(file: Path, offset: int, rows: np.ndarray, dtype: Any) -> None:
    """Write ``rows`` at byte ``offset`` (dropping anything after it) and fsync, so the bytes are
    on disk before the row map that points at them commits.
    """
    with open(file, "ab") as handle:
        handle.truncate(offset)
        handle.seek(offset)
        handle.write(np.ascontiguousarray(rows, dtype=dtype).tobytes())
        handle.flush()
        os.fsync(handle.fileno())


def write_generation(file: Path, blocks: Iterable[np.ndarray]) -> None:
    """Write the row ``blocks`` (taken one at a time: the matrix may not fit in memory) as a new
    matrix ``file``, and fsync it.
    """
    with open(file, "wb") as handle:
        for block in blocks:
            handle.write(np.ascontiguousarray(block).tobytes())
        handle.flush()
        os.fsync(handle.fileno())


def map_matrix(file: Path, dtype: Any, n_rows: int, dim: int) -> np.ndarray:
    """The first ``n_rows`` committed rows, memory-mapped read-only."""
    return np.memmap(file, dtype=dtype, mode="r", shape=(n_rows, dim))


# Row map ------------------------------------------------------------------------------------
def create_row_map(db: SqliteDatabase, dim: int, itemsize: int) -> None:
    """The ``rows`` (row number -> id, metadata) and ``info`` tables; existing values are kept."""
    with db.transaction():
        db.execute(
            "CREATE TABLE IF NOT EXISTS rows "
            "(row INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, meta TEXT)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS info (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        for key, value in (
            ("dim", dim),
            ("generation", 0),
            ("n_rows", 0),
            ("version", 0),
            ("itemsize", itemsize),
        ):
            db.execute("INSERT OR IGNORE INTO info (k, v) VALUES (?, ?)", (key, str(value)))


def read_info(db: SqliteDatabase, key: str, default: Any = None) -> Any:
    """An integer from ``info``; ``default`` also when a read-only store has no table yet."""
    rows = db.execute("SELECT v FROM info WHERE k=?", (key,)) if db.table_exists("info") else []
    return int(rows[0][0]) if rows else default


def write_info(db: SqliteDatabase, **values: int) -> None:
    for key, value in values.items():
        db.execute("INSERT OR REPLACE INTO info (k, v) VALUES (?, ?)", (key, str(value)))


def rows_to_ids(db: SqliteDatabase, rows: set[int]) -> dict[int, tuple[str, dict]]:
    """Row number -> (id, metadata) for the live rows among ``rows``."""
    found: dict[int, tuple[str, dict]] = {}
    rows_list = sorted(rows)
    for start in range(0, len(rows_list), _BATCH):
        chunk = rows_list[start : start + _BATCH]
        marks = ",".join("?" * len(chunk))
        for r, i, m in db.execute(f"SELECT row, id, meta FROM rows WHERE row IN ({marks})", chunk):
            found[r] = (i, json.loads(m) if m else {})
    return found


def id_rows(db: SqliteDatabase, ids: Sequence[str]) -> dict[str, int]:
    """Id -> row number for the ids among ``ids`` that are stored."""
    found: dict[str, int] = {}
    ids = list(ids)
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        marks = ",".join("?" * len(chunk))
        found.update(dict(db.execute(f"SELECT id, row FROM rows WHERE id IN ({marks})", chunk)))
    return found
