"""The stores of one data directory, opened together."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .stores import MmapVectorStore, NetworkXGraphStore, SqliteDatabase
from .stores.ann import AnnConfig

NAMESPACES = ("documents", "sources", "excerpts", "extractions", "meta", "query_cache")
VECTOR_STORES = ("excerpt_vectors", "entity_vectors", "relationship_vectors")
VECTOR_FOLDERS = ("excerpts", "entities", "relationships")
COPY_BATCH = 4096


@dataclass(frozen=True)
class PostgresOptions:
    """Where and how an index lives in PostgreSQL (see :mod:`smolrag_lab.stores.postgres`)."""

    dsn: str = field(repr=False)  # may carry a password
    workspace: str = "default"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 64


class Index:
    """documents / sources / excerpts / meta records, three vector stores, and the graph: in files under
    ``data_dir`` (SQLite, memory-mapped matrices, GraphML), or in PostgreSQL when ``postgres`` is given.
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
        self.atomic = (
            postgres is not None
        )  # one transaction per document: nothing to repair after a crash
        if postgres is not None:
            self._open_postgres(dim, postgres)
        else:
            self._open_files(dim, readonly, ann, vector_dtype)
        (
            self.documents,
            self.sources,
            self.excerpts,
            self.extractions,
            self.meta,
            self.query_cache,
        ) = (self.db.namespace(n) for n in NAMESPACES)
        self._excerpt_entities: tuple[int, int, dict[str, list[str]]] | None = None

    def _open_files(
        self, dim: int, readonly: bool, ann: AnnConfig | None, vector_dtype: str
    ) -> None:
        self.db = SqliteDatabase(self.data_dir / "index.sqlite", readonly=readonly)
        for attribute, folder in zip(VECTOR_STORES, VECTOR_FOLDERS):
            setattr(
                self,
                attribute,
                MmapVectorStore(
                    self.data_dir / "vectors" / folder, dim, readonly, ann=ann, dtype=vector_dtype
                ),
            )
        self.graph = NetworkXGraphStore(self.data_dir / "graph.graphml")

    def _open_postgres(self, dim: int, options: PostgresOptions) -> None:
        from .stores.postgres import PostgresDatabase
        from .stores.postgres_graph import PostgresGraphStore
        from .stores.postgres_vectors import PostgresVectorStore

        self.db = PostgresDatabase(
            options.dsn,
            options.workspace,
            options.hnsw_m,
            options.hnsw_ef_construction,
            options.hnsw_ef_search,
        )
        for attribute, folder in zip(VECTOR_STORES, VECTOR_FOLDERS):
            setattr(self, attribute, PostgresVectorStore(self.db, folder, dim))
        self.graph = PostgresGraphStore(self.db)

    @property
    def version(self) -> int:
        return int(self.meta.get("version", 0))

    def bump_version(self) -> None:
        """Mark the index as changed: cached query results no longer apply."""
        with self.db.transaction():
            self.meta.set("version", self.version + 1)
            self.query_cache.clear()

    def excerpt_entities(self) -> dict[str, list[str]]:
        """The graph's provenance inverted: the entities each excerpt mentions. Built in one pass and
        kept until the index version or the graph object changes.
        """
        stamp = (self.version, id(self.graph.graph))
        if self._excerpt_entities is None or self._excerpt_entities[:2] != stamp:
            inverted: dict[str, list[str]] = defaultdict(list)
            for key, excerpt_ids in self.graph.graph.nodes(data="excerpt_ids", default=()):
                for excerpt_id in excerpt_ids:
                    inverted[excerpt_id].append(key)
            self._excerpt_entities = (*stamp, dict(inverted))
        return self._excerpt_entities[2]

    def save_graph(self) -> None:
        """Save the graph tagged with the index version it reflects (PostgreSQL: the whole graph rewritten;
        commits write their own rows).
        """
        self.graph.graph.graph["index_version"] = self.version
        self.graph.save()

    def graph_is_stale(self) -> bool:
        """True when records were committed after the graph was last saved (an interrupted run)."""
        if self.atomic:
            return False
        saved = int(self.graph.graph.graph.get("index_version", 0))
        return saved != self.version

    def sizes(self) -> dict[str, int]:
        return {
            "kv_bytes": self.db.size_bytes(),
            "excerpt_vectors_bytes": self.excerpt_vectors.size_bytes(),
            "entity_vectors_bytes": self.entity_vectors.size_bytes(),
            "relationship_vectors_bytes": self.relationship_vectors.size_bytes(),
            "graph_bytes": self.graph.size_bytes(),
        }

    def flush(self) -> None:
        """Persist what is kept in memory between writes (the ANN graphs)."""
        for name in VECTOR_STORES:
            getattr(self, name).flush()

    def copy_to(self, target: str | Path, vector_dtype: str = "float32") -> None:
        """Copy this index into a new folder ``target``, writing its vectors as ``vector_dtype``: how an
        existing index tries another ``vector_storage`` without re-ingesting. Copy while no writer works.
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
        """Copy every record, vector and graph item into ``other`` (any backend, expected empty), in one
        transaction where ``other`` has them; returns what was copied. Query-cache entries are not copied.
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
            other.graph.graph = self.graph.graph.copy()
            other.save_graph()
            copied["graph_nodes"], copied["graph_edges"] = (
                other.graph.number_of_nodes(),
                other.graph.number_of_edges(),
            )
        return copied

    def close(self) -> None:
        for name in VECTOR_STORES:
            getattr(self, name).close()
        self.db.close()
