"""Writes to a store in a loop until it is killed; used by the atomicity tests.

usage: killable_writer.py vector|graph PATH
Prints "committed" once its first batch is durable, so a test can kill it at a random point after
that however slowly the interpreter started. Vector batches are 50 rows whose values derive from
their ids, so a reader can tell a torn write.
"""

import sys

import numpy as np

from smolrag_lab.stores import MmapVectorStore, RowGraphStore, SqliteDatabase
from smolrag_lab.stores.graph import GraphWrite, edge_item


def vector_for(item_id: str, dim: int = 32) -> np.ndarray:
    seed = int(item_id.split("-")[0][1:]) * 1000 + int(item_id.split("-")[1])
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def announce_first(batch: int, first: int) -> None:
    if batch == first:
        print("committed", flush=True)


def main() -> None:
    kind, path = sys.argv[1], sys.argv[2]
    batch = 0
    if kind == "vector":
        store = MmapVectorStore(path, dim=32)
        batch = first = len(store) // 50
        while True:
            ids = [f"b{batch}-{i}" for i in range(50)]
            store.upsert(ids, np.stack([vector_for(i) for i in ids]))
            if batch % 4 == 3:
                store.delete(ids[:10])
            announce_first(batch, first)
            batch += 1
    db = SqliteDatabase(path)
    graph = RowGraphStore(db)
    batch = first = graph.number_of_nodes() // 200
    while True:
        change, doc = GraphWrite(), f"d{batch}"
        for i in range(200):
            key = f"n{batch}-{i}"
            change.created[("n", key, "")] = {"name": key}
            change.contributions[("n", key, "", doc)] = {
                "descriptions": [f"node {i} " * 20],
                "types": {"thing": 1},
                "excerpt_ids": [f"{doc}:{i:04d}"],
            }
        for i in range(199):
            item = edge_item((f"n{batch}-{i}", f"n{batch}-{i + 1}"))
            change.created[item] = {}
            change.contributions[(*item, doc)] = {
                "descriptions": [],
                "keywords": [],
                "weight": 1.0,
                "excerpt_ids": [f"{doc}:{i:04d}"],
            }
        with db.transaction():
            graph.write(change, batch + 1)
        announce_first(batch, first)
        batch += 1


if __name__ == "__main__":
    main()
