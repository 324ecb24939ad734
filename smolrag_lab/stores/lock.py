"""One writer per data directory: an advisory ``flock`` on ``write.lock``, which the OS releases
when the holder dies (even by SIGKILL), so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path


class IndexLockedError(RuntimeError):
    """Another process, another engine or another thread is writing to the data directory."""


class WriterLock:
    """One writer per data directory: an exclusive ``flock`` on ``DATA_DIR/write.lock``, re-entrant
    for the thread holding it (another thread of the same process waits like another process would);
    the OS drops it when the holder dies. Subclasses lock something else (see
    :class:`~smolrag_lab.stores.postgres.PostgresWriterLock`) by overriding ``_take`` and ``_drop``.
    """

    def __init__(self, data_dir: str | Path, timeout_s: float = 0.0) -> None:
        self.path = Path(data_dir) / "write.lock"
        self._fd: int | None = None
        self._init_state(str(self.path.parent), timeout_s)

    def _init_state(self, where: str, timeout_s: float) -> None:
        """What every lock keeps: what it guards (for messages), how long to wait, re-entrancy."""
        self.where, self.timeout_s = where, timeout_s
        self._depth = 0
        self._owner: int | None = None  # the thread holding the lock
        self._guard = threading.RLock()

    def holder(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip() or "unknown"
        except OSError:
            return "unknown"

    def _take(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
        self._fd = fd
        return True

    def _drop(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; True if this thread now holds it (re-entrant)."""
        me = threading.get_ident()
        with self._guard:
            if self._depth:
                if self._owner != me:
                    return False
                self._depth += 1
                return True
            if not self._take():
                return False
            self._depth, self._owner = 1, me
            return True

    def held(self) -> bool:
        """Whether the calling thread holds the lock."""
        return bool(self._depth) and self._owner == threading.get_ident()

    def acquire(self) -> None:
        """Wait up to ``timeout_s`` for the lock, then fail naming the holder."""
        deadline = time.monotonic() + self.timeout_s
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise IndexLockedError(
                    f"{self.where} is being written by another ingestion ({self.holder()}); "
                    f"waited {self.timeout_s:g} s. "
                    "Wait for it to finish or raise write_lock_timeout_s."
                )
            time.sleep(0.05)

    def release(self) -> None:
        with self._guard:
            if not self._depth or self._owner != threading.get_ident():
                return
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._drop()

    def close(self) -> None:
        """Let go of the lock however often it was taken."""
        with self._guard:
            if self._depth:
                self._depth, self._owner = 0, None
                self._drop()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
