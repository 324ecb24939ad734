"""Vector store rows in PostgreSQL: ``smolrag_vectors_<dim>`` holds every store of every workspace
of that dimension, searched by cosine distance through an HNSW index (pgvector). The build
parameters (``m``, ``ef_construction``) and ``hnsw.ef_search`` come from the settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from .base import VectorHit, VectorStore
from .postgres import PostgresDatabase
from .scan import normalise


class PostgresVectorStore(VectorStore):
    def __init__(self, db: PostgresDatabase, name: str, dim: int) -> None:
        self.db, self.name, self.dim = db, name, dim
        self.path = PurePosixPath(name)  # stores are named like the file backend's folders
        self.table = f"smolrag_vectors_{int(dim)}"
        with db.transaction():
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (workspace text NOT NULL, "
                f"store text NOT NULL, id text NOT NULL, embedding vector({int(dim)}) NOT NULL, "
                "meta jsonb NOT NULL DEFAULT '{}', "
                "PRIMARY KEY (workspace, store, id))"
            )
            db.execute(
                f"CREATE INDEX IF NOT EXISTS {self.table}_hnsw ON {self.table} USING hnsw "
                f"(embedding vector_cosine_ops) WITH (m = {int(db.hnsw_m)}, "
                f"ef_construction = {int(db.hnsw_ef_construction)})"
            )
        self._scope = (db.workspace, name)

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadata: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        if not len(ids):
            return
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        if vectors.shape[1] != self.dim:
            raise ValueError(f"expected {self.dim}-d vectors, got {vectors.shape[1]}-d")
        if not np.isfinite(vectors).all():
            raise ValueError("vectors contain NaN or infinity")
        metadata = list(metadata) if metadata is not None else [{}] * len(ids)
        last = {item_id: i for i, item_id in enumerate(ids)}  # a repeated id: the last one wins
        rows = normalise(vectors)
        self.db.executemany(
            f"INSERT INTO {self.table} (workspace, store, id, embedding, meta) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (workspace, store, id) "
            "DO UPDATE SET embedding = EXCLUDED.embedding, meta = EXCLUDED.meta",
            [
                (*self._scope, item_id, rows[i], json.dumps(dict(metadata[i]), ensure_ascii=False))
                for item_id, i in last.items()
            ],
        )

    def delete(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        if not ids:
            return 0
        with self.db.transaction():
            return len(
                self.db.execute(
                    f"DELETE FROM {self.table} WHERE workspace=%s AND store=%s AND id = ANY(%s) "
                    "RETURNING id",
                    (*self._scope, ids),
                )
            )

    def query(self, vector: np.ndarray, top_k: int, threshold: float = -1.0) -> list[VectorHit]:
        if top_k <= 0:
            return []
        query = normalise(np.asarray(vector, dtype=np.float32).reshape(-1))
        rows = self.db.execute(
            f"SELECT id, 1 - (embedding <=> %s) AS score, meta FROM {self.table} "
            "WHERE workspace=%s AND store=%s "
            "ORDER BY embedding <=> %s LIMIT %s",
            (query, *self._scope, query, int(top_k)),
        )
        return [
            VectorHit(i, float(score), meta or {}) for i, score, meta in rows if score >= threshold
        ]

    def query_many(
        self, vectors: np.ndarray, top_k: int, threshold: float = -1.0
    ) -> list[list[VectorHit]]:
        return [
            self.query(v, top_k, threshold)
            for v in np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        ]

    def exact_query(self, vector: np.ndarray, top_k: int) -> list[VectorHit]:
        """Exact top-k (a sequential scan, the index switched off): the reference for recall."""
        with self.db.transaction():
            self.db.execute("SET LOCAL enable_indexscan = off")
            return self.query(vector, top_k)

    def get_vectors(self, ids: Sequence[str]) -> np.ndarray:
        rows = dict(
            self.db.execute(
                f"SELECT id, embedding FROM {self.table} WHERE workspace=%s AND store=%s "
                "AND id = ANY(%s)",
                (*self._scope, list(ids)),
            )
        )
        missing = [i for i in ids if i not in rows]
        if missing:
            raise KeyError(f"not in the vector store: {missing[:5]}")
        return np.array(
            [np.asarray(rows[i], dtype=np.float32) for i in ids], dtype=np.float32
        ).reshape(-1, self.dim)

    def get_metadata(self, ids: Sequence[str]) -> dict[str, dict]:
        return dict(
            self.db.execute(
                f"SELECT id, meta FROM {self.table} WHERE workspace=%s AND store=%s "
                "AND id = ANY(%s)",
                (*self._scope, list(ids)),
            )
        )

    def ids(self) -> list[str]:
        return [
            i
            for (i,) in self.db.execute(
                f"SELECT id FROM {self.table} WHERE workspace=%s AND store=%s ORDER BY id",
                self._scope,
            )
        ]

    def __contains__(self, item: str) -> bool:
        return bool(
            self.db.execute(
                f"SELECT 1 FROM {self.table} WHERE workspace=%s AND store=%s AND id=%s",
                (*self._scope, item),
            )
        )

    def __len__(self) -> int:
        return self.db.execute(
            f"SELECT count(*) FROM {self.table} WHERE workspace=%s AND store=%s", self._scope
        )[0][0]

    def size_bytes(self) -> int:
        return int(
            self.db.execute(
                f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {self.table} t "
                "WHERE workspace=%s AND store=%s",
                self._scope,
            )[0][0]
        )

    footprint_bytes = size_bytes

    def scan_bytes(self) -> int:
        return len(self) * self.dim * 4
