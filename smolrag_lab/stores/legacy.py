"""Indexes of earlier layouts are converted once, on the first writable opening.

- ``graph.graphml`` (before the graph became rows) kept the graph in a file saved every few seconds
  and tagged with the index version it reflected. Its nodes and edges become rows; a graph that
  lagged behind the records (an interrupted run) leaves the crash marker, so the opening engine
  re-derives it from the stored extractions. The file is then renamed ``graph.graphml.converted``.
- ``graph-rows-1`` kept each item's whole history (every document's part) in its one row, so a
  commit rewrote, and every reader re-read, the largest rows. Its rows are split into contributions.

Both conversions run in one transaction with the record of the new layout.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import networkx as nx

from .graph import as_write, read_graphml

LAYOUT = "graph-rows-2"  # meta["layout"]: items and per-document contributions as rows


def convert_legacy_graph(index: Any, path: Path | None) -> bool:
    """Convert this index if it has an earlier layout; True if it was converted now."""
    if index.meta.get("layout") == LAYOUT:
        return False
    graphml = read_graphml(path) if path is not None and path.exists() else None
    with index.db.transaction():
        if index.meta.get("layout") == LAYOUT:  # another process converted it meanwhile
            return False
        graph = graphml if graphml is not None else _whole_rows(index)
        if graph is not None:
            index.write_graph(as_write(graph))
        if graphml is not None:
            saved = int(graphml.graph.get("index_version", 0))
            if len(index.documents) and saved != index.version:
                marker = {"pid": os.getpid(), "since": time.time(), "converted": True}
                index.meta.set("writing", marker)
        index.meta.set("layout", LAYOUT)
    if graphml is not None and path is not None:
        os.replace(path, path.with_name(path.name + ".converted"))
    return graph is not None


def _whole_rows(index: Any) -> nx.Graph | None:
    """The graph of a ``graph-rows-1`` index (rows holding every document's part), if it is one."""
    nodes, edges = index.graph.item_rows()
    if not any("excerpt_ids" in attrs for _, attrs in nodes):
        return None
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    return graph
