"""PerformanceMonitor and rotating logs."""

import asyncio
import contextlib
import logging
import time

from test_engine import write_corpus

from smolrag_lab import Settings, SmolRag
from smolrag_lab.monitor import MAX_RECORDS, PerformanceMonitor


def test_measure_and_track_record_wall_cpu_memory_and_provider_calls():
    calls = {"chat": {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}}
    monitor = PerformanceMonitor(lambda: calls)
    with monitor.measure("busy"):
        cpu_before = time.process_time()
        sum(i * i for i in range(2_000_000))
        busy_cpu_s = time.process_time() - cpu_before
        calls["chat"] = {"calls": 2, "prompt_tokens": 30, "completion_tokens": 5}
    with monitor.measure("sleepy"):
        time.sleep(0.05)

    @monitor.track("async op")
    async def later():
        await asyncio.sleep(0.01)
        return 7

    @monitor.track()
    def failing():
        raise ValueError("boom")

    assert asyncio.run(later()) == 7
    with contextlib.suppress(ValueError):
        failing()
    summary = monitor.summary()
    assert summary["busy"]["provider_calls"] == 2 and summary["busy"]["prompt_tokens"] == 30
    # CPU time, not wall time: the same under a loaded machine (compared with process_time itself)
    assert summary["busy"]["cpu_s_total"] >= 0.9 * busy_cpu_s > 0
    assert summary["busy"]["wall_s_total"] >= summary["busy"]["cpu_s_total"] * 0.9
    assert summary["sleepy"]["wall_ms_p50"] >= 50 and summary["sleepy"]["cpu_s_total"] < 0.04
    assert summary["async op"]["count"] == 1 and summary["async op"]["provider_calls"] == 0
    failed = next(k for k in summary if k.endswith("failing"))
    assert summary[failed]["errors"] == 1
    assert summary["busy"]["peak_rss_mb"] > 10
    assert set(monitor.frame().columns) >= {"name", "wall_s", "cpu_s", "rss_mb", "provider_calls"}


def test_records_are_bounded():
    monitor = PerformanceMonitor()
    for _ in range(MAX_RECORDS + 10):
        with monitor.measure("x"):
            pass
    assert len(monitor.records) == MAX_RECORDS


def test_engine_monitors_stages_and_queries(tmp_path):
    with SmolRag(Settings(data_dir=tmp_path / "data", chunk_size=40, chunk_overlap=0)) as rag:
        rag.ingest(write_corpus(tmp_path / "corpus"), progress=False)
        rag.query("Which store keeps entities?", "mix")
        rag.query("Which store keeps entities?", "standard")
        summary = rag.monitor.summary()
    assert {
        "ingest",
        "ingest.grouped_calls",
        "ingest.embeddings",
        "ingest.commit",
        "ingest.graph_embeddings",
        "query.mix",
        "query.standard",
    } <= set(summary)
    assert summary["ingest.grouped_calls"]["count"] == 3 and summary["ingest"]["provider_calls"] > 0


def test_log_file_rotates_at_its_size_cap(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data", log_level="INFO", log_max_bytes=2_000, log_backups=2
    )
    with SmolRag(settings):
        log = logging.getLogger("smolrag_lab.test")
        for i in range(200):
            log.warning("line %d of a log that must rotate instead of growing without bound", i)
    logs = sorted(p.name for p in (tmp_path / "data" / "logs").iterdir())
    assert logs == ["smolrag_lab.log", "smolrag_lab.log.1", "smolrag_lab.log.2"]
    assert all(p.stat().st_size <= 2_200 for p in (tmp_path / "data" / "logs").iterdir())


def test_closing_the_engine_releases_its_log_file(tmp_path):
    before = len(logging.getLogger("smolrag_lab").handlers)
    first = SmolRag(Settings(data_dir=tmp_path / "a"))
    second = SmolRag(Settings(data_dir=tmp_path / "a"))
    assert len(logging.getLogger("smolrag_lab").handlers) == before + 1
    first.close()
    assert len(logging.getLogger("smolrag_lab").handlers) == before + 1
    second.close()
    assert len(logging.getLogger("smolrag_lab").handlers) == before
