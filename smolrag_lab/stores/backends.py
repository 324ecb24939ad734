"""Where an index's stores live: files under a data directory, or a PostgreSQL workspace.

This is the only place that knows which backends exist. Each opens the same set of stores (a
key-value database, three vector stores, the graph rows) and says how its writers exclude each
other; adding a backend is a function here plus its store module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ann import AnnConfig
from .graph_rows import RowGraphStore
from .kv import SqliteDatabase
from .lock import WriterLock
from .vector import MmapVectorStore

VECTOR_FOLDERS = ("excerpts", "entities", "relationships")


@dataclass(frozen=True)
class PostgresOptions:
    """Where and how an index lives in PostgreSQL (see :mod:`smolrag_lab.stores.postgres`)."""

    dsn: str = field(repr=False)  # may carry a password
    workspace: str = "default"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 64


@dataclass
class Backend:
    db: Any
    vectors: tuple[Any, Any, Any]  # excerpts, entities, relationships
    graph: Any
    writer_lock: Callable[[float], WriterLock]  # timeout_s -> a lock on this index
    legacy_graphml: Path | None = None  # a graph file of the layout before graph rows


def open_backend(
    data_dir: Path,
    dim: int,
    readonly: bool = False,
    ann: AnnConfig | None = None,
    vector_dtype: str = "float32",
    postgres: PostgresOptions | None = None,
) -> Backend:
    if postgres is not None:
        return _open_postgres(dim, postgres)
    db = SqliteDatabase(data_dir / "index.sqlite", readonly=readonly)
    vectors = tuple(
        MmapVectorStore(data_dir / "vectors" / folder, dim, readonly, ann=ann, dtype=vector_dtype)
        for folder in VECTOR_FOLDERS
    )
    return Backend(
        db,
        vectors,  # type: ignore[arg-type]
        RowGraphStore(db),
        lambda timeout_s: WriterLock(data_dir, timeout_s),
        data_dir / "graph.graphml",
    )


def _open_postgres(dim: int, options: PostgresOptions) -> Backend:
    from .postgres import PostgresDatabase, PostgresWriterLock
    from .postgres_graph import PostgresGraphStore
    from .postgres_vectors import PostgresVectorStore

    db = PostgresDatabase(
        options.dsn,
        options.workspace,
        options.hnsw_m,
        options.hnsw_ef_construction,
        options.hnsw_ef_search,
    )
    vectors = tuple(PostgresVectorStore(db, folder, dim) for folder in VECTOR_FOLDERS)
    return Backend(
        db,
        vectors,  # type: ignore[arg-type]
        PostgresGraphStore(db),
        lambda timeout_s: PostgresWriterLock(options.dsn, options.workspace, timeout_s),
    )
