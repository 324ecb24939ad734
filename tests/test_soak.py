"""Endurance: many queries across the modes on the demo corpus; memory stays flat, no errors, no
file handles leak. 10,000 queries on the whole corpus with --runslow; 500 on three documents
otherwise.
"""

import json
import os
import resource

import pytest
from conftest import SHARED

from smolrag_lab import Settings, SmolRag
from smolrag_lab.lab.workspace import QUICK_DEMO_DOCUMENTS
from smolrag_lab.monitor import rss_mb
from smolrag_lab.query.retrieval import MODES


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not (SHARED / "corpus" / "smolrag_docs").is_dir(), reason="needs ../shared")
def test_soak_queries_keep_memory_and_handles_flat(tmp_path, request):
    full = request.config.getoption("--runslow")
    corpus = SHARED / "corpus" / "smolrag_docs"
    paths = [corpus] if full else [corpus / name for name in QUICK_DEMO_DOCUMENTS]
    total = 10_000 if full else 500
    questions = [
        json.loads(line)["query"] for line in (SHARED / "eval" / "smolrag_docs_qa.jsonl").open()
    ]
    with SmolRag(Settings(data_dir=tmp_path / "data", query_cache=False)) as rag:
        rag.ingest(paths, progress=False)
        for mode in MODES:  # warm up: models, BM25 index, graph views
            rag.query(questions[0], mode)
        start_rss, start_files = rss_mb(), open_files()
        errors, empty = 0, 0
        for i in range(total):
            try:
                result = rag.query(questions[i % len(questions)], MODES[i % len(MODES)])
                empty += not result.sources
            except Exception:  # counted, not raised: the soak reports every failure
                errors += 1
        end_rss, end_files = rss_mb(), open_files()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"soak: {total} queries, {errors} errors, {empty} without sources, RSS {start_rss:.0f} -> "
        f"{end_rss:.0f} MB (peak {peak:.0f}), open files {start_files} -> {end_files}"
    )
    assert errors == 0
    assert end_files <= start_files
    assert end_rss - start_rss < 40, "memory grew during the soak"
