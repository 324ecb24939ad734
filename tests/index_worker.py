"""A separate process working on an index, for the multi-process tests (tests/test_shared_index.py).

usage: index_worker.py DATA_DIR DSN|- WORKSPACE ACTION ARGS...
  ingest SOURCE TEXT [HOLD_UNTIL_FILE]  ingest a text; with HOLD_UNTIL_FILE, keep the writer lock
                                        (inside the commit) until that file exists
  try-lock FLAG_FILE                    say whether the writer lock was free, then create FLAG_FILE
  delete SOURCE                         remove a document
  query MODE TEXT                       retrieve, with the query cache on
Prints one JSON line with the outcome.
"""

import json
import sys
import time
from pathlib import Path

from smolrag_lab import Settings, SmolRag


def engine(data_dir: str, dsn: str, workspace: str) -> SmolRag:
    extra = {"database_url": dsn, "workspace": workspace} if dsn != "-" else {}
    return SmolRag(
        Settings(data_dir=data_dir, log_to_file=False, write_lock_timeout_s=300, **extra)
    )


def hold_in_commit(rag: SmolRag, until: Path) -> None:
    """Make the commit wait (writer lock held, marker set) until ``until`` exists."""
    original = rag.ingestor._commit

    async def commit(prepared):
        print(json.dumps({"holding": True}), flush=True)
        deadline = time.monotonic() + 300
        while not until.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        await original(prepared)

    rag.ingestor._commit = commit


def main() -> None:
    data_dir, dsn, workspace, action, *args = sys.argv[1:]
    with engine(data_dir, dsn, workspace) as rag:
        if action == "ingest":
            if len(args) > 2:
                hold_in_commit(rag, Path(args[2]))
            report = rag.ingest_text(args[1], args[0])
            out = {"added": report.added, "updated": report.updated, "failed": report.failed}
        elif action == "try-lock":
            free = rag.writer_lock.try_acquire()
            if free:
                rag.writer_lock.release()
            Path(args[0]).touch()
            out = {"free": free}
        elif action == "delete":
            out = {"deleted": rag.delete(args[0])}
        else:
            result = rag.retrieve(args[1], args[0])
            out = {
                "cached": result.cached,
                "entities": [e["key"] for e in result.entities],
                "sources": [s.excerpt_id for s in result.sources],
            }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
