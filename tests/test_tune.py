"""The tuner: held-out split, search spaces, a study that resumes after a restart, fast trials
(no graph for a standard-only objective, one index per chunking), and the tune CLI.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from smolrag_lab import Settings  # noqa: E402 (after the skip: optuna is an optional extra)
from smolrag_lab.eval import load_dataset  # noqa: E402
from smolrag_lab.eval.tune import run_study, split_questions  # noqa: E402
from smolrag_lab.eval.tune_report import held_out_table, study_summary  # noqa: E402
from smolrag_lab.eval.tune_space import Knob, load_space, needs_graph  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOPICS = {
    "volcanoes.md": "# Volcanoes\n\nMagma rises through the crust and erupts as lava. Basalt "
    "flows cool into columns. Ash clouds ground aircraft.\n\n## Monitoring\n\nSeismometers and "
    "tiltmeters warn of eruptions days ahead.",
    "bees.md": "# Honey bees\n\nWorker bees forage for nectar and pollen. The waggle dance tells "
    "the hive where flowers are.\n\n## The queen\n\nThe queen lays up to two thousand eggs a day.",
    "tides.md": "# Tides\n\nThe moon's gravity raises two bulges in the oceans. Spring tides "
    "follow new and full moons; neap tides the quarters.\n\n## Tide tables\n\nHarbours publish "
    "the times of high and low water.",
    "bread.md": "# Sourdough bread\n\nA starter of flour and water holds wild yeast and lactic "
    "bacteria. Long fermentation gives the sour taste.\n\n## Baking\n\nA hot Dutch oven traps "
    "steam so the crust can rise.",
}
QUESTIONS = [
    ("q1", "How does magma reach the surface?", "volcanoes.md"),
    ("q2", "What warns of an eruption?", "volcanoes.md"),
    ("q3", "What does the waggle dance tell bees?", "bees.md"),
    ("q4", "How many eggs does the queen bee lay?", "bees.md"),
    ("q5", "What causes spring tides?", "tides.md"),
    ("q6", "Where are the times of high water published?", "tides.md"),
    ("q7", "What lives in a sourdough starter?", "bread.md"),
    ("q8", "Why bake bread in a Dutch oven?", "bread.md"),
    ("q9", "Which ash clouds ground aircraft?", "volcanoes.md"),
    ("q10", "What do worker bees forage for?", "bees.md"),
]
SPACE = {
    "chunk_size": Knob("chunk_size", 32, 64, step=32),
    "excerpt_top_k": Knob("excerpt_top_k", 1, 4),
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    corpus = folder / "corpus"
    corpus.mkdir()
    for name, text in TOPICS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    queries = folder / "questions.jsonl"
    queries.write_text(
        "".join(
            json.dumps({"id": i, "query": q, "relevant": {doc: 1}}) + "\n"
            for i, q, doc in QUESTIONS
        )
    )
    return load_dataset(queries, corpus), queries, corpus


def test_split_is_deterministic_disjoint_and_complete(tiny):
    dataset = tiny[0]
    tune, held = split_questions(dataset, 0.3, seed=5)
    again_tune, again_held = split_questions(dataset, 0.3, seed=5)
    tune_ids, held_ids = {i.id for i in tune.items}, {i.id for i in held.items}
    assert tune_ids.isdisjoint(held_ids)
    assert tune_ids | held_ids == {i.id for i in dataset.items}
    assert len(held_ids) == 3
    assert [i.id for i in again_held.items] == [i.id for i in held.items]
    assert [i.id for i in again_tune.items] == [i.id for i in tune.items]
    # the order questions are listed in does not change the split; another seed does
    shuffled = type(dataset)(dataset.name, dataset.corpus, list(reversed(dataset.items)))
    assert {i.id for i in split_questions(shuffled, 0.3, seed=5)[1].items} == held_ids
    others = [{i.id for i in split_questions(dataset, 0.3, seed=s)[1].items} for s in range(6)]
    assert len({frozenset(o) for o in others}) > 1
    with pytest.raises(ValueError, match="held_out"):
        split_questions(dataset, 1.0)


def test_space_files_and_their_errors(tmp_path):
    toml = tmp_path / "space.toml"
    toml.write_text('[chunk_size]\nlow = 64\nhigh = 256\nstep = 64\n[mode]\nchoices = ["mix"]\n')
    space = load_space(toml)
    assert space["chunk_size"] == Knob("chunk_size", 64, 256, step=64)
    assert needs_graph(space, "standard")
    as_json = tmp_path / "space.json"
    as_json.write_text(json.dumps({"fusion": {"choices": ["none", "rrf"]}}))
    assert not needs_graph(load_space(as_json), "standard")
    for bad, message in [
        ({"no_such": {"low": 1, "high": 2}}, "cannot be tuned"),
        ({"chunk_size": {"low": 9, "high": 2}}, "above high"),
        ({"chunk_size": {"lo": 1}}, "unknown range field"),
        ({"mode": {"choices": ["nonsense"]}}, "mode choices"),
        ({}, "empty"),
    ]:
        as_json.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=message):
            load_space(as_json)


def test_study_resumes_after_restart_and_skips_the_graph(tiny, tmp_path):
    dataset = tiny[0]
    settings = Settings(log_to_file=False, data_dir=tmp_path / "unused")
    first = run_study(dataset, settings, tmp_path / "study", trials=2, space=SPACE, held_out=0.3)
    before = [(t.number, t.params, t.values) for t in first.study.trials]
    assert len(before) == 2
    # a new process would do exactly this: open the storage and ask for more trials
    storage = f"sqlite:///{tmp_path / 'study' / 'study.sqlite3'}"
    assert first.study.study_name.startswith("ndcg@10-")
    assert len(optuna.load_study(study_name=first.study.study_name, storage=storage).trials) == 2
    second = run_study(dataset, settings, tmp_path / "study", trials=4, space=SPACE, held_out=0.3)
    after = [(t.number, t.params, t.values) for t in second.study.trials]
    assert len(after) == 4 and after[:2] == before
    # asking for no more trials than it holds runs none
    third = run_study(dataset, settings, tmp_path / "study", trials=3, space=SPACE, held_out=0.3)
    assert len(third.study.trials) == 4
    # one index per chunking, none with a graph (the objective is standard-only)
    indexes = sorted((tmp_path / "study" / "indexes").iterdir())
    assert 1 <= len(indexes) <= 3  # two chunk sizes tried at most, plus the default's
    assert sum(bool(t.user_attrs.get("index_reused")) for t in second.study.trials) >= 1
    build = [json.loads((p / "tuner-build.json").read_text()) for p in indexes]
    assert all(b["excerpts"] > 0 for b in build)
    from smolrag_lab import SmolRag

    with SmolRag(second.runner.settings_for({}), log_to_file=False) as rag:
        assert rag.index.graph.number_of_nodes() == 0
    # the held-out table: the default first, then the best trials paired against it
    assert second.rows[0]["configuration"] == "default"
    assert all(r["n"] == 3 for r in second.rows)
    assert all("delta_p_value" in r for r in second.rows[1:])
    table = held_out_table(second)
    assert "(reference)" in table and "95% CI" in table
    summary = study_summary(second)
    assert summary["tune_questions"] == 7 and summary["seconds_per_trial"]["total"] > 0
    # a changed split is refused instead of mixing two experiments in one study
    with pytest.raises(ValueError, match="other tune questions"):
        run_study(dataset, settings, tmp_path / "study", trials=5, space=SPACE, seed=9)


def test_tune_cli_runs_a_study_from_a_space_file(tiny, tmp_path):
    _, queries, corpus = tiny
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"excerpt_top_k": {"low": 1, "high": 3}}))
    env = {**os.environ, "SMOLRAG_DATA_DIR": str(tmp_path / "data"), "SMOLRAG_LOG_TO_FILE": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "smolrag_lab.cli", "tune", "--dataset", str(queries)]
        + ["--corpus", str(corpus), "--trials", "2", "--space", str(space)]
        + ["--objective", "recall@3", "--study-dir", str(tmp_path / "study")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "trial 0:" in done.stdout and "| default |" in done.stdout
    summary = json.loads((tmp_path / "study" / "tune.json").read_text())
    assert summary["objective"] == "recall@3" and len(summary["trials"]) == 2
    assert set(summary["best_params"]) == {"excerpt_top_k"}
    bad = subprocess.run(
        [sys.executable, "-m", "smolrag_lab.cli", "tune", "--dataset", str(queries)]
        + ["--corpus", str(corpus), "--objective", "nonsense@3"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 1 and "unknown objective" in bad.stderr
