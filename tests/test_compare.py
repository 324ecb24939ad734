"""report.json keeps per-question values with intervals; ``smolrag-lab compare`` pairs two runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smolrag_lab import Settings
from smolrag_lab.eval import load_dataset, results_table, run_benchmark, write_reports
from smolrag_lab.eval.paired import compare_runs, load_run

ROOT = Path(__file__).resolve().parents[1]
DOCS = {
    "glaciers.md": "# Glaciers\n\nGlaciers carve U-shaped valleys and leave moraines of rock. "
    "Ice flows downhill under its own weight.\n\n## Retreat\n\nWarmer summers melt more ice "
    "than winter snow replaces.",
    "owls.md": "# Owls\n\nOwls hunt at night with silent flight. Their feathers have soft "
    "fringes that muffle sound.\n\n## Pellets\n\nOwls swallow prey whole and cough up pellets "
    "of bone and fur.",
    "printing.md": "# Printing press\n\nGutenberg's movable metal type made books cheap. Ink "
    "based on oil stuck to metal.\n\n## Spread\n\nBy 1500 presses ran in over two hundred "
    "European towns.",
}
QUESTIONS = [
    ("a", "How do glaciers shape valleys?", "glaciers.md"),
    ("b", "Why are glaciers retreating?", "glaciers.md"),
    ("c", "How do owls fly silently?", "owls.md"),
    ("d", "What are owl pellets made of?", "owls.md"),
    ("e", "What made books cheap?", "printing.md"),
    ("f", "How many towns had presses by 1500?", "printing.md"),
]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    corpus = folder / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    queries = folder / "q.jsonl"
    queries.write_text(
        "".join(
            json.dumps({"id": i, "query": q, "relevant": {d: 1}}) + "\n" for i, q, d in QUESTIONS
        )
    )
    dataset = load_dataset(queries, corpus)
    runs = {}
    for name, size in (("a", 160), ("b", 24)):
        settings = Settings(data_dir=folder / f"index-{name}", log_to_file=False, chunk_size=size)
        settings = settings.replace(chunk_overlap=min(settings.chunk_overlap, size // 2))
        run = run_benchmark(
            dataset, settings, ("standard",), (1, 3, 10), answer=False, progress=False
        )
        write_reports(run, folder / f"run-{name}", charts=False)
        runs[name] = folder / f"run-{name}"
    return runs


def test_report_keeps_per_question_values_and_intervals(two_runs):
    report = load_run(two_runs["a"])
    assert report["reference"] == "bm25"
    questions = report["per_question"]
    assert set(questions) == {"standard", "bm25", "dense"}
    assert questions["standard"]["id"] == list("abcdef") and len(questions["bm25"]["ndcg@10"]) == 6
    standard = report["modes"]["standard"]
    low, high = standard["ci"]["ndcg@10"]
    assert low <= standard["ndcg@10"] <= high
    versus = standard["vs_reference"]["ndcg@10"]
    assert versus["n"] == 6 and versus["delta_low"] <= versus["delta"] <= versus["delta_high"]
    assert report["baselines"]["bm25"]["vs_reference"] == {}
    assert "Δ ndcg@10 vs bm25 [95% CI]" in results_table(report)


def test_a_run_against_itself_is_within_noise(two_runs):
    report = load_run(two_runs["a"] / "report.json")
    rows = compare_runs(report, report)
    assert rows and all(r["within_noise"] and r["p_value"] == 1.0 and r["delta"] == 0 for r in rows)


def test_compare_cli_prints_the_paired_table(two_runs):
    env = {**os.environ, "SMOLRAG_LOG_TO_FILE": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "smolrag_lab.cli", "compare", str(two_runs["a"])]
        + [str(two_runs["b"] / "report.json"), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    expected = compare_runs(load_run(two_runs["a"]), load_run(two_runs["b"]))
    assert rows == json.loads(json.dumps(expected))
    assert {r["system"] for r in rows} == {"standard", "bm25", "dense"}
    table = subprocess.run(
        [
            sys.executable,
            "-m",
            "smolrag_lab.cli",
            "compare",
            str(two_runs["a"]),
            str(two_runs["b"]),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert table.returncode == 0 and "| standard | ndcg@10 |" in table.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "smolrag_lab.cli", "compare", str(two_runs["a"]), "/nonexistent"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert missing.returncode == 1 and "no report.json" in missing.stderr


def test_per_question_values_stay_aligned_when_a_metric_is_missing():
    from smolrag_lab.eval.paired import per_question

    rows = [
        {"system": "s", "id": "a", "span@5": 1.0, "ndcg@10": 0.5},
        {"system": "s", "id": "b", "ndcg@10": 0.7},  # no trusted gold passage: no span
        {"system": "s", "id": "c", "span@5": 0.0, "ndcg@10": 0.1},
    ]
    table = per_question(rows)["s"]
    assert table == {"id": ["a", "b", "c"], "span@5": [1.0, None, 0.0], "ndcg@10": [0.5, 0.7, 0.1]}
    better = per_question([{**r, "ndcg@10": r["ndcg@10"] + 0.25} for r in rows])
    by_metric = {
        r["metric"]: r
        for r in compare_runs({"per_question": per_question(rows)}, {"per_question": better})
    }
    assert by_metric["span@5"]["n"] == 2 and by_metric["span@5"]["within_noise"]
    assert by_metric["ndcg@10"]["delta"] == pytest.approx(0.25)
    assert by_metric["ndcg@10"]["p_value"] == pytest.approx(0.25)  # exact: 2 of 8 sign patterns
