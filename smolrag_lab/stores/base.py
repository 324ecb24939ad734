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
    def ids(self) -> list[str]: ...

    @abc.abstractmethod
    def __len__(self) -> int: ...

    def __contains__(self, item: str) -> bool:
        return item in set(self.ids())

    def flush(self) -> None:
        """Persist anything kept in memory between writes (an ANN graph); writes are durable anyway."""

    def close(self) -> None:
        """Release files and connections."""


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
    def __len__(self) -> int: ...

    def __contains__(self, key: str) -> bool:
        return self.get(key, _MISSING) is not _MISSING


class GraphStore(abc.ABC):
    """An undirected attributed graph of entities and relationships."""

    @abc.abstractmethod
    def upsert_node(self, name: str, **attrs: Any) -> None: ...

    @abc.abstractmethod
    def upsert_edge(self, source: str, target: str, **attrs: Any) -> None: ...

    @abc.abstractmethod
    def node(self, name: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def edge(self, source: str, target: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def remove_node(self, name: str) -> None: ...

    @abc.abstractmethod
    def remove_edge(self, source: str, target: str) -> None: ...

    @abc.abstractmethod
    def degree(self, name: str) -> int: ...

    @abc.abstractmethod
    def neighbours(self, name: str) -> list[str]: ...

    @abc.abstractmethod
    def edges_of(self, name: str) -> list[tuple[str, str]]: ...

    @abc.abstractmethod
    def save(self) -> None: ...


_MISSING = object()
