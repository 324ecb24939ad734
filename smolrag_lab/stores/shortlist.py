"""Compact copies of a vector store's rows that are cheap to scan, used to shortlist candidates that
the store then re-scores against its full-precision matrix (the same contract as the HNSW graph in
:mod:`.ann`):

- ``int8``: per-row scalar-quantised codes, a quarter of float32's bytes, scanned with SIMD cosine;
- ``pca``: rows projected on the top principal components of the stored vectors (fitted once per
  matrix generation from an even sample of its first rows), scanned with BLAS; files are named
  ``pca<dims>`` so several widths can coexist.

Both are derived data, rebuilt from the matrix when missing: ``ann.<generation>.<kind>`` holds the
rows and ``ann.<generation>.<kind>.json`` how many it covers (written after them, by rename), so a
copy that lags behind only costs an exact scan of the rows it does not cover yet.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import scan

FIT_SAMPLE_ROWS = 20_000
ENCODE_BLOCK_ROWS = 65_536


class DerivedRows:
    kind = ""
    dtype: Any = np.float32

    def __init__(
        self, folder: Path, dim: int, generation: int, config: Any, readonly: bool
    ) -> None:
        self.config, self.readonly, self.dim, self.generation = config, readonly, dim, generation
        self.path = folder / f"ann.{generation}.{self.kind}"
        self.meta_path = folder / f"ann.{generation}.{self.kind}.json"
        meta = _read_json(self.meta_path)
        self.covered = (
            int(meta.get("rows", 0)) if self._compatible(meta) and self.path.exists() else 0
        )
        self.dirty = False
        self.rows: np.ndarray | None = None
        self._map()

    # What subclasses define -----------------------------------------------------------------
    def _compatible(self, meta: dict) -> bool:
        return meta.get("dim") == self.dim

    @property
    def width(self) -> int:
        return self.dim

    def _ready(self, matrix: np.ndarray) -> bool:
        return True

    def _encode(self, block: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _queries(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(queries in this copy's space, score offset per query)."""
        return queries, np.zeros(len(queries), dtype=np.float32)

    # Shared -----------------------------------------------------------------------------------
    def _map(self) -> None:
        self.rows = (
            np.memmap(self.path, dtype=self.dtype, mode="r", shape=(self.covered, self.width))
            if self.covered
            else None
        )

    def catch_up(self, matrix: np.ndarray) -> int:
        """Encode the rows appended since this copy last covered the matrix; returns how many."""
        if (
            self.readonly
            or matrix is None
            or len(matrix) <= self.covered
            or not self._ready(matrix)
        ):
            return 0
        start, row_bytes = self.covered, self.width * np.dtype(self.dtype).itemsize
        with open(self.path, "ab") as handle:
            handle.truncate(start * row_bytes)
            handle.seek(start * row_bytes)
            for first in range(start, len(matrix), ENCODE_BLOCK_ROWS):
                block = np.asarray(matrix[first : first + ENCODE_BLOCK_ROWS], dtype=np.float32)
                handle.write(np.ascontiguousarray(self._encode(block), dtype=self.dtype).tobytes())
        self.covered, self.dirty = len(matrix), True
        self._map()
        return self.covered - start

    def shortlist(
        self, queries: np.ndarray, k: int, alive: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Row numbers of up to ``k`` live candidates per query among the covered rows (-1 pads),
        with this copy's approximate scores.
        """
        if not self.covered:
            return (
                np.full((len(queries), k), -np.inf, dtype=np.float32),
                np.full((len(queries), k), -1, dtype=np.int64),
            )
        projected, offset = self._queries(queries)
        assert self.rows is not None, "covered rows imply loaded codes"
        scores, rows = scan.top_k(self.rows, alive[: self.covered], projected, k)
        return scores + offset[:, None], rows

    def save(self) -> None:
        if self.readonly or not self.dirty:
            return
        tmp = self.meta_path.with_name(self.meta_path.name + ".tmp")
        tmp.write_text(json.dumps({"rows": self.covered, **self._meta()}))
        os.replace(tmp, self.meta_path)
        self.dirty = False

    def _meta(self) -> dict:
        return {"dim": self.dim}

    def files(self) -> list[Path]:
        return sorted(self.path.parent.glob(f"ann.{self.generation}.{self.kind}.*")) + [self.path]

    def drop_files(self) -> None:
        for path in self.path.parent.glob(f"ann.{self.generation}.{self.kind}*"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


class Int8Rows(DerivedRows):
    kind, dtype = "int8", np.int8

    def _encode(self, block: np.ndarray) -> np.ndarray:
        return scan.quantise_int8(block)


class PcaRows(DerivedRows):
    def __init__(
        self, folder: Path, dim: int, generation: int, config: Any, readonly: bool
    ) -> None:
        self.kind = (
            f"pca{config.pca_dims}"  # one file set per width: several can be compared side by side
        )
        self.basis_path = folder / f"ann.{generation}.{self.kind}.npz"
        self.mean: np.ndarray | None = None
        self.components: np.ndarray | None = None
        if self.basis_path.exists():
            with np.load(self.basis_path) as saved:
                if saved["components"].shape == (config.pca_dims, dim):
                    self.mean, self.components = saved["mean"], saved["components"]
        super().__init__(folder, dim, generation, config, readonly)

    def _compatible(self, meta: dict) -> bool:
        return (
            meta.get("dim") == self.dim
            and meta.get("pca_dims") == self.config.pca_dims
            and self.components is not None
        )

    def _meta(self) -> dict:
        return {"dim": self.dim, "pca_dims": self.config.pca_dims}

    @property
    def width(self) -> int:
        return self.config.pca_dims

    def _ready(self, matrix: np.ndarray) -> bool:
        """Fit the projection once the matrix has enough rows for it (until then search stays
        exact).
        """
        if self.components is not None:
            return True
        if len(matrix) < max(2 * self.config.pca_dims, 256):
            return False
        picks = np.linspace(0, len(matrix) - 1, min(len(matrix), FIT_SAMPLE_ROWS)).astype(np.int64)
        sample = np.asarray(matrix[picks], dtype=np.float32)
        mean = sample.mean(axis=0)
        _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
        self.mean, self.components = (
            mean.astype(np.float32),
            np.ascontiguousarray(vt[: self.config.pca_dims], dtype=np.float32),
        )
        tmp = self.basis_path.with_name(self.basis_path.name + ".tmp.npz")
        np.savez(tmp, mean=self.mean, components=self.components)
        os.replace(tmp, self.basis_path)
        return True

    def _basis(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.mean is not None and self.components is not None, "PCA basis not fitted yet"
        return self.mean, self.components

    def _encode(self, block: np.ndarray) -> np.ndarray:
        mean, components = self._basis()
        return (block - mean) @ components.T

    def _queries(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # x.q = mean.q + (x - mean).q, and (x - mean).q ~ P(x - mean) . Pq on the kept components
        mean, components = self._basis()
        return np.ascontiguousarray(queries @ components.T), queries @ mean


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
