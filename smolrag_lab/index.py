"""The stores of one data directory, opened together."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from .stores.ann import AnnConfig
from .stores.backends import PostgresOptions, open_backend
from .stores.document_log import DocumentLog
from .stores.graph import GraphView, GraphWrite, as_write
from .stores.legacy import convert_legacy_graph
from .stores.lock import WriterLock

NAMESPACES = ("documents", "sources", "excerpts", "extractions", "meta", "query_cache")
VECTOR_STORES = ("excerpt_vectors", "entity_vectors", "relationship_vectors")
COPY_BATCH = 4096


class Index:
    """documents / sources / excerpts / extractions / meta records, the graph rows and three
    vector stores: in files under ``data_dir`` (SQLite, memory-mapped matrices) or in a PostgreSQL
    workspace when ``postgres`` is given (see :mod:`.stores.backends`). Records and graph rows
    commit together; vectors are derived from them.
    """

    def __init__(
        self,
        data_dir: str | Path,
        dim: int,
        readonly: bool = False,
        ann: AnnConfig | None = None,
        vector_dtype: str = "float32",
        postgres: PostgresOptions | None = None,
    ) -> None:
        if ann is not None and ann.kind == "pca" and ann.pca_dims >= dim:
            raise ValueError(
                f"vector_pca_dims={ann.pca_dims} must be below the embedding dimension {dim}"
            )
        self.data_dir = Path(data_dir)
        backend = open_backend(self.data_dir, dim, readonly, ann, vector_dtype, postgres)
        self.db, self.graph, self._writer_lock = backend.db, backend.graph, backend.writer_lock
        self.excerpt_vectors, self.entity_vectors, self.relationship_vectors = backend.vectors
        (
            self.documents,
            self.sources,
            self.excerpts,
            self.extractions,
            self.meta,
            self.query_cache,
        ) = (self.db.namespace(n) for n in NAMESPACES)
        self.document_log = DocumentLog(self.db)
        self._view = GraphView()
        self._view_lock = threading.RLock()
        if not readonly:
            convert_legacy_graph(self, backend.legacy_graphml)

    def writer_lock(self, timeout_s: float = 0.0) -> WriterLock:
        """A new lock that admits one writer (thread or process) to this index at a time."""
        return self._writer_lock(timeout_s)

    @property
    def version(self) -> int:
        return int(self.meta.get("version", 0))

    def bump_version(self, documents: Iterable[str] = ()) -> None:
        """Mark the index as changed: cached query results no longer apply. ``documents``: the
        ids whose records (excerpts included) the commit writes or deletes, logged under the new
        version so that readers re-read only those (see :mod:`.stores.document_log`).
        """
        with self.db.transaction():
            version = self.version + 1
            self.meta.set("version", version)
            self.query_cache.clear()
            self.document_log.mark(documents, version)

    # The graph's networkx view ------------------------------------------------------------
    def graph_view(self) -> GraphView:
        """The committed graph as networkx, brought up to the index's current version by applying
        the rows changed since (read in one snapshot, so the view's version is the version it
        shows). A view still held by :meth:`reading_graph` is copied rather than changed under its
        reader.
        """
        with self._view_lock:
            with self.db.snapshot():
                now = self.version
                if now == self._view.version:
                    return self._view
                changes = self.graph.changes_since(self._view.version, now)
            view = self._view.copy() if self._view.readers else self._view
            view.apply(changes)
            self._view = view
            return view

    @contextlib.contextmanager
    def reading_graph(self) -> Iterator[GraphView]:
        """The current view, kept unchanged for the block (a query reading it in worker threads)."""
        with self._view_lock:
            view = self.graph_view()
            view.readers += 1
        try:
            yield view
        finally:
            with self._view_lock:
                view.readers -= 1

    def write_graph(self, change: GraphWrite) -> None:
        """Store a commit's graph rows, stamped with the current version; call inside the commit's
        transaction, after :meth:`bump_version`.
        """
        self.graph.write(change, self.version)

    def sizes(self) -> dict[str, int]:
        return {
            "kv_bytes": self.db.size_bytes(),
            "excerpt_vectors_bytes": self.excerpt_vectors.size_bytes(),
            "entity_vectors_bytes": self.entity_vectors.size_bytes(),
            "relationship_vectors_bytes": self.relationship_vectors.size_bytes(),
        }  # the graph's rows are in the database, counted in kv_bytes

    def flush(self) -> None:
        """Persist what is kept in memory between writes (the ANN graphs)."""
        for name in VECTOR_STORES:
            getattr(self, name).flush()

    def copy_to(self, target: str | Path, vector_dtype: str = "float32") -> None:
        """Copy this index into a new folder ``target``, writing its vectors as ``vector_dtype``:
        how an existing index tries another ``vector_storage`` without re-ingesting. Copy while no
        writer works.
        """
        target = Path(target)
        if target.exists():
            raise FileExistsError(f"{target} already exists")
        copy = Index(target, self.excerpt_vectors.dim, vector_dtype=vector_dtype)
        try:
            self.copy_into(copy)
        finally:
            copy.close()

    def copy_into(self, other: Index) -> dict[str, int]:
        """Copy every record, vector and graph item into ``other`` (any backend, expected empty), in
        one transaction where ``other`` has them; returns what was copied. Query-cache entries are
        not copied.
        """
        copied: dict[str, int] = {}
        with other.db.transaction():
            for name in NAMESPACES:
                if name != "query_cache":
                    items = dict(getattr(self, name).items())
                    getattr(other, name).set_many(items)
                    copied[name] = len(items)
            for name in VECTOR_STORES:
                source, target = getattr(self, name), getattr(other, name)
                ids = source.ids()
                for start in range(0, len(ids), COPY_BATCH):
                    chunk = ids[start : start + COPY_BATCH]
                    metadata = source.get_metadata(chunk)
                    target.upsert(
                        chunk, source.get_vectors(chunk), [metadata.get(i, {}) for i in chunk]
                    )
                copied[name] = len(ids)
            other.write_graph(as_write(self.graph_view().graph))
            copied["graph_nodes"], copied["graph_edges"] = (
                other.graph.number_of_nodes(),
                other.graph.number_of_edges(),
            )
        return copied

    def close(self) -> None:
        for name in VECTOR_STORES:
            getattr(self, name).close()
        self.db.close()
