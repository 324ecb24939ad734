"""Where ingestion's CPU-bound work runs: reading, chunking, the local embedder and the local
(model-free) summary and extraction tasks. ``inline`` keeps it in this process (threads); any
``concurrent.futures.Executor`` can take it instead: a process pool on one machine, or Dask's
(``Client(...).get_executor()``) across many. Model-endpoint calls stay async in this process.

Work is sent as module-level functions of plain arguments, so it pickles; each worker process
loads the embedding model once and keeps it.
"""

from __future__ import annotations

import ast
import logging
import multiprocessing
import os
import sys
import threading
import types
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..settings import Settings
from .discovery import Document, Skipped, read_document

log = logging.getLogger(__name__)


class ProcessPool(Executor):
    """A process pool of ``workers`` (spawned, not forked: the parent runs an event-loop thread and
    ONNX Runtime threads), started on the first task, so an ingestion that never has enough work for
    it (one note, a small edit) pays nothing for spawning workers and loading the model in each.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn")
                )
        return self._pool.submit(fn, *args, **kwargs)

    @property
    def started(self) -> bool:
        return self._pool is not None

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
                self._pool = None


def make_executor(settings: Settings) -> tuple[Executor | None, Any]:
    """(the executor ``settings.ingest_executor`` names, or None for inline; an object to close with
    it). ``auto`` is a process pool on a machine with two or more cores, else inline.
    """
    cores = os.cpu_count() or 1
    workers = settings.ingest_workers or cores
    if settings.ingest_executor == "process" or (settings.ingest_executor == "auto" and cores > 1):
        if (line := unguarded_main_line()) is not None:
            log.warning(
                '%s:%d starts ingestion outside `if __name__ == "__main__":`, so process-pool '
                "workers would run the script again: ingesting inline instead (put the call under "
                "that guard to use %d worker processes)",
                sys.modules["__main__"].__file__,
                line,
                workers,
            )
            return None, None
        return ProcessPool(workers), None
    if settings.ingest_executor == "dask":
        from distributed import Client, LocalCluster

        if settings.dask_scheduler:
            client = Client(settings.dask_scheduler)
            return client.get_executor(), client
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            processes=True,
        )
        client = Client(cluster)
        return client.get_executor(), (client, cluster)
    return None, None


def unguarded_main_line() -> int | None:
    """The line of the running ``__main__`` script that is executing its top level outside an
    ``if __name__ == "__main__":`` block, or None (no script, a notebook, or a guarded call).

    Spawned workers (and forkserver ones) import the main script again to unpickle its functions;
    a call at its top level then runs again in every worker. Found from the stack: the script's
    module-level frame, and whether its current line lies inside such a guard.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not path.endswith(".py"):
        return None
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            break
        frame = frame.f_back
    if frame is None or os.path.abspath(frame.f_code.co_filename) != os.path.abspath(path):
        return None
    line = frame.f_lineno
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    guarded = any(
        isinstance(node, ast.If)
        and _is_main_test(node.test)
        and node.lineno <= line <= (node.end_lineno or node.lineno)
        for node in tree.body
    )
    return None if guarded else line


def _is_main_test(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    sides = [test.left, *test.comparators]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    texts = [s.value for s in sides if isinstance(s, ast.Constant)]
    return isinstance(test.ops[0], ast.Eq) and names == ["__name__"] and texts == ["__main__"]


def worker_threads(executor: Executor, threads: int) -> int:
    """ONNX threads per worker: the setting if given; for a pool on this machine its share of the
    cores (two workers with a thread per core each would fight over them); else the worker's own
    core count.
    """
    if threads or not isinstance(executor, ProcessPool):
        return threads
    return max(1, (os.cpu_count() or 1) // executor.workers)


def close_executor(executor: Executor | None, owner: Any) -> None:
    if executor is not None and owner is None:
        executor.shutdown(wait=True, cancel_futures=True)
    for part in owner if isinstance(owner, tuple) else (owner,):
        if part is not None:
            part.close()


def read_and_split(
    path: Path, max_bytes: int, chunking: tuple
) -> tuple[Document | Skipped, list[str]]:
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
