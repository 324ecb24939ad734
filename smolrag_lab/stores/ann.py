"""Approximate nearest-neighbour search for the vector store: a usearch HNSW graph over the rows of
one matrix generation, used to shortlist candidates that are then re-scored exactly against the
memory-mapped float32 matrix.

The graph is persisted beside the matrix as ``ann.<generation>.usearch`` with the number of rows it
covers in ``ann.<generation>.json`` (written after it, by temp file and rename). Rows appended since
the last save are searched exactly and merged, so a graph that lags behind (a crash, a reader
opening while a writer works) is never wrong, only slower; the writer adds the missing rows in
memory on its next write and saves on ``flush``/``close``. Readers map the file (``view``) instead
of loading it. Deleted rows are filtered at query time; compaction starts a new generation.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ADD_BATCH = 65_536
# Measured here (usearch 2.26, onnxruntime 1.2x): ``import usearch.index`` followed by ``import
# onnxruntime`` kills the process with a segmentation fault; onnxruntime first, then usearch, works.
# The local embedder needs onnxruntime, so this module loads it first.


@dataclass(frozen=True)
class AnnConfig:
    connectivity: int = 16  # HNSW M: links per node
    expansion_add: int = 128  # ef_construction
    expansion_search: int = 64  # ef_search
    dtype: str = "i8"  # how the graph stores vectors (re-scoring uses the float32 matrix)
    min_rows: int = 20_000  # below this, exact search is fast enough and is used
    oversample: int = 3  # candidates shortlisted per result wanted
    kind: str = "hnsw"  # hnsw | int8 | pca: what shortlists (see also stores/shortlist.py)
    pca_dims: int = 128  # components kept by ``pca``
    rescore: bool = True  # re-score the shortlist exactly; False: keep the shortlist's scores


def open_shortlister(
    folder: Path, dim: int, generation: int, config: AnnConfig, readonly: bool
) -> Any:
    """The shortlisting structure ``config.kind`` names, for one matrix generation."""
    if config.kind == "hnsw":
        return HnswIndex(folder, dim, generation, config, readonly)
    from .shortlist import Int8Rows, PcaRows

    return {"int8": Int8Rows, "pca": PcaRows}[config.kind](
        folder, dim, generation, config, readonly
    )


class HnswIndex:
    def __init__(
        self, folder: Path, dim: int, generation: int, config: AnnConfig, readonly: bool
    ) -> None:
        import onnxruntime  # noqa: F401  -- must be loaded before usearch: the other order segfaults (below)
        from usearch.index import Index

        self.config, self.readonly, self.generation = config, readonly, generation
        self.path = folder / f"ann.{generation}.usearch"
        self.meta_path = folder / f"ann.{generation}.json"
        self.covered, self.dirty = 0, False
        meta = _read_json(self.meta_path)
        restored = None
        if self.path.exists() and meta.get("dim") == dim and meta.get("dtype") == config.dtype:
            restored = Index.restore(str(self.path), view=readonly)
        if restored is not None:
            self.index = restored
            self.covered = int(meta["rows"])
        else:
            self.index = Index(
                ndim=dim,
                metric="ip",
                dtype=config.dtype,
                connectivity=config.connectivity,
                expansion_add=config.expansion_add,
                expansion_search=config.expansion_search,
            )
        self.index.expansion_search = config.expansion_search  # type: ignore[misc]  # usearch declares the property without its setter
        self.dim = dim

    def catch_up(self, matrix: np.ndarray) -> int:
        """Add the rows appended since the graph last covered the matrix; returns how many."""
        if self.readonly or matrix is None or len(matrix) <= self.covered:
            return 0
        start = self.covered
        for first in range(start, len(matrix), ADD_BATCH):
            block = np.ascontiguousarray(matrix[first : first + ADD_BATCH], dtype=np.float32)
            keys = np.arange(first, first + len(block), dtype=np.uint64)
            new = ~np.asarray(
                self.index.contains(keys), dtype=bool
            )  # a save that crashed before its meta
            if new.any():
                self.index.add(keys[new], block[new])
        self.covered, self.dirty = len(matrix), True
        return len(matrix) - start

    def shortlist(
        self, queries: np.ndarray, k: int, alive: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``k`` candidates per query among the covered rows: (inner products, row numbers),
        -1 pads. Deleted rows are filtered by the caller.
        """
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out = np.full((len(queries), k), -1, dtype=np.int64)
        if not self.covered:
            return scores, out
        found = self.index.search(queries if len(queries) > 1 else queries[0], min(k, self.covered))
        if hasattr(found, "counts"):  # several queries: BatchMatches, rows padded past each count
            keys, counts = (
                np.asarray(found.keys, dtype=np.int64),
                np.asarray(found.counts).reshape(-1),
            )
            distances = np.asarray(found.distances, dtype=np.float32)
        else:
            keys = np.asarray(found.keys, dtype=np.int64)[None, :]
            counts = np.array([len(found.keys)])
            distances = np.asarray(found.distances, dtype=np.float32)[None, :]
        for i, n in enumerate(counts):
            out[i, :n], scores[i, :n] = keys[i, :n], 1.0 - distances[i, :n]
        return scores, out

    def save(self) -> None:
        if self.readonly or not self.dirty:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.index.save(str(tmp))
        os.replace(tmp, self.path)
        meta_tmp = self.meta_path.with_name(self.meta_path.name + ".tmp")
        meta_tmp.write_text(
            json.dumps({"rows": self.covered, "dim": self.dim, "dtype": self.config.dtype})
        )
        os.replace(meta_tmp, self.meta_path)
        self.dirty = False

    def files(self) -> list[Path]:
        return [self.path, self.meta_path]

    def drop_files(self) -> None:
        for path in (self.path, self.meta_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
