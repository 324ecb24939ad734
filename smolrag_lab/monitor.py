"""Performance monitoring: wall time, CPU time, memory and provider calls/tokens per operation, and
size-capped rotating log files.

``PerformanceMonitor.measure("name")`` is a context manager and ``PerformanceMonitor.track("name")``
a decorator (sync or async). The engine records every ingestion stage (``ingest.<stage>``) and every
query (``query.<mode>``); ``summary()`` aggregates them, ``frame()`` gives a pandas table. CPU time
is the process's, so operations that overlap in time (concurrent stages) share it.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import inspect
import logging
import logging.handlers
import resource
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAX_RECORDS = 20_000  # the oldest records are dropped past this, so a long-lived engine stays flat


def rss_mb() -> float:
    """Resident set size now (Linux /proc; the peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class OperationRecord:
    name: str
    wall_s: float
    cpu_s: float
    rss_mb: float  # at the end of the operation
    peak_rss_mb: float  # process peak so far
    provider_calls: int
    prompt_tokens: int
    completion_tokens: int
    ok: bool


class PerformanceMonitor:
    def __init__(
        self, provider_stats: Callable[[], dict[str, dict[str, Any]]] | None = None
    ) -> None:
        self._provider_stats = provider_stats
        self.records: collections.deque[OperationRecord] = collections.deque(maxlen=MAX_RECORDS)
        self._lock = threading.Lock()

    def _provider_totals(self) -> tuple[int, int, int]:
        if self._provider_stats is None:
            return 0, 0, 0
        stats = self._provider_stats().values()
        return (
            sum(s.get("calls", 0) for s in stats),
            sum(s.get("prompt_tokens", 0) for s in stats),
            sum(s.get("completion_tokens", 0) for s in stats),
        )

    @contextlib.contextmanager
    def measure(self, name: str) -> Iterator[None]:
        wall, cpu, before = time.perf_counter(), time.process_time(), self._provider_totals()
        ok = False
        try:
            yield
            ok = True
        finally:
            after = self._provider_totals()
            record = OperationRecord(
                name,
                time.perf_counter() - wall,
                time.process_time() - cpu,
                rss_mb(),
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                after[0] - before[0],
                after[1] - before[1],
                after[2] - before[2],
                ok,
            )
            with self._lock:
                self.records.append(record)

    def track(self, name: str | None = None) -> Callable:
        """Decorator form of :meth:`measure`; works on plain and async functions."""

        def decorate(fn: Callable) -> Callable:
            label = name or fn.__qualname__
            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    with self.measure(label):
                        return await fn(*args, **kwargs)

                return async_wrapper

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self.measure(label):
                    return fn(*args, **kwargs)

            return wrapper

        return decorate

    def summary(self) -> dict[str, dict[str, float]]:
        """Per operation name: count, errors, wall p50/p95/total, CPU total, peak RSS, calls and
        tokens.
        """
        with self._lock:
            records = list(self.records)
        groups: dict[str, list[OperationRecord]] = collections.defaultdict(list)
        for record in records:
            groups[record.name].append(record)
        out = {}
        for name, items in sorted(groups.items()):
            walls = np.array([r.wall_s for r in items]) * 1000
            out[name] = {
                "count": len(items),
                "errors": sum(not r.ok for r in items),
                "wall_ms_p50": round(float(np.percentile(walls, 50)), 3),
                "wall_ms_p95": round(float(np.percentile(walls, 95)), 3),
                "wall_s_total": round(float(walls.sum()) / 1000, 3),
                "cpu_s_total": round(sum(r.cpu_s for r in items), 3),
                "peak_rss_mb": round(max(r.peak_rss_mb for r in items), 1),
                "provider_calls": sum(r.provider_calls for r in items),
                "prompt_tokens": sum(r.prompt_tokens for r in items),
                "completion_tokens": sum(r.completion_tokens for r in items),
            }
        return out

    def frame(self) -> Any:
        """Every record as a pandas DataFrame (needs pandas, from the ``lab`` extra)."""
        import pandas as pd

        with self._lock:
            return pd.DataFrame([asdict(r) for r in self.records])

    def clear(self) -> None:
        with self._lock:
            self.records.clear()


_handlers: dict[Path, list] = {}  # path -> [handler, engines using it]
_handlers_lock = threading.Lock()


def configure_file_logging(path: Path, level: str, max_bytes: int, backups: int) -> logging.Handler:
    """Send the package's logs to ``path``, rotated at ``max_bytes`` with ``backups`` old files
    kept; one handler per file however many engines open it (see :func:`release_file_logging`).
    """
    path = path.resolve()
    with _handlers_lock:
        if path not in _handlers:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
            )
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
            logging.getLogger("smolrag_lab").addHandler(handler)
            _handlers[path] = [handler, 0]
        entry = _handlers[path]
        entry[0].setLevel(level)
        entry[1] += 1
        return entry[0]


def open_logging(settings: Any) -> logging.Handler | None:
    """Set the package's log level from ``settings`` and, with ``log_to_file``, log to the data
    directory's ``logs/smolrag_lab.log``; returns the file handler to release on close.
    """
    logging.getLogger("smolrag_lab").setLevel(settings.log_level)
    if not settings.log_to_file:
        return None
    return configure_file_logging(
        settings.data_dir / "logs" / "smolrag_lab.log",
        settings.log_level,
        settings.log_max_bytes,
        settings.log_backups,
    )


def release_file_logging(handler: logging.Handler) -> None:
    """The engine that configured ``handler`` is closing; the last one out removes it."""
    with _handlers_lock:
        for path, entry in list(_handlers.items()):
            if entry[0] is handler:
                entry[1] -= 1
                if entry[1] <= 0:
                    logging.getLogger("smolrag_lab").removeHandler(handler)
                    handler.close()
                    del _handlers[path]
