"""Indexes written before the graph became rows kept it in ``graph.graphml``, saved every few
seconds and tagged with the index version it reflected. Opening one converts it once: its nodes
and edges become rows in the same transaction that records the new layout, and a graph that lagged
behind the records (an interrupted run) leaves the crash marker, so the opening engine re-derives
it from the stored extractions. The file is then renamed ``graph.graphml.converted``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .graph import read_graphml

LAYOUT = "graph-rows-1"  # meta["layout"] of an index whose graph is rows


def convert_legacy_graph(index: Any, path: Path) -> bool:
    """Convert ``path`` (if this index still has the old layout); True if it was converted now."""
    if index.meta.get("layout") == LAYOUT:
        return False
    graph = read_graphml(path) if path.exists() else None
    with index.db.transaction():
        if index.meta.get("layout") == LAYOUT:  # another process converted it meanwhile
            return False
        if graph is not None:
            index.write_graph(
                {k: dict(a) for k, a in graph.nodes(data=True)},
                {(a, b): dict(d) for a, b, d in graph.edges(data=True)},
            )
        saved = int(graph.graph.get("index_version", 0)) if graph is not None else 0
        if len(index.documents) and saved != index.version:
            index.meta.set("writing", {"pid": os.getpid(), "since": time.time(), "converted": True})
        index.meta.set("layout", LAYOUT)
    if graph is not None:
        os.replace(path, path.with_name(path.name + ".converted"))
    return graph is not None
