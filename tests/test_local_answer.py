"""The local extractive answer: relevant sentences first, no near-duplicates, a bounded length,
every sentence cited with the source it quotes."""

import re

from smolrag_lab.eval.answers import answer_metrics, claims
from smolrag_lab.providers.local_answer import (
    EXTRACTIVE_NOTE,
    MAX_SENTENCES,
    WORD_BUDGET,
    extractive_answer,
)

SOURCES = [
    "The QueryCache stores every answer under a hash of the question. "
    "Cats sleep for most of the day.",
    "Every answer is stored by the QueryCache under a hash of the question text. "
    "The QueryCache is cleared when the index version changes.",
    "Penguins cannot fly. The weather was cold in the morning and quite warm in the afternoon.",
]
QUESTION = "Where does the QueryCache store an answer?"


def _lines(answer):
    return [line for line in answer.splitlines() if line.startswith("- ")]


def test_best_sentence_first_each_cited_with_its_source():
    answer = extractive_answer(QUESTION, SOURCES)
    lines = _lines(answer)
    assert answer.startswith(EXTRACTIVE_NOTE)
    assert lines[0] == "- The QueryCache stores every answer under a hash of the question. [1]"
    for line in lines:
        number = int(re.search(r"\[(\d+)\]$", line).group(1))
        assert line[2:].rsplit(" [", 1)[0] in SOURCES[number - 1]
    assert not any("Penguins" in line or "Cats" in line for line in lines)


def test_near_duplicates_are_dropped_and_length_is_bounded():
    lines = _lines(extractive_answer(QUESTION, SOURCES))
    # the second source restates the first: the paraphrase is not quoted as well
    assert not any(line.startswith("- Every answer is stored") for line in lines)
    assert 1 <= len(lines) <= MAX_SENTENCES
    words = [len(line.split()) for line in lines]
    assert sum(words[:-1]) < WORD_BUDGET  # the budget was not yet reached before the last one


def test_answers_are_fully_grounded_and_deterministic():
    first = extractive_answer(QUESTION, SOURCES)
    assert first == extractive_answer(QUESTION, list(SOURCES))
    scores = answer_metrics(QUESTION, first, SOURCES)
    assert scores["groundedness"] == 1.0 and scores["citation_recall"] == 1.0
    assert all(c.cited for c in claims(first))


def test_no_overlap_means_no_answer():
    assert extractive_answer("What do owls eat?", SOURCES).startswith(
        "The indexed sources do not appear to answer"
    )
    assert extractive_answer("Anything?", []).startswith("The indexed sources")
