"""Demo-corpus ingestion on each executor: inline (threads in this process), a process pool,
``auto`` (the default: large local-embedding batches on a process pool) and, with the ``dask``
extra, a local two-worker Dask cluster. Offline local models, a fresh index and no embedding cache
for each run.

usage: python -m benchmarks.executors [--executors inline process auto dask] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks._results import default_out, publish
from smolrag_lab import Settings, SmolRag
from smolrag_lab.lab import workspace


def ingest_once(executor: str, folder: Path, paths: list[Path]) -> dict:
    settings = Settings(
        data_dir=folder,
        log_to_file=False,
        embedding_cache=False,
        completion_cache=False,
        ingest_executor=executor,
    )
    started, cpu = time.perf_counter(), time.process_time()
    with SmolRag(settings) as rag:
        report = rag.ingest(paths, progress=False)
        stats = rag.stats()
    wall = time.perf_counter() - started
    return {
        "executor": executor,
        "wall_s": round(wall, 1),
        "coordinator_cpu_s": round(time.process_time() - cpu, 1),
        "documents": len(report.added),
        "failed": len(report.failed),
        "stage_s": {k: round(v, 1) for k, v in report.stage_seconds.items()},
        "excerpts": stats["excerpts"],
        "entities": stats["entities"],
        "relationships": stats["relationships"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    wanted = ["inline", "process", "auto"] + (
        ["dask"] if importlib.util.find_spec("distributed") else []
    )
    parser.add_argument(
        "--executors", nargs="+", default=wanted, choices=["inline", "process", "auto", "dask"]
    )
    parser.add_argument("--out", default=default_out("executors"))
    args = parser.parse_args()
    paths = workspace.demo_dataset(quick=False).paths
    root = Path(tempfile.mkdtemp(prefix="smolrag-executors-"))
    runs = []
    try:
        for executor in args.executors:
            runs.append(ingest_once(executor, root / executor, paths))
            print(runs[-1], flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    publish({"cores": os.cpu_count(), "corpus": "smolrag_docs", "runs": runs}, args.out)


if __name__ == "__main__":
    main()
