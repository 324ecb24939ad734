"""Answer metrics: each one on a case worked out by hand, and the same figures in two processes."""

import json
import subprocess
import sys

import numpy as np
import pytest

from smolrag_lab.eval.answers import (
    AnswerScorer,
    Claim,
    answer_metrics,
    answer_tokens,
    claims,
    exact_match,
    greedy_similarity,
    is_no_answer,
    lexical_coverage,
    normalize_answer,
    rouge_l,
    token_prf,
)

SOURCES = [
    "The vector store keeps embeddings in a matrix file.",
    "Bananas are yellow fruit.",
]
ANSWER = (
    "Extractive answer (no language model configured): the passages below are quoted from the "
    "sources.\n\n"
    "- The vector store keeps embeddings in a matrix file. [1]\n"
    "- The vector store keeps embeddings in a matrix file. [2]\n"
    "- Penguins live in Antarctica and swim."
)


@pytest.fixture(scope="module")
def scorer():
    return AnswerScorer(threshold=0.7)


def test_squad_normalisation_and_exact_match():
    assert normalize_answer("The Cat, sat!  on a mat.") == "cat sat on mat"
    assert exact_match("The answer. [1]", "answer") == 1.0
    assert exact_match("An answer", "another answer") == 0.0


def test_token_f1_by_hand():
    # prediction: smolrag vector embeddings ("uses" is a stop word, [1] is not a word)
    # reference: smolrag combines vector embeddings knowledge graphs -> 3 shared of 3 and of 6
    p, r, f = token_prf(
        "SmolRAG uses vector embeddings [1]",
        "SmolRAG combines vector embeddings and knowledge graphs",
    )
    assert (p, r) == (1.0, 0.5) and f == pytest.approx(2 / 3)
    assert token_prf("", "anything here") == (0.0, 0.0, 0.0)
    assert answer_tokens("The [2] graphs, of nodes") == ["graphs", "nodes"]


def test_rouge_l_by_hand():
    # longest common subsequence "cat fish bird": 3 of 4 words each way -> F = 0.75
    assert rouge_l("cat dog fish bird", "cat fish bird mouse") == pytest.approx(0.75)


def test_greedy_similarity_by_hand():
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    b = np.array([[2.0, 0.0]])  # not unit length: normalised first
    p, r, f = greedy_similarity(a, b)
    # best cosines: rows of a -> (1, 0), mean 0.5; the row of b -> 1
    assert (p, r) == (0.5, 1.0) and f == pytest.approx(2 / 3)


def test_claims_split_lines_and_sentences_and_keep_their_citations():
    text = (
        "Intro line.\n\n- Vectors live in files. [1]\n- Graphs are saved often [2][3]\n"
        "No cite here at all. Short [4]"
    )
    assert claims(text) == [
        Claim("Vectors live in files.", (1,)),
        Claim("Graphs are saved often", (2, 3)),
        Claim("No cite here at all.", ()),
    ]  # "Intro line." and "Short" have fewer than three words
    assert claims(ANSWER)[0] == Claim("The vector store keeps embeddings in a matrix file.", (1,))


def test_lexical_coverage_by_hand():
    # content words: vector store keeps matrix (4); the source has vector, store -> 2 / 4
    assert lexical_coverage("The vector store keeps a matrix", ["A vector store."]) == 0.5


def test_groundedness_and_citations_by_hand(scorer):
    # claim 1 cites the sentence it quotes: supported. Claim 2 quotes source 1 but cites source 2
    # (bananas): not supported. Claim 3 cites nothing: not supported, and counts against recall.
    found = scorer.grounding(ANSWER, SOURCES)
    assert found["claims"] == 3
    assert found["groundedness"] == pytest.approx(1 / 3)
    assert found["citation_precision"] == pytest.approx(1 / 2)
    assert found["citation_recall"] == pytest.approx(2 / 3)


def test_support_is_the_larger_of_coverage_and_cosine(scorer):
    claim = Claim("Embeddings are written by the store into one matrix file.", (1,))
    cosine = float(scorer.vectors([SOURCES[0]])[0] @ scorer.vectors([claim.text])[0])
    coverage = lexical_coverage(claim.text, SOURCES[:1])
    assert scorer.support(claim, SOURCES, [1]) == pytest.approx(max(cosine, coverage))
    assert scorer.support(claim, SOURCES, [7]) == 0.0  # a number that is not a source


def test_no_answer_replies():
    assert is_no_answer("The indexed sources do not appear to answer this question.")
    assert is_no_answer("I don't know: the context does not mention it.")
    assert is_no_answer("   ")
    assert not is_no_answer("- The vector store keeps embeddings in a matrix file. [1]")


def test_answer_metrics_with_and_without_reference():
    free = answer_metrics("Where are embeddings kept?", ANSWER, SOURCES)
    assert "answer_f1" not in free and free["groundedness"] == pytest.approx(1 / 3, abs=1e-6)
    assert free["answer_words"] == 9 + 9 + 6  # the claims' words: disclaimer and marks removed
    full = answer_metrics(
        "Where are embeddings kept?",
        ANSWER,
        SOURCES,
        reference="In a matrix file.",
        gold_span="The vector store keeps embeddings in a matrix file.",
    )
    assert full["span_recall"] == 1.0 and full["answer_recall"] == 1.0
    assert 0 < full["answer_f1"] < 1 and 0 < full["semantic_f1"] <= 1
    no = answer_metrics("q?", "The indexed sources do not appear to answer this question.", SOURCES)
    assert no["no_answer"] == 1.0 and no["groundedness"] is None


def test_uncited_answers_are_counted():
    """The engine's citation check is an answer metric: a sentence without a citation, or a
    citation naming no source, marks the answer uncited; saying there is no answer does not.
    """
    assert answer_metrics("q?", ANSWER, SOURCES)["uncited"] == 1.0  # the penguin sentence
    cited = "The vector store keeps embeddings in a matrix file. [1]"
    assert answer_metrics("q?", cited, SOURCES)["uncited"] == 0.0
    assert answer_metrics("q?", cited.replace("[1]", "[7]"), SOURCES)["uncited"] == 1.0
    nothing = "The context does not say where embeddings are kept."
    assert answer_metrics("q?", nothing, SOURCES)["uncited"] == 0.0


def test_same_figures_in_two_processes():
    script = (
        "import json; from smolrag_lab.eval.answers import answer_metrics; "
        f"print(json.dumps(answer_metrics('Where are embeddings kept?', {ANSWER!r}, {SOURCES!r}, "
        "'They are kept in a matrix file by the vector store.')))"
    )
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and runs[0]["semantic_f1"] > 0


def test_sweep_draws_answer_quality_against_context_tokens(tmp_path):
    from test_engine import write_corpus

    from smolrag_lab import Settings
    from smolrag_lab.eval.dataset import load_dataset
    from smolrag_lab.eval.sweep import tuning_sweep
    from smolrag_lab.lab import plots

    queries = tmp_path / "q.jsonl"
    item = {
        "id": "q1",
        "query": "Where does the QueryCache store answers?",
        "relevant": {"cache.md": 1},
        "reference_answer": "Under a hash of the question.",
    }
    queries.write_text(json.dumps(item) + "\n")
    dataset = load_dataset(queries, write_corpus(tmp_path / "corpus"))
    sweep = tuning_sweep(
        dataset,
        Settings(data_dir=tmp_path / "base"),
        "chunk_size",
        [40],
        "excerpt_token_budget",
        [40, 400],
        data_root=tmp_path / "sweeps",
        answers=True,
    )
    rows = sweep.set_index("excerpt_token_budget")
    assert rows.loc[400, "context_tokens"] > rows.loc[40, "context_tokens"]
    assert 0 < rows.loc[400, "answer_f1"] <= 1 and rows.loc[400, "groundedness"] == 1.0
    ax = plots.plot_answer_vs_context(sweep, "answer_f1")
    assert len(ax.lines) == 1
