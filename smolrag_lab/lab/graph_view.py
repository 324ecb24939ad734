"""Knowledge-graph views: statistics, filtered subgraphs, the subgraph a query used, and an interactive
pyvis page that works offline (vis-network inlined, no CDN tags left in the page).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from ..engine import QueryResult, SmolRag
from ..ingest.graph_merge import entity_view, relationship_view
from ..stores.atomic import atomic_writer

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
HIGHLIGHT, DIMMED = "#d62728", "#cfcfcf"
_REMOTE_TAG = re.compile(
    r"<(?:link|script)\b[^>]*(?:href|src)=\"(?:https?:)?//[^\"]*\"[^>]*>(?:\s*</script>)?"
    r"|<(?:link|script)\b[^>]*(?:href|src)=\"\.\./node_modules/[^\"]*\"[^>]*>(?:\s*</script>)?",
    re.DOTALL,
)
# Marks the page once vis-network has drawn: tests and users can read how many nodes are on screen.
_STATUS_SCRIPT = """
<div id="smolrag-graph-status" data-drawn-nodes="-1" style="font:12px sans-serif;color:#555">drawing...</div>
<script type="text/javascript">
(function waitForNetwork() {
  if (typeof network === "undefined" || !network.body) { return setTimeout(waitForNetwork, 50); }
  var mark = function () {
    var el = document.getElementById("smolrag-graph-status");
    var drawn = network.body.nodeIndices.length;
    el.setAttribute("data-drawn-nodes", String(drawn));
    el.textContent = drawn + " nodes, " + network.body.edgeIndices.length + " edges drawn";
  };
  network.on("afterDrawing", mark);
  network.on("stabilized", mark);
  network.redraw();
})();
</script>
"""


def graph_stats(graph: nx.Graph) -> dict[str, Any]:
    components = list(nx.connected_components(graph)) if graph.number_of_nodes() else []
    degrees = [d for _, d in graph.degree()]
    return {
        "entities": graph.number_of_nodes(),
        "relationships": graph.number_of_edges(),
        "components": len(components),
        "largest_component": max(map(len, components), default=0),
        "isolated": sum(1 for d in degrees if d == 0),
        "density": round(nx.density(graph), 5) if degrees else 0.0,
        "mean_degree": round(sum(degrees) / len(degrees), 2) if degrees else 0.0,
        "max_degree": max(degrees, default=0),
    }


def degree_distribution(graph: nx.Graph) -> pd.Series:
    """How many entities have each degree."""
    counts = Counter(d for _, d in graph.degree())
    return pd.Series(dict(sorted(counts.items())), name="entities").rename_axis("degree")


def entity_types(rag: SmolRag) -> list[str]:
    graph = rag.index.graph.graph
    return sorted({entity_view(graph, k, 1)["type"] for k in graph.nodes})


def document_names(rag: SmolRag) -> list[str]:
    return sorted(Path(d["source"]).name for _, d in rag.index.documents.items())


def filter_graph(
    rag: SmolRag,
    types: Iterable[str] | None = None,
    min_degree: int = 0,
    document: str | None = None,
    max_nodes: int = 200,
) -> nx.Graph:
    """The subgraph of entities of ``types``, with at least ``min_degree`` relationships, mentioned in
    ``document`` (a file name); the ``max_nodes`` best connected of them.
    """
    graph = rag.index.graph.graph
    keys: Iterable[str] = graph.nodes
    if document:
        docs = [d for _, d in rag.index.documents.items() if Path(d["source"]).name == document]
        keys = {k for d in docs for k in d.get("entity_keys", []) if k in graph}
    wanted = set(types) if types else None
    keys = [
        k
        for k in keys
        if graph.degree(k) >= min_degree
        and (wanted is None or entity_view(graph, k, 1)["type"] in wanted)
    ]
    keys = sorted(keys, key=lambda k: (-graph.degree(k), k))[:max_nodes]
    return graph.subgraph(keys).copy()


def query_subgraph(
    rag: SmolRag, result: QueryResult, neighbours: int = 0
) -> tuple[nx.Graph, set, set]:
    """The entities and relationships that reached ``result``'s context (to highlight), plus up to
    ``neighbours`` of each entity's strongest neighbours for context. Returns (subgraph, nodes, edges).
    """
    graph = rag.index.graph.graph
    used_edges = {tuple(r["pair"]) for r in result.relationships if graph.has_edge(*r["pair"])}
    used_nodes = {e["key"] for e in result.entities if e["key"] in graph} | {
        k for pair in used_edges for k in pair
    }
    keep = set(used_nodes)
    for key in used_nodes:
        ranked = sorted(graph[key], key=lambda n: -float(graph.edges[key, n].get("weight", 0.0)))
        keep.update(ranked[:neighbours])
    return graph.subgraph(keep).copy(), used_nodes, used_edges


def graph_html(
    rag: SmolRag,
    subgraph: nx.Graph,
    highlight_nodes: set | None = None,
    highlight_edges: set | None = None,
    height: str = "650px",
) -> str:
    """A self-contained page: vis-network inlined, remote tags removed, a status line that reports how
    many nodes were drawn. Nodes are coloured by type (or red when highlighted), sized by degree.
    """
    from pyvis.network import Network

    graph, s = rag.index.graph.graph, rag.settings
    types = entity_types(rag)
    net = Network(height=height, width="100%", cdn_resources="in_line", bgcolor="#ffffff")
    legend: dict[str, str] = {}
    for key in subgraph.nodes:
        view = entity_view(graph, key, 3)
        colour = (
            PALETTE[types.index(view["type"]) % len(PALETTE)] if view["type"] in types else DIMMED
        )
        legend[view["type"]] = colour
        if highlight_nodes is not None:
            colour = HIGHLIGHT if key in highlight_nodes else DIMMED
        net.add_node(
            key,
            label=view["name"],
            color=colour,
            size=8 + 3 * min(view["degree"], 20) ** 0.5 * 2,
            title=f"{view['name']} ({view['type']}, degree {view['degree']})\n{view['description'][:300]}",
        )
    for pair in subgraph.edges:
        view = relationship_view(graph, pair, 2, 5)
        used = highlight_edges is not None and (
            pair in highlight_edges or pair[::-1] in highlight_edges
        )
        net.add_edge(
            *pair,
            width=1 + min(view["weight"], 10) / 2,
            color=HIGHLIGHT if used else "#999999",
            title=f"{view['source']} - {view['target']}: {', '.join(view['keywords'])}\n"
            f"{view['description'][:300]}",
        )
    net.toggle_physics(subgraph.number_of_nodes() <= 400)
    if highlight_nodes is not None:
        legend = {"in the query's context": HIGHLIGHT, "neighbour": DIMMED}
    page = _REMOTE_TAG.sub("", net.generate_html(notebook=False))
    return page.replace("</body>", _legend_html(legend) + _STATUS_SCRIPT + "</body>", 1)


def _legend_html(legend: dict[str, str]) -> str:
    items = " ".join(
        f'<span style="white-space:nowrap"><span style="color:{c}">&#9679;</span> {html.escape(t)}</span>'
        for t, c in sorted(legend.items())
    )
    return f'<div style="font:12px sans-serif;margin:4px 0">{items}</div>'


def save_graph_html(page: str, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path, "w") as handle:
        handle.write(page)
    return path


def iframe(page: str, height: int = 680) -> str:
    """Embed a page in a notebook output without writing a file (``srcdoc``), so it works offline."""
    return (
        f'<div class="smolrag-graph"><iframe srcdoc="{html.escape(page, quote=True)}" '
        f'style="width:100%;height:{height}px;border:0" sandbox="allow-scripts"></iframe></div>'
    )
