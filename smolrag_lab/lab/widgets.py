"""ipywidgets panels for the notebooks: ingestion set-up (from :mod:`.ingest_panel`) and the query
and graph explorers. Each panel's action is also a plain method (``IngestPanel.run``,
``QueryExplorer.ask``), so notebooks run headless under nbval and tests drive the same code a click
would.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
from IPython.display import HTML, display

from ..engine import QueryResult, SmolRag
from ..query.planner import QUERY_TYPES
from . import graph_view
from .ingest_panel import IngestPanel, IngestProgressView
from .render import compare_html, compare_modes, history_table, result_html

__all__ = ["GraphExplorer", "IngestPanel", "IngestProgressView", "QueryExplorer", "heatmap_picker"]

_WIDE = {"description_width": "initial"}


class QueryExplorer:
    """Question, mode, top-k, similarity threshold and the two excerpt budgets; *Ask* shows the
    answer with its numbered sources, what each control bounded, the step timeline and (for
    ``auto``) the chosen mode and why. *Compare modes* runs all five side by side; the history lists
    the session's queries; *Query subgraph* draws the graph items the last answer used.
    """

    def __init__(self, rag: SmolRag, question: str = "", mode: str = "mix") -> None:
        s = rag.settings
        self.rag = rag
        self.question = widgets.Textarea(
            value=question,
            placeholder="Ask a question about the corpus",
            layout=widgets.Layout(width="80%", height="4em"),
        )
        self.mode = widgets.Dropdown(options=QUERY_TYPES, value=mode, description="mode")
        self.top_k = widgets.IntSlider(
            value=s.excerpt_top_k, min=1, max=30, description="top-k (vector + BM25)", style=_WIDE
        )
        self.threshold = widgets.FloatSlider(
            value=s.excerpt_threshold,
            min=-0.2,
            max=0.9,
            step=0.01,
            description="min cosine",
            style=_WIDE,
        )
        budget = {"min": 0, "max": 16000, "step": 200, "style": _WIDE}
        self.budget = widgets.IntSlider(
            value=s.excerpt_token_budget, description="vector excerpt budget", **budget
        )
        self.graph_budget = widgets.IntSlider(
            value=s.kg_excerpt_token_budget, description="graph excerpt budget", **budget
        )
        self.note = widgets.HTML(
            "<small>top-k bounds the vector + BM25 half; graph modes add excerpts from the "
            "entities "
            "and relationships found, up to the graph excerpt budget. Budgets are per section "
            f"(entities {s.entity_token_budget:,} and relationships "
            f"{s.relationship_token_budget:,} tokens besides these two).</small>"
        )
        self.ask_button = widgets.Button(description="Ask", button_style="primary", icon="search")
        self.compare_button = widgets.Button(description="Compare modes", icon="columns")
        self.graph_button = widgets.Button(description="Query subgraph", icon="project-diagram")
        # The answer goes into an HTML widget, not an Output: its anchors and citation clicks stay
        # as written (an output area's sanitizer may drop ids and handlers).
        self.view = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.view.add_class("srl-view")
        self.output = widgets.Output()
        self.history_output = widgets.Output()
        self.ask_button.on_click(lambda _: self.ask())
        self.compare_button.on_click(lambda _: self.compare())
        self.graph_button.on_click(lambda _: self.show_subgraph())
        self.last: QueryResult | None = None
        self.history: list[QueryResult] = []

    @property
    def widget(self) -> widgets.Widget:
        controls = widgets.HBox([self.mode, self.top_k, self.threshold])
        return widgets.VBox(
            [
                self.question,
                controls,
                widgets.HBox([self.budget, self.graph_budget]),
                self.note,
                widgets.HBox([self.ask_button, self.compare_button, self.graph_button]),
                self.view,
                self.output,
                widgets.HTML("<b>This session's queries</b>"),
                self.history_output,
            ]
        )

    def _ipython_display_(self) -> None:
        display(self.widget)

    def overrides(self) -> dict[str, Any]:
        """The controls as query-time settings."""
        return {
            "excerpt_top_k": self.top_k.value,
            "excerpt_threshold": self.threshold.value,
            "entity_threshold": self.threshold.value,
            "relationship_threshold": self.threshold.value,
            "excerpt_token_budget": self.budget.value,
            "kg_excerpt_token_budget": self.graph_budget.value,
        }

    def ask(self, question: str | None = None, mode: str | None = None) -> QueryResult:
        if question is not None:
            self.question.value = question
        if mode is not None:
            self.mode.value = mode
        result = self.rag.query(self._question(), self.mode.value, **self.overrides())
        self.last = result
        self.history.append(result)
        self.output.clear_output()
        self.view.value = result_html(
            result, settings=self.rag.settings.replace(**self.overrides())
        )
        self.history_output.clear_output()
        with self.history_output:
            display(history_table(self.history))
        return result

    def compare(self, question: str | None = None) -> dict[str, QueryResult]:
        if question is not None:
            self.question.value = question
        self.output.clear_output()
        with self.output:
            table, results = compare_modes(self.rag, self._question(), **self.overrides())
            display(table)
        self.view.value = compare_html(results)
        return results

    def show_subgraph(self) -> str:
        """The graph items the last answer's context held (best ranked) and their neighbours."""
        result = self.last or self.ask()
        sub, nodes, edges = graph_view.query_subgraph(self.rag, result, neighbours=1, limit=12)
        page = graph_view.graph_html(self.rag, sub, nodes, edges)
        with self.output:
            print(f"query subgraph: {len(nodes)} entities used, {sub.number_of_nodes()} drawn")
            display(HTML(graph_view.iframe(page)))
        return page

    def _question(self) -> str:
        text = self.question.value.strip()
        if not text:
            raise ValueError("type a question first")
        return text


class GraphExplorer:
    """Entity types (code identifiers and file names off by default), minimum degree, one document,
    a name search and a node cap select a subgraph; *Draw* renders it with pyvis inline. A question
    typed in the box draws the subgraph its answer used (*Query subgraph*).
    """

    def __init__(self, rag: SmolRag, max_nodes: int = 150, min_degree: int = 2) -> None:
        self.rag = rag
        self.types = widgets.SelectMultiple(
            options=graph_view.entity_types(rag),
            value=tuple(graph_view.default_types(rag)),
            description="types",
            rows=6,
        )
        self.min_degree = widgets.IntSlider(
            value=min_degree, min=0, max=50, description="min degree", style=_WIDE
        )
        self.document = widgets.Dropdown(
            options=[("all documents", "")] + [(d, d) for d in graph_view.document_names(rag)],
            description="document",
        )
        self.max_nodes = widgets.IntSlider(
            value=max_nodes, min=1, max=1000, description="max nodes", style=_WIDE
        )
        self.search = widgets.Text(description="name contains", style=_WIDE)
        self.button = widgets.Button(
            description="Draw", button_style="primary", icon="project-diagram"
        )
        self.question = widgets.Text(
            placeholder="a question: draw what its answer used",
            layout=widgets.Layout(width="60%"),
        )
        self.mode = widgets.Dropdown(options=QUERY_TYPES, value="hybrid_kg", description="mode")
        self.query_button = widgets.Button(description="Query subgraph", icon="search")
        self.output = widgets.Output()
        self.button.on_click(lambda _: self.draw())
        self.query_button.on_click(lambda _: self.draw_query())
        self.page: str = ""

    @property
    def widget(self) -> widgets.Widget:
        filters = widgets.VBox(
            [self.min_degree, self.document, self.max_nodes, self.search, self.button]
        )
        return widgets.VBox(
            [
                widgets.HBox([self.types, filters]),
                widgets.HBox([self.question, self.mode, self.query_button]),
                self.output,
            ]
        )

    def _ipython_display_(self) -> None:
        display(self.widget)

    def subgraph(self) -> Any:
        return graph_view.filter_graph(
            self.rag,
            self.types.value,
            self.min_degree.value,
            self.document.value or None,
            self.max_nodes.value,
            self.search.value,
        )

    def draw(self) -> Any:
        """Render the selected subgraph; returns it (a networkx graph)."""
        sub = self.subgraph()
        self._show(sub, graph_view.graph_html(self.rag, sub))
        return sub

    def draw_query(self, question: str | None = None, limit: int = 12) -> Any:
        """The subgraph the answer to ``question`` used: its ``limit`` best-ranked entities and
        relationships (in red) and each entity's strongest neighbour.
        """
        if question is not None:
            self.question.value = question
        text = self.question.value.strip()
        if not text:
            raise ValueError("type a question first")
        result = self.rag.retrieve(text, self.mode.value)
        sub, nodes, edges = graph_view.query_subgraph(self.rag, result, 1, limit)
        note = f"{result.mode}: {len(nodes)} entities used (best {limit} of each kind) · "
        self._show(sub, graph_view.graph_html(self.rag, sub, nodes, edges), note)
        return sub

    def _show(self, sub: Any, page: str, note: str = "") -> None:
        self.page = page
        self.output.clear_output()
        with self.output:
            stats = graph_view.graph_stats(sub)
            print(note + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in stats.items()))
            display(HTML(graph_view.iframe(self.page)))


def heatmap_picker(sweep: Any, metric: str = "span") -> widgets.Widget:
    """The sweep's heatmap with a dropdown of its metrics: picking one redraws it."""
    import matplotlib.pyplot as plt

    from ..eval.sweep import SWEEP_METRICS, sweep_matrix
    from .plots import plot_heatmap

    metrics = [m for m in SWEEP_METRICS if m in sweep.columns]
    picker = widgets.Dropdown(options=metrics, value=metric, description="metric")
    output = widgets.Output()

    def draw(_: Any = None) -> None:
        output.clear_output(wait=True)
        with output:
            plot_heatmap(sweep_matrix(sweep, picker.value), picker.value)
            plt.show()

    picker.observe(draw, names="value")
    draw()
    return widgets.VBox([picker, output])
