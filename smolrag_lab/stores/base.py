"""Small base classes for the three kinds of store, so that a server backend can be added later."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class VectorHit:
    id: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)


class VectorStore(abc.ABC):
    """Rows of float32 vectors with string ids and JSON metadata; cosine search."""

    dim: int

    @abc.abstractmethod
    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadata: Sequence[Mapping[str, Any]] | None = None,
    ) -> None: ...

    @abc.abstractmethod
    def delete(self, ids: Iterable[str]) -> int: ...

    @abc.abstractmethod
    def query(self, vector: np.ndarray, top_k: int, threshold: float = -1.0) -> list[VectorHit]: ...

    @abc.abstractmethod
    def get_vectors(self, ids: Sequence[str]) -> np.ndarray: ...

    @abc.abstractmethod
    def get_metadata(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    @abc.abstractmethod
    def size_bytes(self) -> int: ...

    @abc.abstractmethod
    def scan_bytes(self) -> int:
        """What one exact search reads."""

    def footprint_bytes(self) -> int:
        """What the store takes on disk (or in the database)."""
        return self.size_bytes()

    @abc.abstractmethod
    def ids(self) -> list[str]: ...

    @abc.abstractmethod
    def __len__(self) -> int: ...

    def __contains__(self, item: str) -> bool:
        return item in set(self.ids())

    def flush(self) -> None:
        """Persist anything kept in memory between writes (an ANN graph); writes are durable."""
        return  # by default a store keeps nothing in memory

    def close(self) -> None:
        """Release files and connections."""
        return  # by default a store holds none open


class KVStore(abc.ABC):
    """A namespace of JSON values under string keys."""

    @abc.abstractmethod
    def get(self, key: str, default: Any = None) -> Any: ...

    @abc.abstractmethod
    def get_many(self, keys: Sequence[str]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def set(self, key: str, value: Any) -> None: ...

    @abc.abstractmethod
    def set_many(self, items: Mapping[str, Any]) -> None: ...

    @abc.abstractmethod
    def delete(self, keys: Iterable[str]) -> int: ...

    @abc.abstractmethod
    def keys(self) -> list[str]: ...

    @abc.abstractmethod
    def items(self) -> Iterator[tuple[str, Any]]: ...

    @abc.abstractmethod
    def clear(self) -> None: ...

    @abc.abstractmethod
    def __len__(self) -> int: ...

    def __contains__(self, key: str) -> bool:
        return self.get(key, _MISSING) is not _MISSING


class GraphStore(abc.ABC):
    """An undirected attributed graph of entities and relationships, stored as rows: callers read
    the rows they touch (items, and one document's contributions to them), write changes inside
    their transaction, and follow changes by version.
    """

    @abc.abstractmethod
    def nodes(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The item rows (display names) of those of ``keys`` that exist."""

    @abc.abstractmethod
    def edges(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The attributes of those of ``pairs`` that exist, keyed by the sorted pair."""

    @abc.abstractmethod
    def incident(self, key: str) -> list[tuple[str, str]]:
        """The (sorted) pairs of every edge at ``key``."""

    @abc.abstractmethod
    def contribution(self, item: tuple[str, str, str], doc_id: str) -> dict[str, Any] | None:
        """What document ``doc_id`` contributes to ``item`` (see :mod:`.graph`), if anything."""

    @abc.abstractmethod
    def contributors(self, item: tuple[str, str, str], excluding: str, limit: int) -> list[str]:
        """Up to ``limit`` documents other than ``excluding`` that contribute to ``item``."""

    @abc.abstractmethod
    def changes_since(self, version: int, now: int) -> Any:
        """A :class:`~.graph.GraphChanges` of the rows written or removed after ``version``."""

    @abc.abstractmethod
    def write(self, change: Any, version: int) -> None:
        """Apply a :class:`~.graph.GraphWrite`, stamped with the index ``version`` of the commit."""

    @abc.abstractmethod
    def clear(self, version: int) -> None: ...

    @abc.abstractmethod
    def number_of_nodes(self) -> int: ...

    @abc.abstractmethod
    def number_of_edges(self) -> int: ...


_MISSING = object()
