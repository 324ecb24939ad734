"""Re-runs: ingest a corpus of many small documents once, then again unchanged (target: zero
provider calls, under 5 s for 10,000 documents), offline.

usage: python -m benchmarks.reruns [--documents 10000] [--out FILE]
The cost of a one-paragraph edit with a model endpoint is measured by benchmarks.ingest_cost.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks._results import default_out, publish
from smolrag_lab import Settings, SmolRag


def write_notes(folder: Path, count: int) -> Path:
    """``count`` one-line documents (also used by the 10,000-file test)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"note {i:05d}.txt").write_text(
            f"Note {i}: the Sensor{i % 50} reports to Hub{i % 7}."
        )
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--out", default=default_out("reruns"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smolrag-reruns-"))
    corpus = write_notes(work / "corpus", args.documents)
    try:
        with SmolRag(Settings(data_dir=work / "data", log_to_file=False)) as rag:
            started = time.perf_counter()
            first = rag.ingest(corpus, progress=False)
            first_s = time.perf_counter() - started
            started = time.perf_counter()
            again = rag.ingest(corpus, progress=False)
            again_s = time.perf_counter() - started
        result = {
            "documents": args.documents,
            "first_ingest_s": round(first_s, 1),
            "added": len(first.added),
            "rerun_s": round(again_s, 2),
            "rerun_unchanged": len(again.unchanged),
            "rerun_provider_calls": sum(again.provider_calls.values()),
            "target_rerun_s": 5.0,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    publish(result, args.out)


if __name__ == "__main__":
    main()
