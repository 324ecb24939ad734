"""Knowledge-graph views: statistics, filtered subgraphs, the subgraph a query used, and an
interactive pyvis page that works offline (vis-network inlined, no CDN tags left in the page). The
page is readable by default: the best connected nodes carry labels at any zoom, tooltips wrap and
hold the description and source excerpts, the legend sits above the drawing, a search box finds
nodes, and a click shows a node's excerpts and adds its strongest neighbours that are not drawn yet.

Code identifiers and file names that an offline extractor takes for entities are typed ``code`` and
``file`` here (:func:`entity_kind`) and left out of the default views, so the picture shows
concepts.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from ..engine import SmolRag
from ..ingest.graph_merge import entity_view, relationship_view
from ..query.result import QueryResult
from ..stores.atomic import atomic_writer

# Okabe-Ito first (colour-blind safe), then Tableau's muted tones for further types.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#8c564b",
    "#7f7f7f",
    "#bcbd22",
)
HIGHLIGHT, DIMMED = "#d62728", "#cfcfcf"
HIDDEN_KINDS = ("code", "file")
# At most this many best-connected nodes (a third of those drawn, at least 5) get a large label,
# sized by the page to stay readable at the zoom that fits the graph (graph_page.js).
LABELLED_NODES = 25
_CODE_TYPES = {"identifier", "variable", "function", "method", "class", "code", "parameter"}
_FILE = re.compile(
    r"^[\w./-]+\.(?:py|md|mdx|json|ya?ml|toml|txt|js|ts|html|css|sh|ipynb|cfg|ini|csv|rst)$"
)
_CODE = re.compile(r"\(\)|^\w+(?:\.\w+)+$|^[a-z]+[A-Z]\w*$|^\w*_\w*$|^--?\w|[{}<>=\[\]]")
_REMOTE_TAG = re.compile(
    r"<(?:link|script)\b[^>]*(?:href|src)=\"(?:https?:)?//[^\"]*\"[^>]*>(?:\s*</script>)?"
    r"|<(?:link|script)\b[^>]*(?:href|src)=\"\.\./node_modules/[^\"]*\"[^>]*>(?:\s*</script>)?",
    re.DOTALL,
)
_PAGE_JS = (Path(__file__).with_name("graph_page.js")).read_text(encoding="utf-8")
_PAGE_CSS = (
    "<style>div.vis-tooltip{white-space:pre-wrap!important;max-width:420px;font:12px sans-serif}"
    "#smolrag-graph-bar{font:12px sans-serif;display:flex;flex-wrap:wrap;gap:6px 14px;"
    "align-items:center;margin:2px 0 4px}"
    "#smolrag-node-info{font:12px sans-serif;white-space:pre-wrap;"
    "max-height:180px;overflow:auto;border-top:1px solid #ddd;padding-top:4px}</style>"
)


def graph_of(rag: SmolRag) -> nx.Graph:
    """The engine's graph view as networkx (refreshed when another process commits)."""
    return rag.graph()


def entity_kind(view: dict[str, Any]) -> str:
    """The entity's type, or ``file`` / ``code`` for file names and code identifiers."""
    name = view["name"].strip().strip("`")
    if _FILE.match(name):
        return "file"
    if view["type"] in _CODE_TYPES or (" " not in name and _CODE.search(name)):
        return "code"
    return view["type"]


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


def entity_kinds(rag: SmolRag) -> dict[str, str]:
    graph = graph_of(rag)
    return {k: entity_kind(entity_view(graph, k, 1)) for k in graph.nodes}


def entity_types(rag: SmolRag) -> list[str]:
    return sorted(set(entity_kinds(rag).values()))


def default_types(rag: SmolRag) -> list[str]:
    """Every type except code identifiers and file names."""
    return [t for t in entity_types(rag) if t not in HIDDEN_KINDS]


def document_names(rag: SmolRag) -> list[str]:
    return sorted(Path(d["source"]).name for _, d in rag.index.documents.items())


def filter_graph(
    rag: SmolRag,
    types: Iterable[str] | None = None,
    min_degree: int = 0,
    document: str | None = None,
    max_nodes: int = 200,
    search: str = "",
) -> nx.Graph:
    """The subgraph of entities of ``types`` (default: all but code and file names), with at least
    ``min_degree`` relationships, mentioned in ``document`` (a file name), whose name contains
    ``search``; the ``max_nodes`` best connected of them.
    """
    graph, kinds = graph_of(rag), entity_kinds(rag)
    keys: Iterable[str] = graph.nodes
    if document:
        docs = [d for _, d in rag.index.documents.items() if Path(d["source"]).name == document]
        keys = {k for d in docs for k in d.get("entity_keys", []) if k in graph}
    wanted = set(types) if types else {t for t in kinds.values() if t not in HIDDEN_KINDS}
    needle = search.strip().lower()
    keys = [
        k
        for k in keys
        if graph.degree(k) >= min_degree
        and kinds[k] in wanted
        and (not needle or needle in graph.nodes[k].get("name", k).lower())
    ]
    keys = sorted(keys, key=lambda k: (-graph.degree(k), k))[:max_nodes]
    return graph.subgraph(keys).copy()


def query_subgraph(
    rag: SmolRag, result: QueryResult, neighbours: int = 0, limit: int | None = None
) -> tuple[nx.Graph, set, set]:
    """The entities and relationships that reached ``result``'s context (to highlight), plus up to
    ``neighbours`` of each entity's strongest neighbours for context. With ``limit``, only the
    ``limit`` best-ranked entities and relationships are kept, so a broad query stays readable.
    Returns (subgraph, nodes, edges).
    """
    graph = graph_of(rag)
    relationships = [r for r in result.relationships if graph.has_edge(*r["pair"])][:limit]
    used_edges = {tuple(r["pair"]) for r in relationships}
    entities = [e["key"] for e in result.entities if e["key"] in graph][:limit]
    used_nodes = set(entities) | {k for pair in used_edges for k in pair}
    keep = set(used_nodes)
    for key in entities if limit else used_nodes:
        ranked = sorted(graph[key], key=lambda n: -float(graph.edges[key, n].get("weight", 0.0)))
        keep.update(ranked[:neighbours])
    return graph.subgraph(keep).copy(), used_nodes, used_edges


def _excerpt_lines(rag: SmolRag, excerpt_ids: list[str], shown: int = 3) -> str:
    from .tables import text_preview

    records = rag.index.excerpts.get_many(excerpt_ids[:shown])
    lines = [
        f"• {Path(r['source']).name}: {text_preview(r['text'], 220)}"
        for i in excerpt_ids[:shown]
        if (r := records.get(i))
    ]
    more = len(excerpt_ids) - shown
    return "\n".join(lines + ([f"… and {more} more excerpts"] if more > 0 else []))


def _node(rag: SmolRag, key: str, colours: dict[str, str], labelled: bool) -> dict[str, Any]:
    """One vis node: coloured by kind, sized by degree, large label for the best connected."""
    from .tables import text_preview

    view = entity_view(graph_of(rag), key, 3)
    kind = entity_kind(view)
    title = (
        f"{view['name']} ({kind}, degree {view['degree']})\n\n"
        f"{text_preview(view['description'], 500)}\n\nSources:\n"
        f"{_excerpt_lines(rag, view['excerpt_ids'])}"
    )
    return {
        "id": key,
        "label": view["name"],
        "color": colours.get(kind, DIMMED),
        "size": 8 + 6 * min(view["degree"], 20) ** 0.5,
        "title": title,
        "font": {"size": 34 if labelled else 14, "strokeWidth": 4 if labelled else 0},
        "kind": kind,
    }


def _edge_title(graph: nx.Graph, pair: tuple[str, str]) -> str:
    from .tables import text_preview

    view = relationship_view(graph, pair, 2, 5)
    return (
        f"{view['source']} – {view['target']} (weight {view['weight']:g})\n"
        f"{', '.join(view['keywords'])}\n{text_preview(view['description'], 400)}"
    )


def _expansions(rag: SmolRag, subgraph: nx.Graph, colours: dict[str, str], per_node: int) -> dict:
    """Per drawn node: its ``per_node`` strongest neighbours not drawn, as vis nodes and edges."""
    graph, out = graph_of(rag), {}
    for key in subgraph.nodes:
        hidden = [n for n in graph[key] if n not in subgraph]
        hidden.sort(key=lambda n: -float(graph.edges[key, n].get("weight", 0.0)))
        if hidden:
            out[key] = {
                "nodes": [_node(rag, n, colours, False) for n in hidden[:per_node]],
                "edges": [
                    {
                        "from": key,
                        "to": n,
                        "title": _edge_title(graph, (key, n)),
                        "color": "#999999",
                    }
                    for n in hidden[:per_node]
                ],
            }
    return out


def graph_html(
    rag: SmolRag,
    subgraph: nx.Graph,
    highlight_nodes: set | None = None,
    highlight_edges: set | None = None,
    height: str = "600px",
    expand: int = 5,
) -> str:
    """A self-contained page: vis-network inlined, remote tags removed, a status line that reports
    how many nodes were drawn, a legend and a search box above the drawing, a node panel below it.
    Nodes are coloured by kind (or red when highlighted), sized by degree.
    """
    from pyvis.network import Network

    graph = graph_of(rag)
    types = entity_types(rag)
    colours = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(types)}
    net = Network(height=height, width="100%", cdn_resources="in_line", bgcolor="#ffffff")
    ranked = sorted(subgraph.nodes, key=lambda k: (-graph.degree(k), k))
    labelled = set(ranked[: min(LABELLED_NODES, max(5, len(ranked) // 3))])
    legend: dict[str, str] = {}
    for key in ranked:
        node = _node(rag, key, colours, key in labelled)
        legend[node.pop("kind")] = node["color"]
        if highlight_nodes is not None:
            node["color"] = HIGHLIGHT if key in highlight_nodes else DIMMED
        net.add_node(key, **{k: v for k, v in node.items() if k != "id"})
    for pair in subgraph.edges:
        weight = float(graph.edges[pair].get("weight", 1.0))
        used = highlight_edges is not None and (
            pair in highlight_edges or pair[::-1] in highlight_edges
        )
        net.add_edge(
            *pair,
            width=1 + min(weight, 10) / 2,
            color=HIGHLIGHT if used else "#999999",
            title=_edge_title(graph, pair),
        )
    net.toggle_physics(subgraph.number_of_nodes() <= 400)
    if highlight_nodes is not None:
        legend = {"in the query's context": HIGHLIGHT, "strongest neighbour": DIMMED}
    page = _REMOTE_TAG.sub("", net.generate_html(notebook=False))
    page = page.replace("</head>", _PAGE_CSS + "</head>", 1)
    page = page.replace("<body>", "<body>" + _header_html(legend), 1)
    extras = json.dumps(_expansions(rag, subgraph, colours, expand)).replace("</", "<\\/")
    script = f"<script>var smolragExpansions = {extras};\n{_PAGE_JS}</script>"
    return page.replace("</body>", '<div id="smolrag-node-info"></div>' + script + "</body>", 1)


def _header_html(legend: dict[str, str]) -> str:
    items = " ".join(
        f'<span style="white-space:nowrap"><span style="color:{c}">&#9679;</span> '
        f"{html.escape(t)}</span>"
        for t, c in sorted(legend.items())
    )
    return (
        '<div id="smolrag-graph-bar"><input id="smolrag-node-search" type="search" '
        'placeholder="find a node" style="width:14em"> <span id="smolrag-search-status"></span>'
        f'{items}<span id="smolrag-graph-status" data-drawn-nodes="-1" style="color:#555">'
        "drawing...</span></div>"
    )


def save_graph_html(page: str, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path, "w") as handle:
        handle.write(page)
    return path


def iframe(page: str, height: int = 860) -> str:
    """Embed a page in a notebook output without a file (``srcdoc``), so it works offline."""
    return (
        f'<div class="smolrag-graph"><iframe srcdoc="{html.escape(page, quote=True)}" '
        f'style="width:100%;height:{height}px;border:0" sandbox="allow-scripts"></iframe></div>'
    )
