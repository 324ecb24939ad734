"""``SmolRag``: the one public facade over ingestion, retrieval and answers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .aio import run_sync
from .index import Index
from .index_settings import reconcile, record_of, record_on_write
from .ingest import consistency
from .ingest.consistency import CheckReport
from .ingest.discovery import Document
from .ingest.executors import close_executor, make_executor
from .ingest.pipeline import Ingestor
from .ingest.rebuild import rebuild as rebuild_index
from .ingest.report import IngestReport
from .monitor import PerformanceMonitor, open_logging, release_file_logging
from .providers import Providers
from .query import context as context_builder
from .query import planner, retrieval
from .query.cache import QueryCache
from .query.citations import check_citations
from .query.derived import DerivedStructures
from .query.result import QueryResult
from .settings import Settings
from .stores.graph import GraphView
from .text import reject_lone_surrogates
from .tokens import TokenCounter

log = logging.getLogger(__name__)


def _private_files(data_dir: Path) -> None:
    """The index holds the documents' text and the caches hold model answers: everything this
    process creates from here on (stores, vector files, caches, logs) is readable by its user only.
    The umask is the process's, so a file no store opens explicitly is covered too.
    """
    os.umask(os.umask(0o077) | 0o077)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)


class SmolRag:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        recover: bool = True,
        executor: Any = None,
        rebuild: bool = False,
        **overrides: Any,
    ) -> None:
        """Open (or create) the index in ``settings.data_dir``. With ``recover`` (the default) an
        index left half-written by an interrupted run is repaired first; ``recover=False`` opens it
        as found. ``executor`` (any ``concurrent.futures.Executor``) runs ingestion's CPU-bound
        work; by default ``settings.ingest_executor`` says where (created on the first ingestion).
        An index recorded with other ``index`` settings raises :class:`.IndexSettingsMismatch`,
        unless ``rebuild``: then it is rebuilt under these settings (:meth:`rebuild`; report in
        ``self.rebuilt``).
        """
        base = settings or Settings.load()
        self.settings = base.replace(**overrides) if overrides else base
        _private_files(self.settings.data_dir)
        self._log_handler = open_logging(self.settings)
        self.providers = Providers(self.settings)
        self.monitor = PerformanceMonitor(self.providers.stats)
        self.index = Index(
            self.settings.data_dir,
            self.providers.embedder.dim,
            ann=self.settings.ann_config,
            vector_dtype=self.settings.vector_storage,
            postgres=self.settings.postgres_options,
        )
        self.ingestor = Ingestor(self.index, self.providers, self.settings, self.monitor)
        self.writer_lock = self.index.writer_lock(self.settings.write_lock_timeout_s)
        self.tokens = TokenCounter(self.settings.tokenizer_encoding)
        self.query_cache = QueryCache(
            self.index.query_cache, self.providers.tasks.backend, self.providers.embedder.name
        )
        self.derived = DerivedStructures(self.index)
        self._executor, self._executor_owner, self._owns_executor = executor, None, False
        if executor is not None:
            self._use_executor(executor)
        self.record = record_of(self.settings, self.providers.embedder.dim)
        self.rebuilt: IngestReport | None = self._settle(recover, rebuild)

    def _settle(self, recover: bool, rebuild: bool) -> IngestReport | None:
        """Check the recorded index settings, repair an interrupted write and rebuild when asked;
        the engine is closed again if any of it fails.
        """
        try:
            action = reconcile(self.index, self.record, self._where(), rebuild)
            if recover:
                self._recover_if_interrupted()
            return self.rebuild() if action == "rebuild" else None
        except BaseException:
            self.close()
            raise

    def _where(self) -> str:
        s = self.settings
        return f"workspace {s.index_workspace}" if s.database_url else str(s.data_dir)

    def graph(self) -> Any:
        """The committed knowledge graph as a networkx graph, current as of this call (a view of the
        stored rows: read it, never change it).
        """
        return self.index.graph_view().graph

    def query_graph(self, s: Settings | None = None, view: GraphView | None = None) -> Any:
        """The graph retrieval sees: the stored graph, or its pruned copy when pruning is set."""
        return self.derived.query_graph(view or self.index.graph_view(), s or self.settings)

    def plan(self, text: str, view: GraphView | None = None) -> planner.Plan:
        """The mode the ``auto`` query type picks for ``text``, and why."""
        return planner.choose_mode(text, self.derived.names(view or self.index.graph_view()))

    # Consistency --------------------------------------------------------------------------
    def _recover_if_interrupted(self) -> None:
        """Repair what an interrupted writer left behind, unless another writer is at work now."""
        if not self.index.meta.get("writing"):
            return
        if not self.writer_lock.try_acquire():
            log.info("an ingestion is running in another process: opening its last committed state")
            return
        try:
            log.warning(
                "the last ingestion was interrupted: re-deriving vectors and graph from the records"
            )
            self.repair()
        finally:
            self.writer_lock.release()

    def check(self) -> CheckReport:
        """Are the records, vectors and graph mutually consistent? (Nothing is changed.)"""
        return consistency.check(self.index, self.settings)

    def repair(self) -> dict[str, int]:
        """Re-derive vectors and graph from the records (only embeddings are computed); what was
        done.
        """
        with self.writer_lock:
            done = consistency.repair(self.index, self.settings, self.providers.embedder)
        self.derived.forget()
        return done

    @contextlib.contextmanager
    def _writing(self, record: bool = True) -> Iterator[None]:
        """Hold the index's writer lock (one write at a time across threads and processes), with a
        marker from before the first change to after the last derived vector, which survives a crash
        so the next writer (or the next engine opened on the index) repairs what was left half-done.
        With ``record``, the settings are recorded (or checked against another process's record)
        first.
        """
        with self.writer_lock:
            if record:
                record_on_write(self.index, self.record, self._where())
            if self.index.meta.get("writing"):
                self.repair()
            self.index.meta.set("writing", {"pid": os.getpid(), "since": time.time()})
            yield
            self.index.flush()
            self.index.meta.delete(["writing"])

    # Ingestion ----------------------------------------------------------------------------
    def _use_executor(self, executor: Any, embedding_only: bool = False) -> None:
        """Send ingestion's CPU-bound work to ``executor``; with ``embedding_only`` just the local
        embedder's large batches (reading, chunking and the local tasks take milliseconds a
        document, less than shipping them to another process costs).
        """
        # Duck-typed: the local embedder and local tasks take an executor, other backends do not.
        embedder: Any = getattr(self.providers.embedder, "inner", self.providers.embedder)
        tasks: Any = self.providers.tasks
        if embedder.backend == "local":
            embedder.executor = executor
            if embedding_only:
                embedder.executor_min_texts = self.settings.process_pool_min_texts
        if not embedding_only:
            self.ingestor.executor = executor
            if tasks.backend == "local":
                tasks.executor = executor

    def _ensure_executor(self) -> None:
        if self._executor is None and self.settings.ingest_executor != "inline":
            self._executor, self._executor_owner = make_executor(self.settings)
            self._owns_executor = True
            self._use_executor(
                self._executor, embedding_only=self.settings.ingest_executor == "auto"
            )

    def ingest(
        self,
        paths: str | Path | Iterable[str | Path],
        progress: bool = True,
        confine_to: str | Path | None = None,
    ) -> IngestReport:
        """Ingest files and folders. With ``confine_to`` (a server's documents root), files reached
        through a symlink that leaves that folder are skipped.
        """
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        root = Path(confine_to).expanduser().resolve() if confine_to is not None else None
        self._ensure_executor()
        with self._writing(), self.monitor.measure("ingest"):
            return run_sync(self.ingestor.ingest_paths(paths, progress, root))

    def rebuild(self) -> IngestReport:
        """Re-process every recorded document (read again from its file) under this engine's
        settings, reusing the provider caches, and record those settings: the index a fresh
        ingestion of the same files gives. An interrupted rebuild is resumed.
        """
        self._ensure_executor()
        with self._writing(record=False), self.monitor.measure("rebuild"):
            report = run_sync(rebuild_index(self.index, self.ingestor, self.record))
        self.derived.forget()
        return report

    def ingest_text(self, text: str, source: str) -> IngestReport:
        if not text.strip():
            raise ValueError(f"{source}: empty text is not ingested")
        if "\x00" in text:
            raise ValueError(f"{source}: text with NUL characters is not ingested (binary content)")
        reject_lone_surrogates(text, source)
        with self._writing():
            return run_sync(self.ingestor.ingest_documents([Document(source, text)]))

    def delete(self, source: str | Path) -> bool:
        """Remove a document and everything only it contributed. False if it was not indexed."""
        key = str(source)
        if self.index.sources.get(key) is None and Path(key).expanduser().exists():
            key = str(Path(key).expanduser().resolve())
        with self._writing():
            return run_sync(self.ingestor.delete(key))

    # Queries ------------------------------------------------------------------------------
    def query(self, text: str, mode: str = "standard", **overrides: Any) -> QueryResult:
        return run_sync(self.aquery(text, mode, answer=True, **overrides))

    def retrieve(self, text: str, mode: str = "standard", **overrides: Any) -> QueryResult:
        return run_sync(self.aquery(text, mode, answer=False, **overrides))

    async def aquery(
        self, text: str, mode: str = "standard", answer: bool = True, **overrides: Any
    ) -> QueryResult:
        mode = mode.strip().lower()
        if mode not in planner.QUERY_TYPES:
            raise ValueError(
                f"unknown mode {mode!r}; choose one of: {', '.join(planner.QUERY_TYPES)}"
            )
        with self.monitor.measure(f"query.{mode}"):
            return await self._aquery(text, mode, answer, overrides)

    async def _aquery(
        self, text: str, mode: str, answer: bool, overrides: dict[str, Any]
    ) -> QueryResult:
        if not text.strip():
            raise ValueError("the question is empty")
        reject_lone_surrogates(text, "the question")
        settings = self.settings.for_query(**overrides)
        with self.index.reading_graph() as view:  # the answer is built from this version
            key = self.query_cache.key(text, mode, answer, settings, view.version)
            if settings.query_cache and (hit := self.query_cache.get(key)):
                return hit
            plan = self.plan(text, view) if mode == "auto" else planner.Plan(mode)
            result = await self._run_query(text, plan.mode, answer, settings, view)
        result.plan = plan.reason
        if settings.query_cache:
            self.query_cache.remember(key, result, settings.query_cache_max_entries)
        return result

    async def _run_query(
        self, text: str, mode: str, answer: bool, s: Settings, view: GraphView
    ) -> QueryResult:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        retrieved = await self._retrieve(text, mode, s, timings, view)
        t0 = time.perf_counter()
        ctx = await asyncio.to_thread(
            context_builder.build, retrieved, s, self.tokens
        )  # off the event loop
        timings["context_ms"] = 1000 * (time.perf_counter() - t0)
        timings["retrieval_ms"] = 1000 * (time.perf_counter() - started)
        reply = ""
        if answer:
            t0 = time.perf_counter()
            reply = await self.providers.tasks.answer(
                text, ctx.text, [src.text for src in ctx.sources], mode
            )
            timings["answer_ms"] = 1000 * (time.perf_counter() - t0)
        timings["total_ms"] = 1000 * (time.perf_counter() - started)
        keywords = dataclasses.asdict(retrieved.keywords) if retrieved.keywords else {}
        cited = check_citations(reply, len(ctx.sources)) if answer else None
        return QueryResult(
            text,
            mode,
            reply,
            ctx.text,
            ctx.sources,
            ctx.entities,
            ctx.relationships,
            keywords,
            ctx.token_counts,
            {k: round(v, 3) for k, v in timings.items()},
            citations_ok=cited.ok if cited else None,
            uncited_sentences=cited.uncited if cited else [],
        )

    async def _retrieve(
        self, text: str, mode: str, s: Settings, timings: dict[str, float], view: GraphView
    ) -> retrieval.Retrieved:
        embedder = self.providers.embedder
        keywords = None
        texts = [text] if mode in ("standard", "mix") else []
        if mode != "standard":
            t0 = time.perf_counter()
            keywords = await self.providers.tasks.keywords(text)
            timings["keywords_ms"] = 1000 * (time.perf_counter() - t0)
            texts += list(retrieval.keyword_texts(keywords, text))
        t0 = time.perf_counter()
        vectors = dict(
            zip(
                ["query"] * (mode in ("standard", "mix")) + ["low", "high"] * (mode != "standard"),
                await embedder.aembed(texts),
                strict=True,
            )
        )
        timings["embed_ms"] = 1000 * (time.perf_counter() - t0)
        t0 = time.perf_counter()
        lexical = (
            self.derived.lexical(s.lexical_summary)
            if s.fusion != "none" and mode in ("standard", "mix")
            else None
        )
        linker = self.derived.linker(view) if mode == "mix" and s.mix_graph == "rerank" else None
        result = await planner.search(
            self.index, view, self.query_graph(s, view), mode, vectors, s, text, lexical, linker
        )
        result.mode, result.keywords = mode, keywords
        timings["search_ms"] = 1000 * (time.perf_counter() - t0)
        return result

    # Introspection ------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        index = self.index
        return {
            "documents": len(index.documents),
            "excerpts": len(index.excerpts),
            "entities": index.graph.number_of_nodes(),
            "relationships": index.graph.number_of_edges(),
            "vectors": {
                "excerpts": len(index.excerpt_vectors),
                "entities": len(index.entity_vectors),
                "relationships": len(index.relationship_vectors),
            },
            "disk_bytes": index.sizes(),
            "index_version": index.version,
            "providers": self.providers.stats(),
            "data_dir": str(self.settings.data_dir),
            "completion_backend": self.providers.tasks.backend,
            "embedder": self.providers.embedder.name,
        }

    def close(self) -> None:
        if self._owns_executor:
            close_executor(self._executor, self._executor_owner)
        if self._log_handler is not None:
            release_file_logging(self._log_handler)
            self._log_handler = None
        self.index.close()
        self.writer_lock.close()
        if self.providers.cache_db is not None:
            self.providers.cache_db.close()

    def __enter__(self) -> SmolRag:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
