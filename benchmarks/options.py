"""Every optimisation option against the default on both shared datasets (retrieval quality per
mode, latency, vector bytes on disk and scanned, graph size), and the concurrent-query load test on
the demo corpus.

usage: python -m benchmarks.options [--datasets smolrag_docs cranfield] [--data-dir DIR]
                                    [--out FILE]
Indexes are built in DATA_DIR (default: a temporary folder); an existing one is reused, since
ingestion is incremental.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks._results import default_out, publish
from smolrag_lab import Settings, SmolRag
from smolrag_lab.eval.options import (
    compare_options,
    load_table,
    load_test,
    options_summary_table,
    options_table,
)
from smolrag_lab.lab import workspace

DATASETS = {"smolrag_docs": workspace.demo_dataset, "cranfield": workspace.cranfield_dataset}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--data-dir")
    parser.add_argument("--out", default=default_out("options"))
    args = parser.parse_args()
    root = Path(args.data_dir or tempfile.mkdtemp(prefix="smolrag-options-"))
    results: dict = {"datasets": {}}
    try:
        for name in args.datasets:
            started = time.perf_counter()
            dataset = DATASETS[name](quick=False)
            rows = compare_options(dataset, Settings(data_dir=root / name, log_to_file=False))
            results["datasets"][name] = {
                "queries": len(dataset.items),
                "rows": rows,
                "seconds": round(time.perf_counter() - started, 1),
            }
            print(
                f"\n## {name}\n\n{options_table(rows)}\n\n{options_summary_table(rows)}\n",
                flush=True,
            )
        started = time.perf_counter()
        demo = workspace.demo_dataset(quick=False)
        with SmolRag(Settings(data_dir=root / "smolrag_docs", log_to_file=False)) as rag:
            rag.ingest(demo.paths, progress=False)
            results["load_test"] = load_test(rag, [item.query for item in demo.items[:20]])
        results["load_test_seconds"] = round(time.perf_counter() - started, 1)
        print(f"\n## load test\n\n{load_table(results['load_test'])}\n", flush=True)
    finally:
        if not args.data_dir:
            shutil.rmtree(root, ignore_errors=True)
    publish(results, args.out)


if __name__ == "__main__":
    main()
