"""ipywidgets panels for the notebooks: ingestion set-up and the query explorer. Each panel's action is
also a plain method (``IngestPanel.run``, ``QueryExplorer.ask``), so notebooks run headless under nbval
and tests drive the same code a click would.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython.display import HTML, display

from ..engine import QueryResult, SmolRag
from ..eval.profile import profiled_ingest
from ..query.planner import QUERY_TYPES
from ..settings import Settings
from . import graph_view
from .render import compare_html, compare_modes, result_html
from .workspace import lab_settings

_WIDE = {"description_width": "initial"}


class IngestPanel:
    """Corpus folder, chunking strategy, size and overlap; *Ingest* builds (or updates) the index for
    that set-up with a live progress bar and shows what changed.
    """

    def __init__(
        self,
        paths: list[Path],
        settings: Settings | None = None,
        on_ingested: Callable[[SmolRag, dict[str, Any]], None] | None = None,
    ) -> None:
        base = settings or lab_settings()
        self._base, self._paths, self._on_ingested = base, list(paths), on_ingested
        default_path = str(paths[0].parent if len(paths) > 1 else paths[0])
        self.corpus = widgets.Text(
            value=default_path,
            description="corpus",
            style=_WIDE,
            layout=widgets.Layout(width="60%"),
        )
        self.strategy = widgets.Dropdown(
            options=Settings.choices("chunk_strategy"),
            value=base.chunk_strategy,
            description="chunking",
            style=_WIDE,
        )
        self.size = widgets.IntSlider(
            value=base.chunk_size,
            min=32,
            max=1024,
            step=16,
            description="size (tokens)",
            style=_WIDE,
        )
        self.overlap = widgets.IntSlider(
            value=base.chunk_overlap, min=0, max=256, step=4, description="overlap", style=_WIDE
        )
        self.from_scratch = widgets.Checkbox(
            value=False, description="rebuild from scratch", style=_WIDE
        )
        self.button = widgets.Button(description="Ingest", button_style="primary", icon="upload")
        self.output = widgets.Output()
        self.button.on_click(lambda _: self.run())
        self.rag: SmolRag | None = None
        self.profile: dict[str, Any] = {}

    @property
    def widget(self) -> widgets.Widget:
        return widgets.VBox(
            [
                self.corpus,
                widgets.HBox([self.strategy, self.size, self.overlap]),
                widgets.HBox([self.button, self.from_scratch]),
                self.output,
            ]
        )

    def _ipython_display_(self) -> None:
        display(self.widget)

    def settings(self) -> Settings:
        chunking = {
            "chunk_strategy": self.strategy.value,
            "chunk_size": self.size.value,
            "chunk_overlap": min(self.overlap.value, self.size.value - 1),
        }
        if chunking == {k: getattr(self._base, k) for k in chunking}:
            return self._base
        return lab_settings(**chunking)

    def paths(self) -> list[Path]:
        typed = Path(self.corpus.value).expanduser()
        default = self._paths[0].parent if len(self._paths) > 1 else self._paths[0]
        return self._paths if typed == default else [typed]

    def run(self, from_scratch: bool | None = None) -> dict[str, Any]:
        """Ingest with the chosen settings (progress bars render in the output area) and return the
        ingestion profile: counts, time and peak memory by stage, provider calls, disk use.
        """
        if from_scratch is not None:
            self.from_scratch.value = from_scratch
        self.output.clear_output()
        with self.output:
            settings = self.settings()
            if self.rag is not None and (self.rag.settings != settings or self.from_scratch.value):
                self.rag.close()
                self.rag = None
            if self.rag is None:
                if self.from_scratch.value:
                    shutil.rmtree(settings.data_dir, ignore_errors=True)
                self.rag = SmolRag(settings, rebuild=True)  # a stale record is rebuilt
            print(f"index: {self.rag.settings.data_dir}")
            self.profile = profiled_ingest(self.rag, self.paths(), progress=True)
            docs = self.profile["documents"]
            print(
                ", ".join(f"{v} {k}" for k, v in docs.items() if v) or "nothing to do",
                f"| {self.profile['wall_seconds']:.1f} s | peak {self.profile['peak_memory_mb']:.0f} MB",
            )
            for skipped in self.profile["skipped"]:
                print(f"skipped {skipped['source']}: {skipped['reason']}")
            for failed in self.profile["failed"]:
                print(f"failed {failed['source']} at {failed['stage']}: {failed['error']}")
        if self._on_ingested:
            self._on_ingested(self.rag, self.profile)
        return self.profile


class QueryExplorer:
    """Question, mode, top-k, similarity threshold and token budget; *Ask* shows the answer with its
    numbered sources, the context by section with token counts, and the latency. *Compare modes* runs
    all five side by side.
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
        self.top_k = widgets.IntSlider(value=s.excerpt_top_k, min=1, max=30, description="top-k")
        self.threshold = widgets.FloatSlider(
            value=s.excerpt_threshold,
            min=-0.2,
            max=0.9,
            step=0.01,
            description="min similarity",
            style=_WIDE,
        )
        self.budget = widgets.IntSlider(
            value=s.excerpt_token_budget,
            min=200,
            max=16000,
            step=200,
            description="token budget",
            style=_WIDE,
        )
        self.ask_button = widgets.Button(description="Ask", button_style="primary", icon="search")
        self.compare_button = widgets.Button(description="Compare modes", icon="columns")
        self.output = widgets.Output()
        self.ask_button.on_click(lambda _: self.ask())
        self.compare_button.on_click(lambda _: self.compare())
        self.last: QueryResult | None = None

    @property
    def widget(self) -> widgets.Widget:
        controls = widgets.HBox([self.mode, self.top_k, self.threshold, self.budget])
        return widgets.VBox(
            [
                self.question,
                controls,
                widgets.HBox([self.ask_button, self.compare_button]),
                self.output,
            ]
        )

    def _ipython_display_(self) -> None:
        display(self.widget)

    def overrides(self) -> dict[str, Any]:
        """The controls as query-time settings (the budget applies to both excerpt sections)."""
        return {
            "excerpt_top_k": self.top_k.value,
            "excerpt_threshold": self.threshold.value,
            "entity_threshold": self.threshold.value,
            "relationship_threshold": self.threshold.value,
            "excerpt_token_budget": self.budget.value,
            "kg_excerpt_token_budget": self.budget.value,
        }

    def ask(self, question: str | None = None, mode: str | None = None) -> QueryResult:
        if question is not None:
            self.question.value = question
        if mode is not None:
            self.mode.value = mode
        result = self.rag.query(self._question(), self.mode.value, **self.overrides())
        self.last = result
        self.output.clear_output()
        with self.output:
            display(HTML(result_html(result)))
        return result

    def compare(self, question: str | None = None) -> dict[str, QueryResult]:
        if question is not None:
            self.question.value = question
        table, results = compare_modes(self.rag, self._question(), **self.overrides())
        self.output.clear_output()
        with self.output:
            display(table)
            display(HTML(compare_html(results)))
        return results

    def _question(self) -> str:
        text = self.question.value.strip()
        if not text:
            raise ValueError("type a question first")
        return text


class GraphExplorer:
    """Entity types, minimum degree, one document and a node cap select a subgraph; *Draw* renders it
    with pyvis inline (no network needed) and lists its statistics.
    """

    def __init__(self, rag: SmolRag, max_nodes: int = 150, min_degree: int = 2) -> None:
        self.rag = rag
        types = graph_view.entity_types(rag)
        self.types = widgets.SelectMultiple(
            options=types, value=tuple(types), description="types", rows=6
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
        self.button = widgets.Button(
            description="Draw", button_style="primary", icon="project-diagram"
        )
        self.output = widgets.Output()
        self.button.on_click(lambda _: self.draw())
        self.page: str = ""

    @property
    def widget(self) -> widgets.Widget:
        return widgets.VBox(
            [
                widgets.HBox(
                    [
                        self.types,
                        widgets.VBox([self.min_degree, self.document, self.max_nodes, self.button]),
                    ]
                ),
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
        )

    def draw(self) -> Any:
        """Render the selected subgraph; returns it (a networkx graph)."""
        sub = self.subgraph()
        self.page = graph_view.graph_html(self.rag, sub)
        self.output.clear_output()
        with self.output:
            stats = graph_view.graph_stats(sub)
            print(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in stats.items()))
            display(HTML(graph_view.iframe(self.page)))
        return sub
