"""Where ingestion's CPU-bound work runs: reading, chunking, the local embedder and the local
(model-free) summary and extraction tasks. ``inline`` keeps it in this process (threads); any
``concurrent.futures.Executor`` can take it instead: a process pool on one machine, or Dask's
(``Client(...).get_executor()``) across many. Model-endpoint calls stay async in this process.

Work is sent as module-level functions of plain arguments, so it pickles; each worker process
loads the embedding model once and keeps it.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..settings import Settings
from .discovery import Document, Skipped, read_document


def make_executor(settings: Settings) -> tuple[Executor | None, Any]:
    """(the executor ``settings.ingest_executor`` names, or None for inline; an object to close with it)."""
    workers = settings.ingest_workers or os.cpu_count() or 1
    if settings.ingest_executor == "process":
        # spawn, not fork: this process runs an event-loop thread and ONNX Runtime threads
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")), None
    if settings.ingest_executor == "dask":
        from distributed import Client, LocalCluster

        if settings.dask_scheduler:
            client = Client(settings.dask_scheduler)
            return client.get_executor(), client
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                               processes=True)
        client = Client(cluster)
        return client.get_executor(), (client, cluster)
    return None, None


def close_executor(executor: Executor | None, owner: Any) -> None:
    if executor is not None and owner is None:
        executor.shutdown(wait=True, cancel_futures=True)
    for part in (owner if isinstance(owner, tuple) else (owner,)):
        if part is not None:
            part.close()


def read_and_split(path: Path, max_bytes: int, chunking: tuple) -> tuple[Document | Skipped, list[str]]:
    """Read one file and cut it into excerpts (``chunking``: encoding, size, overlap, strategy)."""
    read = read_document(path, max_bytes)
    return read, ([] if isinstance(read, Skipped) else split(read.text, chunking))


def split(text: str, chunking: tuple) -> list[str]:
    return _chunker(chunking).split(text)


_CHUNKERS: dict[tuple, Any] = {}


def _chunker(chunking: tuple) -> Any:
    if chunking not in _CHUNKERS:
        from ..tokens import TokenCounter
        from .chunking import Chunker

        encoding, size, overlap, strategy = chunking
        _CHUNKERS[chunking] = Chunker(TokenCounter(encoding), size, overlap, strategy)
    return _CHUNKERS[chunking]


def embed_local(texts: list[str], batch_size: int, threads: int) -> np.ndarray:
    from ..providers.local_embedder import LocalEmbedder

    return LocalEmbedder(batch_size=batch_size, threads=threads).embed(texts)


def summarize_local(document: str, excerpt: str) -> str:
    from ..providers.local_tasks import summarize

    return summarize(document, excerpt)


def extract_local(excerpt: str) -> Any:
    from ..providers.local_tasks import extract

    return extract(excerpt)
