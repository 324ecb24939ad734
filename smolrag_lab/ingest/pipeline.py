"""Ingestion: discover, detect changes by content hash, process each document as a unit, commit.

Every provider call of a document (summaries, embeddings, extraction) happens before anything is
written. The commit (:mod:`.commit`) then writes the document's records and the graph rows it
changed in one transaction, so a failing document leaves nothing half-written and the others still
land; the graph vectors derived from them follow once per run (the crash marker covers the gap, see
``SmolRag._writing``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from ..index import Index
from ..monitor import PerformanceMonitor
from ..progress import IngestProgress
from ..providers import Providers
from ..providers.local_tasks import distinct_summaries
from ..settings import Settings
from ..text import excerpt_search_text
from ..tokens import TokenCounter
from .chunking import Chunker
from .commit import commit_document, delete_document
from .consistency import sync_graph_vectors
from .discovery import Document, Skipped, discover, read_document
from .executors import read_and_split
from .graph_merge import Touched
from .grouping import document_context, group_excerpts
from .report import IngestReport, Prepared, StageError, content_hash, make_doc_id

T = TypeVar("T")


class Ingestor:
    def __init__(
        self,
        index: Index,
        providers: Providers,
        settings: Settings,
        monitor: PerformanceMonitor | None = None,
    ) -> None:
        self.monitor = monitor or PerformanceMonitor(providers.stats)
        self.index = index
        self.providers = providers
        self.settings = settings
        self.chunker = Chunker(
            TokenCounter(settings.tokenizer_encoding),
            settings.chunk_size,
            settings.chunk_overlap,
            settings.chunk_strategy,
        )
        self._commit_lock = asyncio.Lock()
        self._graph_embed_seconds = 0.0
        self._pending = Touched()  # graph items whose vectors await the end-of-run sync
        self._calls = asyncio.Semaphore(settings.max_concurrent_requests)
        self.cancel = threading.Event()  # set from any thread: uncommitted documents are left out
        self.progress_listener: Callable[[IngestProgress], None] | None = None
        self.executor: Any = (
            None  # reading and chunking run here when set (see ingest/executors.py)
        )

    # Entry points -------------------------------------------------------------------------
    async def ingest_paths(
        self, paths: Iterable[str | Path], progress: bool = True, confine_to: Path | None = None
    ) -> IngestReport:
        started, report = time.perf_counter(), IngestReport()
        paths = list(paths)
        files, skipped = discover(paths, self.settings.file_extensions, confine_to)
        report.skipped.extend(asdict(s) for s in skipped)
        documents, presplit = [], {}
        for read, excerpts in await self._read(files):
            (
                report.skipped.append(asdict(read))
                if isinstance(read, Skipped)
                else documents.append(read)
            )
            if excerpts is not None:
                presplit[read.source] = excerpts
        roots = [
            str(Path(p).expanduser().resolve()) for p in paths if Path(p).expanduser().is_dir()
        ]
        seen = {str(f) for f in files}
        for source in self.index.sources.keys():  # noqa: SIM118  -- a KVStore, not a dict: keys() is its listing
            if any(source.startswith(r.rstrip("/") + "/") for r in roots) and source not in seen:
                await self._delete(source, report)
        await self._ingest_documents(documents, report, progress, presplit)
        report.wall_seconds = time.perf_counter() - started
        return report

    async def _read(self, files: list[Path]) -> list[tuple[Document | Skipped, list[str] | None]]:
        """Each file's text (or why it was skipped), and with an executor its excerpts too: both
        done there.
        """
        max_bytes = self.settings.max_file_bytes
        if self.executor is None:
            return [(read_document(path, max_bytes), None) for path in files]
        s = self.settings
        chunking = (s.tokenizer_encoding, s.chunk_size, s.chunk_overlap, s.chunk_strategy)
        loop = asyncio.get_running_loop()
        return list(
            await asyncio.gather(
                *(
                    loop.run_in_executor(self.executor, read_and_split, path, max_bytes, chunking)
                    for path in files
                )
            )
        )

    async def ingest_documents(
        self, documents: list[Document], progress: bool = False
    ) -> IngestReport:
        started, report = time.perf_counter(), IngestReport()
        await self._ingest_documents(documents, report, progress)
        report.wall_seconds = time.perf_counter() - started
        return report

    async def delete(self, source: str) -> bool:
        return bool(await self.delete_many([source]))

    async def delete_many(self, sources: Iterable[str]) -> list[str]:
        """Remove these documents, with one graph-vector sync for all; the sources removed."""
        report = IngestReport()
        for source in sources:
            await self._delete(source, report)
        await self.sync_graph_vectors()
        return report.removed

    # Planning and processing ----------------------------------------------------------------
    async def _ingest_documents(
        self,
        documents: list[Document],
        report: IngestReport,
        progress: bool,
        presplit: dict[str, list[str]] | None = None,
    ) -> None:
        before = self._call_counts()
        self._graph_embed_seconds = 0.0
        todo = self._plan(documents, report, presplit or {})
        total = sum(len(p.excerpts) for p in todo)
        stages = self._stages()
        self.cancel.clear()
        bars = IngestProgress(stages, total, progress, self.progress_listener)
        semaphore = asyncio.Semaphore(self.settings.ingest_concurrency)
        # Documents are processed concurrently but commit in input order, so the same corpus always
        # gives the same graph (descriptions and provenance lists keep the order they were merged
        # in).
        turns = [asyncio.Event() for _ in todo]

        async def run(i: int, prepared: Prepared) -> None:
            async with semaphore:
                try:
                    if not self._cancelled(prepared.document.source, report):
                        await self._process(prepared, report, bars, turns[i - 1] if i else None)
                finally:
                    turns[i].set()

        try:
            await asyncio.gather(*(run(i, p) for i, p in enumerate(todo)))
            graph_started = time.time()
            with self.monitor.measure("ingest.graph_embeddings"):
                await self.sync_graph_vectors(bars)
        finally:
            bars.close()
        if self._graph_embed_seconds:
            report.stage_seconds["graph_embeddings"] = self._graph_embed_seconds
            report.stage_spans.append(("graph_embeddings", graph_started, time.time()))
        report.excerpts = len(self.index.excerpts)
        report.entities = self.index.graph.number_of_nodes()
        report.relationships = self.index.graph.number_of_edges()
        after = self._call_counts()
        report.provider_calls = {k: after[k] - before.get(k, 0) for k in after}

    def _plan(
        self, documents: list[Document], report: IngestReport, presplit: dict[str, list[str]]
    ) -> list[Prepared]:
        """The documents whose content changed, split into excerpts; the others reported
        unchanged.
        """
        todo: list[Prepared] = []
        for doc in documents:
            digest = content_hash(doc.text)
            known = self.index.sources.get(doc.source)
            if known and self.index.documents.get(known, {}).get("hash") == digest:
                report.unchanged.append(doc.source)
                continue
            started = time.perf_counter()
            excerpts = presplit.get(doc.source)
            if excerpts is None:
                excerpts = self.chunker.split(doc.text)
            todo.append(Prepared(doc, make_doc_id(doc.source, digest), digest, excerpts))
            report.stage_seconds["chunking"] += time.perf_counter() - started
        return todo

    def _stages(self) -> tuple[str, ...]:
        if self.settings.call_unit == "group":
            return ("grouped_calls", "embeddings")
        return ("summaries", "embeddings", "extraction")[: 3 if self.settings.build_graph else 2]

    async def _process(
        self,
        prepared: Prepared,
        report: IngestReport,
        bars: IngestProgress,
        previous: asyncio.Event | None = None,
    ) -> None:
        source = prepared.document.source
        try:
            if self.settings.call_unit == "group":
                await self._stage("grouped_calls", prepared, report, bars, self._grouped_calls)
            else:
                await self._stage("summaries", prepared, report, bars, self._summarise)
            await self._stage("embeddings", prepared, report, bars, self._embed)
            if self.settings.call_unit != "group" and self.settings.build_graph:
                await self._stage("extraction", prepared, report, bars, self._extract)
            if previous is not None:
                await previous.wait()
            if self._cancelled(source, report):
                return
            async with self._commit_lock:
                was_known = self.index.sources.get(source) is not None
                await self._stage("commit", prepared, report, None, self._commit)
            (report.updated if was_known else report.added).append(source)
            quality = sum((Counter(e.quality) for e in prepared.extractions), Counter())
            if prepared.repeated_summaries:
                quality["repeated_summary"] += prepared.repeated_summaries
            if quality:
                report.extraction_quality[source] = dict(quality)
        except StageError as exc:
            report.failed.append({"source": source, "stage": exc.stage, "error": str(exc.error)})

    async def _stage(
        self,
        name: str,
        prepared: Prepared,
        report: IngestReport,
        bars: IngestProgress | None,
        fn: Callable[[Prepared], Awaitable[None]],
    ) -> None:
        started, wall_start = time.perf_counter(), time.time()
        try:
            with self.monitor.measure(f"ingest.{name}"):
                await fn(prepared)
        except Exception as exc:  # any failure is reported with its document and stage
            raise StageError(prepared.document.source, name, exc) from exc
        finally:
            report.stage_seconds[name] += time.perf_counter() - started
            report.stage_spans.append((name, wall_start, time.time()))
        if bars:
            bars[name].update(len(prepared.excerpts))

    def _cancelled(self, source: str, report: IngestReport) -> bool:
        """After ``cancel`` is set, documents not yet committed are left as if never started."""
        if self.cancel.is_set():
            report.skipped.append({"source": source, "reason": "cancelled before commit"})
        return self.cancel.is_set()

    async def _limited(self, coro: Awaitable[T]) -> T:
        async with self._calls:
            return await coro

    async def _summarise(self, p: Prepared) -> None:
        tasks = self.providers.tasks
        summaries = await asyncio.gather(
            *(self._limited(tasks.summarize(p.document.text, e)) for e in p.excerpts)
        )
        self._keep_summaries(p, summaries)

    def _keep_summaries(self, p: Prepared, summaries: Sequence[str]) -> None:
        """A model's summaries, those it gave several excerpts alike replaced by local ones."""
        if not self.providers.tasks.summaries_from_model:
            p.summaries = list(summaries)
            return
        p.summaries, p.repeated_summaries = distinct_summaries(
            p.document.text, p.excerpts, summaries
        )

    async def _embed(self, p: Prepared) -> None:
        with_summary = self.settings.embed_summary
        texts = [
            excerpt_search_text(e, s, with_summary)
            for e, s in zip(p.excerpts, p.summaries, strict=True)
        ]
        p.vectors = await self.providers.embedder.aembed(texts)

    async def _grouped_calls(self, p: Prepared) -> None:
        """Summaries and extractions from one call per group of neighbouring excerpts."""
        s, counter = self.settings, self.chunker.counter
        context = document_context(p.document.text, s.document_context_tokens, counter)
        groups = group_excerpts(counter.count_many(p.excerpts), s.group_tokens)
        tasks = self.providers.tasks
        results = await asyncio.gather(
            *(
                self._limited(
                    tasks.process_group(p.document.text, context, [p.excerpts[i] for i in group])
                )
                for group in groups
            )
        )
        pairs = [pair for result in results for pair in result]
        self._keep_summaries(p, [summary for summary, _ in pairs])
        p.extractions = [extraction for _, extraction in pairs] if self.settings.build_graph else []

    async def _extract(self, p: Prepared) -> None:
        tasks = self.providers.tasks
        p.extractions = list(
            await asyncio.gather(*(self._limited(tasks.extract(e)) for e in p.excerpts))
        )

    def _call_counts(self) -> dict[str, int]:
        return {kind: stats["calls"] for kind, stats in self.providers.stats().items()}

    # Commit and delete ----------------------------------------------------------------------
    async def _commit(self, p: Prepared) -> None:
        self._follow(commit_document(self.index, self.settings, self.chunker.counter, p))

    def _follow(self, touched: Touched) -> None:
        """Queue the graph items a commit changed for the end-of-run vector sync."""
        self._pending.entities |= touched.entities
        self._pending.relationships |= touched.relationships

    async def sync_graph_vectors(self, bars: IngestProgress | None = None) -> None:
        """Bring the entity and relationship vectors of everything the run touched in line with the
        graph, in one batch of embedding requests for the whole run instead of a few per document
        under the commit lock. Until then (or after a crash, until repair) new graph items are in
        the graph but not yet found by vector search; the version bump after them keeps an answer
        built in between out of the query cache's later keys.
        """
        pending, self._pending = self._pending, Touched()
        started = time.perf_counter()
        done = await sync_graph_vectors(
            self.index,
            self.settings,
            bars.graph_embedder(self.providers.embedder) if bars else self.providers.embedder,
            pending.entities,
            pending.relationships,
        )
        if any(done.values()):
            self.index.bump_version()
        self._graph_embed_seconds += time.perf_counter() - started

    async def _delete(self, source: str, report: IngestReport) -> None:
        doc_id = self.index.sources.get(source)
        if doc_id is None:
            return
        async with self._commit_lock:
            self._follow(delete_document(self.index, doc_id, source))
        report.removed.append(source)
