"""The benchmark harness and `smolrag-lab bench` on a small corpus and a hand-made dataset."""

import csv
import json
import os
import subprocess
import sys

from test_engine import write_corpus

from smolrag_lab import Settings
from smolrag_lab.eval import load_dataset, run_benchmark, write_reports

QUERIES = [
    {
        "id": "q1",
        "query": "Where does the QueryCache store answers?",
        "relevant": {"cache.md": 2, "search.md": 1},
        "gold_span": "The QueryCache stores every answer under a hash of the question.",
        "match_f1": 1.0,
        "reference_answer": "Under a hash of the question.",
    },
    {
        "id": "q2",
        "query": "How are entities with the same name merged?",
        "relevant": {"graph.md": 1},
        "gold_span": "Entities with the same name are merged by the GraphStore.",
        "match_f1": 0.9,
        "reference_answer": "The GraphStore merges them.",
    },
    {
        "id": "q3",
        "query": "What ranks excerpts by cosine similarity?",
        "relevant": {"search.md": 1},
        "gold_span": "an unmatched paraphrase",
        "match_f1": 0.4,
    },
]


def make_dataset(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    queries = tmp_path / "queries.jsonl"
    queries.write_text("\n".join(json.dumps(q) for q in QUERIES) + "\n")
    return corpus, queries


def test_harness_reports_every_metric_and_is_repeatable(tmp_path):
    corpus, queries = make_dataset(tmp_path)
    dataset = load_dataset(queries, corpus)
    assert dataset.items[2].span is None and dataset.has_spans

    def run(name):
        settings = Settings(data_dir=tmp_path / name, chunk_size=40, chunk_overlap=0)
        return run_benchmark(dataset, settings, modes=["standard", "mix"], progress=False)

    first, second = run("a"), run("b")
    report = first.report()
    for system in ("standard", "mix"):
        values = report["modes"][system]
        for key in ("ndcg@10", "recall@10", "precision@5", "hit@5", "span@5", "mrr"):
            assert 0.0 <= values[key] <= 1.0, (system, key)
        assert values["latency_ms"]["p50"] > 0 and values["with_sources"] == 3
    assert set(report["baselines"]) == {"bm25", "dense"}
    assert report["modes"]["standard"]["hit@5"] == 1.0
    assert report["ingest"]["documents"]["added"] == 3 and report["ingest"]["peak_memory_mb"] > 0
    assert report["ingest"]["disk_bytes"]["kv_bytes"] > 0

    def strip(r):
        return {
            g: {s: {k: v for k, v in m.items() if "latency" not in k} for s, m in r[g].items()}
            for g in ("modes", "baselines")
        }

    assert strip(report) == strip(second.report())
    standard = report["modes"]["standard"]
    assert 0 < standard["answer_f1"] <= 1 and 0 <= standard["groundedness"] <= 1
    assert standard["span_recall"] > 0.5 and standard["answer_words"] > 5
    assert standard["answer_context_tokens"] > 0 and standard["no_answer"] == 0
    assert "answer_f1" not in report["baselines"]["bm25"]

    files = write_reports(first, tmp_path / "out")
    assert (
        json.loads(files["report"].read_text())["modes"]["mix"]["hit@5"]
        == report["modes"]["mix"]["hit@5"]
    )
    rows = list(csv.DictReader(files["per_query"].open()))
    assert len(rows) == 3 * 4 and {r["system"] for r in rows} == {
        "standard",
        "mix",
        "bm25",
        "dense",
    }
    assert "| standard |" in files["summary"].read_text()
    assert "## Answers" in files["summary"].read_text()
    assert {r["answer_f1"] for r in rows if r["system"] == "standard" and r["id"] == "q3"} == {""}
    for chart in ("precision_recall_at_k", "ndcg", "latency", "ingest_stages", "answer_quality"):
        assert files[chart].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_command_line(tmp_path):
    corpus, queries = make_dataset(tmp_path)
    out = tmp_path / "bench"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "smolrag_lab.cli",
            "bench",
            "--corpus",
            str(corpus),
            "--dataset",
            str(queries),
            "--modes",
            "standard",
            "local_kg",
            "--k",
            "1,5,10",
            "--out",
            str(out),
            "--quiet",
            "--no-charts",
            "--data-dir",
            str(tmp_path / "idx"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "| baseline: bm25 |" in done.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["ks"] == [1, 5, 10] and set(report["modes"]) == {"standard", "local_kg"}
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    temporary = subprocess.run(
        [
            sys.executable,
            "-m",
            "smolrag_lab.cli",
            "bench",
            "--corpus",
            str(corpus),
            "--dataset",
            str(queries),
            "--modes",
            "standard",
            "--out",
            str(tmp_path / "again"),
            "--quiet",
            "--no-charts",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert temporary.returncode == 0, temporary.stderr
    assert not list(scratch.glob("smolrag-bench-*"))  # the temporary index is removed
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "smolrag_lab.cli",
            "bench",
            "--corpus",
            str(tmp_path / "none"),
            "--dataset",
            str(queries),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "corpus folder not found" in bad.stderr


def test_without_reference_answers_only_reference_free_metrics(tmp_path):
    """Like Cranfield: relevance judgements and no written answers."""
    corpus = write_corpus(tmp_path / "corpus")
    queries = tmp_path / "queries.jsonl"
    bare = [{k: q[k] for k in ("id", "query", "relevant")} for q in QUERIES]
    queries.write_text("\n".join(json.dumps(q) for q in bare) + "\n")
    dataset = load_dataset(queries, corpus)
    assert not dataset.has_references
    settings = Settings(data_dir=tmp_path / "idx", chunk_size=40, chunk_overlap=0)
    run = run_benchmark(dataset, settings, modes=["standard"], baselines=False, progress=False)
    standard = run.report()["modes"]["standard"]
    assert 0 <= standard["groundedness"] <= 1 and standard["citation_recall"] > 0
    assert all(standard.get(k) is None for k in ("answer_f1", "rouge_l", "span_recall"))
    summary = write_reports(run, tmp_path / "out", charts=False)["summary"].read_text()
    assert "groundedness" in summary and "answer_f1" not in summary
