"""Ingest the demo corpus offline and report, per mode, the share of questions of the demo QA set
whose relevant document is among the top-5 sources; plus ingestion time by stage.

usage: python -m benchmarks.demo_qa [--data-dir DIR] [--out benchmarks/results/demo_qa.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks._results import default_out, publish
from smolrag_lab import Settings, SmolRag
from smolrag_lab.query.retrieval import MODES

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=default_out("demo_qa"))
    args = parser.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="smolrag-demo-"))
    questions = [json.loads(line) for line in (SHARED / "eval" / "smolrag_docs_qa.jsonl").open()]
    with SmolRag(Settings.load(data_dir=data_dir, query_cache=False)) as rag:
        report = rag.ingest(SHARED / "corpus" / "smolrag_docs", progress=False)
        rerun = rag.ingest(SHARED / "corpus" / "smolrag_docs", progress=False)
        results = {
            "ingest": report.counts(),
            "rerun_provider_calls": sum(rerun.provider_calls.values()),
            "modes": {},
        }
        for mode in MODES:
            hits, with_sources, started = 0, 0, time.perf_counter()
            for item in questions:
                sources = rag.retrieve(item["query"], mode).sources
                with_sources += bool(sources)
                hits += any(s.document in item["relevant"] for s in sources[:5])
            results["modes"][mode] = {
                "hit@5": round(hits / len(questions), 3),
                "answered_with_sources": with_sources,
                "questions": len(questions),
                "mean_retrieval_ms": round(
                    1000 * (time.perf_counter() - started) / len(questions), 1
                ),
            }
    if not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
    publish(results, args.out)


if __name__ == "__main__":
    main()
