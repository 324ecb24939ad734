"""The stores of one data directory, opened together."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

from .stores import MmapVectorStore, NetworkXGraphStore, SqliteDatabase
from .stores.ann import AnnConfig

NAMESPACES = ("documents", "sources", "excerpts", "extractions", "meta", "query_cache")
VECTOR_STORES = ("excerpt_vectors", "entity_vectors", "relationship_vectors")
COPY_BATCH = 4096


class Index:
    """documents / sources / excerpts / meta in SQLite, three vector stores, and the graph."""

    def __init__(self, data_dir: str | Path, dim: int, readonly: bool = False, ann: AnnConfig | None = None,
                 vector_dtype: str = "float32") -> None:
        if ann is not None and ann.kind == "pca" and ann.pca_dims >= dim:
            raise ValueError(f"vector_pca_dims={ann.pca_dims} must be below the embedding dimension {dim}")
        self.data_dir = Path(data_dir)
        self.db = SqliteDatabase(self.data_dir / "index.sqlite", readonly=readonly)
        self.documents, self.sources, self.excerpts, self.extractions, self.meta, self.query_cache = (
            self.db.namespace(n) for n in NAMESPACES)
        self.excerpt_vectors = MmapVectorStore(self.data_dir / "vectors" / "excerpts", dim, readonly, ann=ann,
                                               dtype=vector_dtype)
        self.entity_vectors = MmapVectorStore(self.data_dir / "vectors" / "entities", dim, readonly, ann=ann,
                                               dtype=vector_dtype)
        self.relationship_vectors = MmapVectorStore(self.data_dir / "vectors" / "relationships", dim, readonly, ann=ann,
                                               dtype=vector_dtype)
        self.graph = NetworkXGraphStore(self.data_dir / "graph.graphml")
        self._excerpt_entities: tuple[int, int, dict[str, list[str]]] | None = None

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
        kept until the index version or the graph object changes."""
        stamp = (self.version, id(self.graph.graph))
        if self._excerpt_entities is None or self._excerpt_entities[:2] != stamp:
            inverted: dict[str, list[str]] = defaultdict(list)
            for key, excerpt_ids in self.graph.graph.nodes(data="excerpt_ids", default=()):
                for excerpt_id in excerpt_ids:
                    inverted[excerpt_id].append(key)
            self._excerpt_entities = (*stamp, dict(inverted))
        return self._excerpt_entities[2]

    def save_graph(self) -> None:
        """Save the graph tagged with the index version it reflects."""
        self.graph.graph.graph["index_version"] = self.version
        self.graph.save()

    def graph_is_stale(self) -> bool:
        """True when records were committed after the graph was last saved (an interrupted run)."""
        saved = int(self.graph.graph.graph.get("index_version", 0))
        return saved != self.version

    def sizes(self) -> dict[str, int]:
        return {"kv_bytes": self.db.size_bytes(),
                "excerpt_vectors_bytes": self.excerpt_vectors.size_bytes(),
                "entity_vectors_bytes": self.entity_vectors.size_bytes(),
                "relationship_vectors_bytes": self.relationship_vectors.size_bytes(),
                "graph_bytes": self.graph.size_bytes()}

    def flush(self) -> None:
        """Persist what is kept in memory between writes (the ANN graphs)."""
        for name in VECTOR_STORES:
            getattr(self, name).flush()

    def copy_to(self, target: str | Path, vector_dtype: str = "float32") -> None:
        """Copy this index into ``target`` (which must not exist), writing its vectors as ``vector_dtype``:
        how an existing index tries another ``vector_storage`` without re-ingesting. Records are copied
        with SQLite's online backup, so a concurrent writer's half-done transaction is never copied."""
        target = Path(target)
        if target.exists():
            raise FileExistsError(f"{target} already exists")
        target.mkdir(parents=True)
        self.db.backup_to(target / "index.sqlite")
        if self.graph.path.exists():
            shutil.copy2(self.graph.path, target / self.graph.path.name)
        dim = self.excerpt_vectors.dim
        for name in VECTOR_STORES:
            source = getattr(self, name)
            out = MmapVectorStore(target / "vectors" / source.path.name, dim, dtype=vector_dtype)
            ids = source.ids()
            for start in range(0, len(ids), COPY_BATCH):
                chunk = ids[start:start + COPY_BATCH]
                metadata = source.get_metadata(chunk)
                out.upsert(chunk, source.get_vectors(chunk), [metadata.get(i, {}) for i in chunk])
            out.close()

    def close(self) -> None:
        for name in VECTOR_STORES:
            getattr(self, name).close()
        self.db.close()
