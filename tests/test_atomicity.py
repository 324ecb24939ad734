"""A writer killed with SIGKILL mid-save leaves the previous state readable."""

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from killable_writer import vector_for

from smolrag_lab.stores import GraphView, MmapVectorStore, RowGraphStore, SqliteDatabase

WRITER = Path(__file__).with_name("killable_writer.py")


def run_and_kill(kind: str, path: Path, seconds: float) -> None:
    """Start a writer, wait until its first batch is durable, let it write on for ``seconds``, kill
    it.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), kind, str(path)], env=env, stdout=subprocess.PIPE
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready and proc.stdout.readline().strip() == b"committed", (
            "the writer never committed"
        )
        time.sleep(seconds)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()


def test_vector_store_survives_sigkill_at_random_points(tmp_path):
    rng = random.Random(7)
    path = tmp_path / "vec"
    for _ in range(6):
        run_and_kill("vector", path, rng.uniform(0.05, 0.6))
        store = MmapVectorStore(path, dim=32)
        ids = store.ids()
        assert ids, "the writer never committed"
        assert len(store) == len(set(ids))
        sample = rng.sample(ids, min(200, len(ids)))
        stored = store.get_vectors(sample)
        expected = np.stack([vector_for(i) for i in sample])
        expected /= np.linalg.norm(expected, axis=1, keepdims=True)
        assert np.allclose(stored, expected, atol=1e-6), "a row holds bytes of another write"
        hits = store.query(expected[0], 1)
        assert hits[0].id == sample[0]
        batches = {}
        for item in ids:
            batches.setdefault(item.split("-")[0], []).append(item)
        assert all(len(v) in (40, 50) for v in batches.values()), "a batch landed half-way"
        store.close()


def test_graph_rows_survive_sigkill_mid_write(tmp_path):
    rng = random.Random(3)
    path = tmp_path / "index.sqlite"
    for _ in range(4):
        run_and_kill("graph", path, rng.uniform(0.05, 0.7))
        db = SqliteDatabase(path)
        graph = RowGraphStore(db)
        view = GraphView()
        view.apply(graph.changes_since(-1, 0))
        nodes, edges = graph.number_of_nodes(), graph.number_of_edges()
        assert nodes >= 200 and nodes % 200 == 0 and edges == 199 * nodes // 200  # whole batches
        assert view.graph.number_of_nodes() == nodes
        db.close()
