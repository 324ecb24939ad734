"""Interfaces of the model providers: an embedder, and the completion tasks the engine needs."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .stats import ProviderStats


class ProviderError(RuntimeError):
    """A provider call failed for good (after retries), or answered something unusable."""


class Embedder(abc.ABC):
    """Turns a batch of texts into an L2-normalised float32 array of shape (n, dim)."""

    name: str
    dim: int
    max_tokens: int
    backend: str
    # How many large requests are worth running at once: a local model's pool has a worker per
    # core (2 here); an endpoint takes as many as the client may have in flight.
    parallel_requests: int = 2

    def __init__(self) -> None:
        self.stats = ProviderStats()

    @property
    def pool_min_texts(self) -> int:
        """Requests of at least this many texts go to a process pool (0: this embedder has none)."""
        return 0

    @abc.abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)


@dataclass
class EntityRecord:
    name: str
    type: str
    description: str


@dataclass
class RelationshipRecord:
    source: str
    target: str
    description: str
    keywords: list[str] = field(default_factory=list)
    weight: float = 1.0


@dataclass
class Extraction:
    entities: list[EntityRecord] = field(default_factory=list)
    relationships: list[RelationshipRecord] = field(default_factory=list)
    content_keywords: list[str] = field(default_factory=list)
    # How the records were obtained: kept, dropped_<reason>, reasked, fallback_* (ingest report).
    quality: dict[str, int] = field(default_factory=dict)


@dataclass
class QueryKeywords:
    high_level: list[str] = field(default_factory=list)
    low_level: list[str] = field(default_factory=list)


class CompletionTasks(abc.ABC):
    """The four model tasks of the engine. ``backend`` and ``model`` identify the implementation."""

    backend: str
    model: str
    # Whether summaries come from a model, which may give several excerpts one sentence alike
    # (the pipeline then replaces those with local ones); the local summariser never does.
    summaries_from_model: bool = True

    def __init__(self) -> None:
        self.stats = ProviderStats()

    @abc.abstractmethod
    async def summarize(self, document: str, excerpt: str) -> str:
        """One sentence on how ``excerpt`` relates to the whole ``document``."""

    @abc.abstractmethod
    async def extract(self, excerpt: str) -> Extraction:
        """Entities and relationships mentioned in ``excerpt``."""

    async def process_group(
        self, document: str, context: str, excerpts: Sequence[str]
    ) -> list[tuple[str, Extraction]]:
        """Summary and extraction of each of several neighbouring excerpts. ``context`` is the
        bounded document context a model sees; this default runs the per-excerpt tasks on the full
        document (what the local backend does: it costs nothing).
        """
        summaries = await asyncio.gather(*(self.summarize(document, e) for e in excerpts))
        extractions = await asyncio.gather(*(self.extract(e) for e in excerpts))
        return list(zip(summaries, extractions, strict=True))

    @abc.abstractmethod
    async def keywords(self, query: str) -> QueryKeywords:
        """High-level (themes) and low-level (specific entities) keywords of a question."""

    @abc.abstractmethod
    async def answer(self, question: str, context: str, sources: Sequence[str], mode: str) -> str:
        """An answer grounded in ``context``, citing ``sources`` as [1], [2], ... in their order."""
