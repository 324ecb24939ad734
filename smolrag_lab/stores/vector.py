"""Vector store: an append-only matrix on disk, memory-mapped for search.

Layout of the store's folder:

- ``matrix.<generation>.f32`` (or ``.f16`` with ``dtype="float16"``): raw row-major L2-normalised
  rows, append-only;
- ``index.sqlite``: which row holds which id (and its JSON metadata), the row count and a version.

Both are read and written by :mod:`smolrag_lab.stores.vector_files`.

A row becomes searchable only when its SQLite transaction commits, after the matrix bytes are
fsynced, so a writer killed at any point leaves the last committed state. Upserts append a new row
and drop the old mapping; :meth:`MmapVectorStore.compact` rewrites the matrix without dead rows
into the next generation. Search is exact cosine, block by block, so a 1,000,000 x 384 matrix is
never loaded into RAM; with an :class:`AnnConfig` a shortlisting structure (HNSW, int8 codes, PCA)
picks candidates that are re-scored against the matrix. One lock guards the in-memory row map, so
threads may search while this process writes.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import scan
from .ann import AnnConfig, open_shortlister
from .base import VectorHit, VectorStore
from .kv import SqliteDatabase
from .scan import normalise
from .vector_files import (
    append_rows,
    create_row_map,
    drop_uncommitted,
    id_rows,
    map_matrix,
    matrix_file,
    read_info,
    rows_to_ids,
    write_generation,
    write_info,
)

STORAGE_DTYPES = {"float32": (np.float32, "f32"), "float16": (np.float16, "f16")}


class MmapVectorStore(VectorStore):
    def __init__(
        self,
        path: str | Path,
        dim: int,
        readonly: bool = False,
        compact_dead_fraction: float = 0.5,
        ann: AnnConfig | None = None,
        dtype: str = "float32",
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.ann_config = ann
        self._ann: Any = None
        self._lock = threading.RLock()
        self.compact_dead_fraction = compact_dead_fraction
        if not readonly:
            self.path.mkdir(parents=True, exist_ok=True)
        self.db = SqliteDatabase(self.path / "index.sqlite", readonly=readonly)
        if not readonly:
            create_row_map(self.db, dim, np.dtype(STORAGE_DTYPES[dtype][0]).itemsize)
        self.dim = int(self._info("dim", dim))
        if self.dim != dim:
            raise ValueError(f"vector store {self.path} holds {self.dim}-d vectors, not {dim}-d")
        stored = {4: "float32", 2: "float16"}.get(self._info("itemsize", 4), "?")
        if stored != dtype:
            raise ValueError(
                f"vector store {self.path} holds {stored} vectors, not {dtype}: ingest into a new "
                f"data directory to change vector_storage"
            )
        self.dtype, self.suffix = STORAGE_DTYPES[dtype]
        self.itemsize = np.dtype(self.dtype).itemsize
        self._seen_version = -1
        self._matrix: np.ndarray | None = None
        self._alive = np.zeros(0, dtype=bool)
        if not readonly:
            self._drop_uncommitted()
        self._refresh()

    # Bookkeeping (the files themselves: vector_files.py) -------------------------------------
    def _info(self, key: str, default: Any = None) -> Any:
        return read_info(self.db, key, default)

    def _set_info(self, **values: int) -> None:
        write_info(self.db, **values)

    def _matrix_file(self, generation: int) -> Path:
        return matrix_file(self.path, generation, self.suffix)

    def _drop_uncommitted(self) -> None:
        """Cut bytes appended by a writer that died before committing, and orphaned generations."""
        generation, n_rows = self._info("generation", 0), self._info("n_rows", 0)
        committed_bytes = n_rows * self.dim * self.itemsize
        drop_uncommitted(self.path, generation, self._matrix_file(generation), committed_bytes)

    def _mapped(self) -> np.ndarray:
        """The mapped matrix of a store that has rows (callers checked that it has)."""
        assert self._matrix is not None, "the store has no rows mapped"
        return self._matrix

    def _refresh(self) -> None:
        """Re-read the row map when another writer (or this one) committed since the last look."""
        with self._lock:
            self._refresh_locked()

    def _refresh_locked(self) -> None:
        version = self._info("version", 0)
        if version == self._seen_version:
            return
        n_rows = self._info("n_rows", 0)
        alive = np.zeros(n_rows, dtype=bool)
        live_rows = [r for (r,) in self.db.execute("SELECT row FROM rows")] if n_rows else []
        alive[np.asarray(live_rows, dtype=np.int64)] = True
        self._alive = alive
        self._matrix = None
        if n_rows:
            self._matrix = self._map(n_rows)
        self._seen_version = version

    def _map(self, n_rows: int) -> np.ndarray | None:
        if not n_rows:
            return None
        return map_matrix(
            self._matrix_file(self._info("generation", 0)), self.dtype, n_rows, self.dim
        )

    # Writes -------------------------------------------------------------------------------
    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadata: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self._check_writable()
        vectors = (
            np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1) if len(ids) else vectors
        )
        if not len(ids):
            return
        if vectors.shape[1] != self.dim:
            raise ValueError(f"expected {self.dim}-d vectors, got {vectors.shape[1]}-d")
        if not np.isfinite(vectors).all():
            raise ValueError("vectors contain NaN or infinity")
        metadata = list(metadata) if metadata is not None else [{}] * len(ids)
        last = {item_id: i for i, item_id in enumerate(ids)}  # a repeated id: the last one wins
        order = sorted(last.values())
        rows = normalise(vectors[order])
        self._refresh()
        with self.db.transaction():
            n_rows, generation = self._info("n_rows", 0), self._info("generation", 0)
            offset = n_rows * self.dim * self.itemsize
            append_rows(self._matrix_file(generation), offset, rows, self.dtype)
            replaced = self._delete_ids([ids[i] for i in order])
            self.db.executemany(
                "INSERT INTO rows (row, id, meta) VALUES (?, ?, ?)",
                [
                    (n_rows + j, ids[i], json.dumps(dict(metadata[i]), ensure_ascii=False))
                    for j, i in enumerate(order)
                ],
            )
            version = self._info("version", 0) + 1
            self._set_info(n_rows=n_rows + len(order), version=version)
        self._after_write(version, replaced, n_rows + len(order))
        self._maybe_compact()

    def _after_write(self, version: int, dead_rows: list[int], n_rows: int) -> None:
        """Update the in-memory row map for this process's own commit instead of re-reading it
        all.
        """
        with self._lock:
            self._after_write_locked(version, dead_rows, n_rows)

    def _after_write_locked(self, version: int, dead_rows: list[int], n_rows: int) -> None:
        if self._seen_version != version - 1:  # someone else wrote in between: re-read everything
            self._refresh_locked()
            return
        alive = np.ones(n_rows, dtype=bool)
        alive[: len(self._alive)] = self._alive
        alive[np.asarray(dead_rows, dtype=np.int64)] = False
        self._alive = alive
        if n_rows != (0 if self._matrix is None else len(self._matrix)):
            self._matrix = self._map(n_rows)
        self._seen_version = version

    def _delete_ids(self, ids: Sequence[str]) -> list[int]:
        """Drop the rows of ``ids``; returns their row numbers."""
        rows = list(id_rows(self.db, ids).values())
        self.db.executemany("DELETE FROM rows WHERE id=?", [(i,) for i in ids])
        return rows

    def delete(self, ids: Iterable[str]) -> int:
        self._check_writable()
        ids = list(ids)
        if not ids:
            return 0
        self._refresh()
        with self.db.transaction():
            dead = self._delete_ids(ids)
            version = self._info("version", 0) + 1
            self._set_info(version=version)
        self._after_write(version, dead, len(self._alive))
        self._maybe_compact()
        return len(dead)

    def _maybe_compact(self) -> None:
        n_rows = len(self._alive)
        if (
            n_rows >= 1024
            and (n_rows - int(self._alive.sum())) / n_rows > self.compact_dead_fraction
        ):
            self.compact()

    def compact(self) -> None:
        """Rewrite the live rows into the next matrix generation and drop the dead ones."""
        self._check_writable()
        self._refresh()
        live = self.db.execute("SELECT row, id, meta FROM rows ORDER BY row")
        generation = self._info("generation", 0)
        live_rows = [r for r, _, _ in live]
        blocks = (
            self._mapped()[live_rows[start : start + scan.BLOCK_ROWS]]
            for start in range(0, len(live_rows), scan.BLOCK_ROWS)
        )
        write_generation(self._matrix_file(generation + 1), blocks)
        with self.db.transaction():
            self.db.execute("DELETE FROM rows")
            self.db.executemany(
                "INSERT INTO rows (row, id, meta) VALUES (?, ?, ?)",
                [(j, i, m) for j, (_, i, m) in enumerate(live)],
            )
            self._set_info(
                generation=generation + 1, n_rows=len(live), version=self._info("version", 0) + 1
            )
        self._matrix = None
        with contextlib.suppress(FileNotFoundError):
            self._matrix_file(generation).unlink()
        if self._ann is not None:
            self._ann.drop_files()
            self._ann = None
        self._refresh()

    def _check_writable(self) -> None:
        if self.readonly:
            raise PermissionError(f"vector store {self.path} is open read-only")

    # Reads --------------------------------------------------------------------------------
    def query(self, vector: np.ndarray, top_k: int, threshold: float = -1.0) -> list[VectorHit]:
        return self.query_many(np.asarray(vector, dtype=np.float32)[None, :], top_k, threshold)[0]

    def query_many(
        self, vectors: np.ndarray, top_k: int, threshold: float = -1.0
    ) -> list[list[VectorHit]]:
        """Exact cosine top-k for each query row, scanning the mapped matrix block by block (or a
        shortlist re-scored exactly, with an ANN configuration).
        """
        queries = normalise(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim))
        with self._lock:
            self._refresh_locked()
            matrix, alive = self._matrix, self._alive
            if matrix is None or top_k <= 0:
                return [[] for _ in queries]
            use_ann = self.ann_config is not None and len(matrix) >= self.ann_config.min_rows
            if (
                use_ann
            ):  # the shortlister is caught up and searched under the lock: usearch adds are not
                best_scores, best_rows = self._ann_top_k(matrix, alive, queries, top_k)
        if not use_ann:  # the scan runs unlocked (numpy and usearch release the GIL)
            best_scores, best_rows = scan.top_k(matrix, alive, queries, top_k)
        wanted = {int(r) for r in best_rows.ravel() if r >= 0}
        by_row = rows_to_ids(self.db, wanted)
        results = []
        for scores, rows in zip(best_scores, best_rows, strict=True):
            hits = [
                VectorHit(by_row[int(r)][0], float(s), by_row[int(r)][1])
                for s, r in zip(scores, rows, strict=True)
                if r >= 0 and s >= threshold and int(r) in by_row
            ]
            results.append(hits)
        return results

    def _ann_top_k(
        self, matrix: np.ndarray, alive: np.ndarray, queries: np.ndarray, top_k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Shortlist of the covered rows plus an exact scan of any rows it does not cover yet,
        re-scored exactly (unless ``rescore`` is off); a query left with fewer than ``top_k`` live
        candidates is searched exactly.
        """
        config, generation = self.ann_config, self._info("generation", 0)
        assert config is not None, "a shortlist search needs a shortlist configuration"
        if self._ann is None or self._ann.generation != generation:
            self._ann = open_shortlister(self.path, self.dim, generation, config, self.readonly)
        self._ann.catch_up(matrix)
        covered = min(self._ann.covered, len(matrix))
        short_scores, shortlist = self._ann.shortlist(queries, top_k * config.oversample, alive)
        if covered < len(matrix):
            tail_scores, tail = scan.top_k(matrix[covered:], alive[covered:], queries, top_k)
            shortlist = np.concatenate([shortlist, np.where(tail >= 0, tail + covered, -1)], axis=1)
            short_scores = np.concatenate([short_scores, tail_scores], axis=1)
        scores = np.full((len(queries), top_k), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), top_k), -1, dtype=np.int64)
        for i, candidates in enumerate(shortlist):
            keep = (candidates >= 0) & alive[np.maximum(candidates, 0)]
            candidates, approx = candidates[keep], short_scores[i][keep]
            candidates, first = np.unique(candidates, return_index=True)
            if len(candidates) < min(top_k, int(alive.sum())):
                exact = scan.top_k(matrix, alive, queries[i : i + 1], top_k)
                scores[i], rows[i] = exact[0][0], exact[1][0]
                continue
            found = (
                np.asarray(matrix[candidates], dtype=np.float32) @ queries[i]
                if config.rescore
                else approx[first]
            )
            best = np.argsort(-found, kind="stable")[:top_k]
            scores[i, : len(best)], rows[i, : len(best)] = found[best], candidates[best]
        return scores, rows

    def flush(self) -> None:
        """Persist the ANN graph (the matrix and row map are always durable)."""
        if self._ann is not None:
            self._ann.save()

    def get_vectors(self, ids: Sequence[str]) -> np.ndarray:
        """Stored (normalised) vectors in the order asked; a KeyError names any missing id."""
        self._refresh()
        rows = id_rows(self.db, ids)
        missing = [i for i in ids if i not in rows]
        if missing:
            raise KeyError(f"not in the vector store: {missing[:5]}")
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.array(self._mapped()[[rows[i] for i in ids]], dtype=np.float32)

    def get_metadata(self, ids: Sequence[str]) -> dict[str, dict]:
        by_row = rows_to_ids(self.db, set(id_rows(self.db, ids).values()))
        return {item_id: meta for item_id, meta in by_row.values()}

    def ids(self) -> list[str]:
        return [i for (i,) in self.db.execute("SELECT id FROM rows ORDER BY row")]

    def __contains__(self, item: str) -> bool:
        return bool(self.db.execute("SELECT 1 FROM rows WHERE id=?", (item,)))

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM rows")[0][0]

    def scan_bytes(self) -> int:
        """Bytes a query reads in full: the shortlist's rows where one covers the store, else the
        matrix (an HNSW graph is walked, not scanned: counted as its file).
        """
        with self._lock:
            ann = self._ann
        if ann is not None and getattr(ann, "rows", None) is not None:
            return int(ann.rows.nbytes)
        if ann is not None and getattr(ann, "path", None) is not None and ann.path.exists():
            return ann.path.stat().st_size
        return len(self._alive) * self.dim * self.itemsize

    def footprint_bytes(self) -> int:
        """Bytes on disk this configuration uses: the matrix, the row map and its own shortlist
        files (other configurations' derived files that may sit beside them are not counted).
        """
        with self._lock:
            ann = self._ann
        files = [self._matrix_file(self._info("generation", 0)), self.path / "index.sqlite"]
        files += ann.files() if ann is not None else []
        return sum(p.stat().st_size for p in files if p.exists())

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())

    def close(self) -> None:
        if not self.readonly:
            self.flush()
        self._ann = None
        self._matrix = None
        self.db.close()
