"""The LLM judge: verdict parsing by hand, the cost shown first, and real calls to the simulated
endpoint (cached, three runs, the bench report's judge section)."""

import json

import pytest
from test_engine import write_corpus

from smolrag_lab import Settings, prompts
from smolrag_lab.eval import load_dataset, run_benchmark, write_reports
from smolrag_lab.eval.judge import Case, estimate_cost, parse_verdict, run_judge
from smolrag_lab.providers import Providers
from smolrag_lab.simulator import SimulatedEndpoint

EXCERPTS = (
    "The vector store keeps embeddings in a matrix file.",
    "Bananas are yellow fruit.",
)
GROUNDED = Case(
    "standard",
    "Where are embeddings kept?",
    "- The vector store keeps embeddings in a matrix file. [1]",
    EXCERPTS,
    "The vector store keeps them in a matrix file.",
)
MADE_UP = Case(
    "standard",
    "Where are embeddings kept?",
    "- Embeddings are printed on paper by penguins. [2]",
    EXCERPTS,
    None,
)


def test_verdicts_by_hand():
    three = {"statements": [{"supported": True}, {"supported": False}, {"supported": True}]}
    assert parse_verdict("faithfulness", "Sure:\n" + json.dumps(three)) == pytest.approx(2 / 3)
    # useful at ranks 1 and 3: (1/1 + 2/3) / 2
    verdicts = {"verdicts": [{"useful": True}, {"useful": False}, {"useful": True}]}
    assert parse_verdict("context_precision", json.dumps(verdicts)) == pytest.approx(5 / 6)
    assert parse_verdict("context_precision", '{"verdicts": [{"useful": false}]}') == 0.0
    assert parse_verdict("answer_relevance", '{"score": 4}') == 0.75
    assert parse_verdict("context_recall", '{"sentences": [{"attributed": true}]}') == 1.0
    assert parse_verdict("faithfulness", "not json") is None
    assert parse_verdict("answer_relevance", '{"score": "high"}') is None


def test_cost_counts_calls_and_tokens_before_running():
    cost = estimate_cost([GROUNDED, MADE_UP], 3, 0.001, 0.002)
    assert cost["calls"] == (4 + 2) * 3  # no reference: no context precision or recall
    assert cost["prompt_tokens"] > 6 * 3 * 50 and cost["estimated_cost_usd"] > 0


def test_prompts_keep_material_out_of_the_instructions():
    system, user = prompts.judge("faithfulness", "q", "an answer", EXCERPTS, "")
    assert system["content"].startswith(prompts.JUDGE_GOAL) and "Bananas" not in system["content"]
    assert "<CONTEXT>\n[1] The vector store" in user["content"]


@pytest.fixture(scope="module")
def endpoint():
    server = SimulatedEndpoint().start()
    yield server
    server.stop()


def _settings(endpoint, data_dir):
    return Settings(
        data_dir=data_dir,
        openai_api_key="sk-sim",
        openai_base_url=endpoint.base_url,
        completion_backend="openai",
        completion_model="sim-chat",
        chunk_size=40,
        chunk_overlap=0,
    )


def test_judge_through_the_simulated_endpoint_is_cached(endpoint, tmp_path):
    settings = _settings(endpoint, tmp_path / "data")
    client = Providers(settings).client
    shown = []
    judged = run_judge(client, [GROUNDED, MADE_UP], settings, runs=3, announce=shown.append)
    assert shown and "18 calls" in shown[0]
    standard = judged["modes"]["standard"]
    # faithfulness: the grounded answer 1, the made-up one 0 -> 0.5 in every run
    assert standard["faithfulness"] == {"mean": 0.5, "std_across_runs": 0.0, "runs": [0.5] * 3}
    assert standard["context_recall"]["mean"] == 1.0  # only the grounded case has a reference
    assert 0 <= standard["answer_relevance"]["mean"] <= 1 and judged["unreadable"] == 0
    for call in endpoint.requests[-18:]:
        assert call[1]["temperature"] == 0
    calls = endpoint.count("/chat/completions")
    again = run_judge(client, [GROUNDED, MADE_UP], settings, runs=3, announce=shown.append)
    assert endpoint.count("/chat/completions") == calls and again["modes"] == judged["modes"]


def test_bench_judges_a_sample(endpoint, tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    queries = tmp_path / "queries.jsonl"
    rows = [
        {
            "id": "q1",
            "query": "Where does the QueryCache store answers?",
            "relevant": {"cache.md": 1},
            "reference_answer": "Under a hash of the question.",
        },
        {"id": "q2", "query": "How are entities merged?", "relevant": {"graph.md": 1}},
    ]
    queries.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    dataset = load_dataset(queries, corpus)
    settings = _settings(endpoint, tmp_path / "idx")
    run = run_benchmark(
        dataset, settings, modes=["standard"], baselines=False, progress=False, judge_sample=2
    )
    judged = run.report()["judge"]
    assert judged["cases"] == 2 and judged["cost"]["calls"] == (4 + 2) * 3
    assert set(judged["modes"]["standard"]) == set(prompts.JUDGE_METRICS)
    summary = write_reports(run, tmp_path / "out", charts=False)["summary"].read_text()
    assert "## Judge" in summary and "faithfulness" in summary
