"""Progress for long work: tqdm bars (ipywidgets in a notebook, text in a terminal) and, for an
ingestion, an overall bar with an ETA, one bar per stage, the graph-vector stage reported batch by
batch as pool processes finish, and a listener hook the notebook panel draws its own widgets from.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from tqdm.auto import tqdm

GRAPH_STAGE = "graph_vectors"
# Graph vectors are embedded in about this many batches, so their bar moves while pool processes
# work;
# two batches at a time keep a process pool busy without oversubscribing an inline embedder's
# threads.
_GRAPH_BATCHES, _GRAPH_CONCURRENT = 20, 2


@contextmanager
def progress_bar(total: int, desc: str, unit: str = "it", enabled: bool = True) -> Iterator[Any]:
    """A tqdm bar (closed on exit); disabled when ``enabled`` is false or there is nothing to do."""
    bar = tqdm(total=total, desc=desc, unit=unit, disable=not enabled or not total, leave=True)
    try:
        yield bar
    finally:
        bar.close()


class _StageBar:
    def __init__(self, owner: IngestProgress, name: str) -> None:
        self.owner, self.name = owner, name

    def update(self, n: int) -> None:
        self.owner.advance(self.name, n)


class IngestProgress:
    """One ingestion's progress: ``stages`` each move through ``excerpts`` units and the
    graph-vector stage counts as one more stage of the same weight, so the overall bar's ETA covers
    the whole run. ``listener(progress)`` is called after every change (the notebook panel's
    widgets).
    """

    def __init__(
        self,
        stages: Sequence[str],
        excerpts: int,
        enabled: bool = True,
        listener: Callable[[IngestProgress], None] | None = None,
    ) -> None:
        self.started = time.monotonic()
        self.excerpts = excerpts
        self.stages: dict[str, list[int]] = {s: [0, excerpts] for s in stages}
        self.stages[GRAPH_STAGE] = [0, 0]  # its size is known only when the stage starts
        self.listener = listener
        show = enabled and excerpts > 0
        self.overall = tqdm(
            total=excerpts * len(self.stages), desc="overall", unit="step", disable=not show
        )
        self.bars = {
            s: tqdm(total=t, desc=s, unit="excerpt", disable=not show, leave=True)
            for s, (_, t) in self.stages.items()
            if s != GRAPH_STAGE
        }
        self.done = 0  # overall steps (a disabled tqdm bar does not count)
        self._graph_bar: Any = None
        self._show = show
        self._graph_credit = 0.0
        self._notify()

    def __getitem__(self, stage: str) -> _StageBar:
        return _StageBar(self, stage)

    def __bool__(self) -> bool:
        return True

    @property
    def fraction(self) -> float:
        """Share of the run done, 0 to 1 (the graph stage weighs as much as any other stage)."""
        total = self.excerpts * len(self.stages)
        return min(1.0, self.done / total) if total else 1.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the rate so far; None before anything finished."""
        done, elapsed = self.fraction, time.monotonic() - self.started
        return elapsed * (1 - done) / done if done > 0 else None

    def advance(self, stage: str, n: int) -> None:
        self.stages[stage][0] += n
        self.bars[stage].update(n)
        self._step(n)

    def start_graph(self, items: int) -> None:
        self.stages[GRAPH_STAGE] = [0, items]
        self._graph_bar = tqdm(
            total=items, desc=GRAPH_STAGE, unit="vector", disable=not self._show or not items
        )
        self._notify()

    def graph_done(self, items: int) -> None:
        """``items`` graph vectors embedded: the graph stage's share of the overall bar moves with
        them.
        """
        stage = self.stages[GRAPH_STAGE]
        stage[0] = min(stage[1], stage[0] + items)
        if self._graph_bar is not None:
            self._graph_bar.update(items)
        credit = self.excerpts * stage[0] / stage[1] if stage[1] else 0.0
        step = int(credit - self._graph_credit)
        if step > 0:
            self._graph_credit += step
        self._step(max(step, 0))

    def graph_embedder(self, embedder: Any) -> Any:
        return ProgressEmbedder(embedder, self)

    def close(self) -> None:
        # an ingestion with no graph work (or a cancelled one) still ends at 100%
        self.done = max(self.done, self.excerpts * len(self.stages))
        self.overall.update(max(0, self.overall.total - self.overall.n))
        for bar in [*self.bars.values(), self._graph_bar, self.overall]:
            if bar is not None:
                bar.close()
        self._notify()

    def _step(self, n: int) -> None:
        self.done += n
        self.overall.update(n)
        self._notify()

    def _notify(self) -> None:
        if self.listener is not None:
            self.listener(self)


class ProgressEmbedder:
    """Wraps an embedder for the graph-vector stage: the texts go out in batches (concurrently, so a
    process pool stays busy) and each finished batch moves the progress bar.
    """

    def __init__(self, inner: Any, progress: IngestProgress) -> None:
        self.inner, self.progress = inner, progress

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def parallel_slices(self) -> int:
        return max(1, int(getattr(self.inner, "parallel_requests", _GRAPH_CONCURRENT)))

    @property
    def pool_min_texts(self) -> int:
        return int(getattr(self.inner, "pool_min_texts", 0))

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        self.progress.start_graph(len(texts))
        # No smaller than what the embedder sends to its pool (``auto``'s threshold), or every
        # batch would stay in this process.
        size = max(64, math.ceil(len(texts) / _GRAPH_BATCHES), self.pool_min_texts)
        slots = asyncio.Semaphore(self.parallel_slices)

        async def batch(start: int) -> np.ndarray:
            async with slots:
                vectors = await self.inner.aembed(texts[start : start + size])
            self.progress.graph_done(len(vectors))
            return vectors

        parts = await asyncio.gather(*(batch(i) for i in range(0, len(texts), size)))
        return np.concatenate(parts) if parts else await self.inner.aembed(texts)
