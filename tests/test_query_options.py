"""Query-time options: the ``auto`` query type, graph pruning, parallel retrieval, and queries from
many threads at once giving the same results as one at a time."""

import json
from concurrent.futures import ThreadPoolExecutor

import networkx as nx
import pytest
from conftest import SHARED

from smolrag_lab import Settings, SmolRag
from smolrag_lab.lab.workspace import QUICK_DEMO_DOCUMENTS
from smolrag_lab.query import planner
from smolrag_lab.query.retrieval import MODES

pytestmark = pytest.mark.skipif(
    not (SHARED / "corpus" / "smolrag_docs").is_dir(), reason="needs ../shared"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    corpus = SHARED / "corpus" / "smolrag_docs"
    with SmolRag(
        Settings(data_dir=tmp_path_factory.mktemp("demo"), query_cache=False, log_to_file=False)
    ) as rag:
        rag.ingest([corpus / name for name in QUICK_DEMO_DOCUMENTS], progress=False)
        yield rag


def questions() -> list[str]:
    return [
        json.loads(line)["query"] for line in (SHARED / "eval" / "smolrag_docs_qa.jsonl").open()
    ][:12]


def ranked(result) -> list[str]:
    return [s.excerpt_id for s in result.sources]


def test_entity_names_are_spotted_longest_first():
    graph = nx.Graph([("Vector Store", "SmolRAG"), ("Knowledge Graph", "SmolRAG")])
    names = planner.EntityNames(graph)
    assert names.named_in("How does the vector store relate to SmolRAG?") == [
        "vector store",
        "smolrag",
    ]
    assert planner.choose_mode("How does the vector store relate to SmolRAG?", names).mode == "mix"
    assert planner.choose_mode("What is a vector store?", names).mode == "standard"
    assert (
        planner.choose_mode("Tell me about cats and dogs and how they relate", names).mode
        == "standard"
    )


def test_auto_runs_the_chosen_mode_and_says_why(demo):
    question = questions()[0]
    result = demo.query(question, "AUTO")
    assert result.mode in MODES and result.plan
    assert ranked(result) == ranked(demo.query(question, result.mode))
    with pytest.raises(ValueError, match="auto"):
        demo.query(question, "fastest")


def test_pruning_hides_weak_graph_items_without_touching_the_store(demo):
    graph = demo.graph()
    before = (graph.number_of_nodes(), graph.number_of_edges())
    s = demo.settings.replace(prune_min_degree=2, prune_orphans=True)
    pruned = demo.query_graph(s)
    assert pruned is not graph and pruned.number_of_nodes() < before[0]
    assert min(d for _, d in pruned.degree()) >= 1 and all(graph.degree(n) >= 2 for n in pruned)
    assert demo.query_graph(s) is pruned  # cached until the index changes
    assert demo.query_graph() is graph
    result = demo.retrieve(questions()[1], "hybrid_kg", prune_min_degree=2, prune_orphans=True)
    assert {e["key"] for e in result.entities} <= set(pruned.nodes)
    assert result.entities and (graph.number_of_nodes(), graph.number_of_edges()) == before


def test_parallel_retrieval_returns_what_sequential_does(demo):
    for question in questions()[:4]:
        for mode in ("hybrid_kg", "mix"):
            sequential = demo.retrieve(question, mode)
            parallel = demo.retrieve(question, mode, parallel_retrieval=True)
            assert ranked(parallel) == ranked(sequential) and parallel.context == sequential.context


@pytest.mark.parametrize("parallel", [False, True])
def test_concurrent_queries_match_one_at_a_time(demo, parallel):
    jobs = [(q, mode) for q in questions() for mode in (*MODES, "auto")]
    expected = {job: demo.query(*job, parallel_retrieval=parallel) for job in jobs}
    with ThreadPoolExecutor(8) as pool:
        got = dict(
            zip(
                jobs,
                pool.map(lambda job: demo.query(*job, parallel_retrieval=parallel), jobs * 2),
                strict=False,
            )
        )
    for job, result in got.items():
        assert ranked(result) == ranked(expected[job]) and result.answer == expected[job].answer


def test_option_comparison_and_load_test_report_every_option(demo, tmp_path):
    from smolrag_lab.eval.dataset import load_dataset
    from smolrag_lab.eval.options import (
        Option,
        compare_options,
        load_table,
        load_test,
        options_summary_table,
        options_table,
    )

    dataset = load_dataset(
        SHARED / "eval" / "smolrag_docs_qa.jsonl", SHARED / "corpus" / "smolrag_docs"
    ).restricted_to(list(QUICK_DEMO_DOCUMENTS), limit=4)
    options = [
        Option("float16", {"vector_storage": "float16"}, ("standard",)),
        Option("int8 raw", {"vector_index": "int8", "vector_rescore": False}, ("standard",)),
        Option("prune", {"prune_min_degree": 3}, ("local_kg",)),
        Option("auto", modes=("auto",)),
    ]
    rows = compare_options(dataset, Settings(data_dir=tmp_path / "idx", log_to_file=False), options)
    assert [r["option"] for r in rows] == ["default"] * 5 + ["float16", "int8 raw", "prune", "auto"]
    by_option = {r["option"]: r for r in rows[5:]}
    default_standard = rows[0]
    assert by_option["float16"]["vector_disk_bytes"] < default_standard["vector_disk_bytes"]
    assert by_option["int8 raw"]["vector_scan_bytes"] < default_standard["vector_scan_bytes"] / 3
    assert by_option["prune"]["graph_nodes"] < default_standard["graph_nodes"]
    assert "delta_ndcg@10" in by_option["auto"] and "| auto | auto |" in options_table(rows)
    summary = options_summary_table(rows).splitlines()
    assert len(summary) == 2 + 5 and summary[4].startswith("| int8 raw | ")
    prune = by_option["prune"]["vs_default_ndcg@10"]
    mark = "~" if prune["within_noise"] else ""
    assert f"| prune | · / {prune['delta']:+.3f}{mark} / · / · / · |" in summary[5]
    # every option's change carries a paired interval over the same questions
    for row in rows[5:]:
        comparison = row["vs_default_ndcg@10"]
        assert comparison["n"] == len(dataset.items)
        assert comparison["delta_low"] <= comparison["delta"] <= comparison["delta_high"]
        assert comparison["delta"] == pytest.approx(row["delta_ndcg@10"], abs=1e-4)
    assert "(default)" in options_table(rows) and "95% CI" in options_table(rows)
    load = load_test(demo, questions()[:3], levels=(1, 4), queries_per_level=20)
    assert [r["clients"] for r in load] == [1, 4]
    assert all(r["errors"] == 0 and r["mismatches"] == 0 and r["throughput_qps"] > 0 for r in load)
    assert "| 4 | 20 |" in load_table(load)


def test_query_cache_tells_vector_settings_apart(tmp_path):
    corpus = SHARED / "corpus" / "smolrag_docs"
    with SmolRag(Settings(data_dir=tmp_path / "d", log_to_file=False)) as rag:
        rag.ingest([corpus / QUICK_DEMO_DOCUMENTS[0]], progress=False)
        rag.retrieve(questions()[0], "standard")
        assert rag.retrieve(questions()[0], "standard").cached
    with SmolRag(
        Settings(
            data_dir=tmp_path / "d", log_to_file=False, vector_index="int8", vector_rescore=False
        )
    ) as rag:
        assert not rag.retrieve(questions()[0], "standard").cached
