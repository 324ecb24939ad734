"""The ingestion panel of notebook 1: corpus and chunking set-up, and an ingestion run in a thread
with progress bars, so *Cancel* reaches it while it works. ``IngestPanel.run`` is the plain call a
click makes (nbval and the tests use it); :mod:`smolrag_lab.lab.widgets` re-exports both classes.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from ..engine import SmolRag
from ..eval.profile import profiled_ingest
from ..progress import IngestProgress
from ..settings import Settings
from .tables import human_seconds
from .workspace import lab_settings

_WIDE = {"description_width": "initial"}
_BAR_STEPS = 1000


class IngestProgressView:
    """Widgets fed by :class:`smolrag_lab.progress.IngestProgress`: an overall bar with elapsed time
    and ETA, one bar per stage (the graph-vector stage included). Redraws at most 5 times a second.
    """

    def __init__(self) -> None:
        self.overall = widgets.IntProgress(
            value=0, max=_BAR_STEPS, description="overall", bar_style="info", style=_WIDE
        )
        self.overall.add_class("srl-overall-progress")
        self.label = widgets.Label("")
        self.stages = widgets.VBox([])
        self.widget = widgets.VBox([widgets.HBox([self.overall, self.label]), self.stages])
        self._bars: dict[str, widgets.IntProgress] = {}
        self._drawn_at = 0.0

    def __call__(self, progress: IngestProgress) -> None:
        now = time.monotonic()
        if now - self._drawn_at < 0.2 and progress.fraction < 1.0:
            return
        self._drawn_at = now
        self.overall.value = int(progress.fraction * _BAR_STEPS)
        eta = progress.eta_seconds
        self.label.value = (
            f"{progress.fraction:.0%} · {human_seconds(now - progress.started)} elapsed"
            + (f" · about {human_seconds(eta)} left" if eta is not None and eta > 0.5 else "")
        )
        for stage, (done, total) in progress.stages.items():
            bar = self._bars.get(stage)
            if bar is None:
                bar = self._bars[stage] = widgets.IntProgress(
                    max=1, description=stage, style=_WIDE, layout=widgets.Layout(width="50%")
                )
                self.stages.children = (*self.stages.children, bar)
            bar.max, bar.value = max(total, 1), done
            bar.bar_style = "success" if total and done >= total else ""

    def finish(self, cancelled: bool) -> None:
        self.overall.bar_style = "warning" if cancelled else "success"
        self.overall.value = _BAR_STEPS


class IngestPanel:
    """Corpus folder, chunking strategy, size and overlap; *Ingest* builds (or updates) the index
    for that set-up in the background with an overall bar, ETA and per-stage bars; *Cancel* stops it
    cleanly: documents already committed stay, the others are left as if never started.
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
        self.from_scratch = widgets.Checkbox(value=False, description="rebuild from scratch")
        self.button = widgets.Button(description="Ingest", button_style="primary", icon="upload")
        self.cancel_button = widgets.Button(description="Cancel", icon="stop", disabled=True)
        self.progress = IngestProgressView()
        self.output = widgets.Output()
        self.button.on_click(lambda _: self.start())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.rag: SmolRag | None = None
        self.profile: dict[str, Any] = {}
        self.thread: threading.Thread | None = None

    @property
    def widget(self) -> widgets.Widget:
        return widgets.VBox(
            [
                self.corpus,
                widgets.HBox([self.strategy, self.size, self.overlap]),
                widgets.HBox([self.button, self.cancel_button, self.from_scratch]),
                self.progress.widget,
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

    def start(self) -> threading.Thread:
        """What *Ingest* does: run in a thread, so the kernel stays free to receive *Cancel*."""
        if self.thread is not None and self.thread.is_alive():
            return self.thread
        self.thread = threading.Thread(target=self.run, name="smolrag-ingest", daemon=True)
        self.thread.start()
        return self.thread

    def cancel(self) -> None:
        """Stop after the documents being committed now; the rest are not written."""
        if self.rag is not None:
            self.rag.ingestor.cancel.set()
            self._say("cancelling: documents already committed stay\n")

    def run(self, from_scratch: bool | None = None) -> dict[str, Any]:
        """Ingest with the chosen settings (progress in the panel's bars) and return the ingestion
        profile: counts, time and peak memory by stage, provider calls, disk use.
        """
        if from_scratch is not None:
            self.from_scratch.value = from_scratch
        self.output.clear_output()
        self.button.disabled, self.cancel_button.disabled = True, False
        try:
            rag = self._open()
            self._say(f"index: {rag.settings.data_dir}\n")
            rag.ingestor.progress_listener = self.progress
            try:
                self.profile = profiled_ingest(rag, self.paths(), progress=False)
            finally:
                rag.ingestor.progress_listener = None
            self._summarise()
        finally:
            self.button.disabled, self.cancel_button.disabled = False, True
        if self._on_ingested:
            self._on_ingested(rag, self.profile)
        return self.profile

    def _open(self) -> SmolRag:
        settings = self.settings()
        if self.rag is not None and (self.rag.settings != settings or self.from_scratch.value):
            self.rag.close()
            self.rag = None
        if self.rag is None:
            if self.from_scratch.value:
                shutil.rmtree(settings.data_dir, ignore_errors=True)
            self.rag = SmolRag(settings, rebuild=True)  # a stale record is rebuilt
        return self.rag

    def _summarise(self) -> None:
        docs, profile = self.profile["documents"], self.profile
        cancelled = [s for s in profile["skipped"] if s["reason"] == "cancelled before commit"]
        self.progress.finish(bool(cancelled))
        self._say(
            (", ".join(f"{v} {k}" for k, v in docs.items() if v) or "nothing to do")
            + f" | {human_seconds(profile['wall_seconds'])}"
            + f" | peak {profile['peak_memory_mb']:,.0f} MB"
            + (f" | cancelled: {len(cancelled)} documents not written" if cancelled else "")
            + "\n"
        )
        for skipped in profile["skipped"]:
            if skipped not in cancelled:
                self._say(f"skipped {skipped['source']}: {skipped['reason']}\n")
        for failed in profile["failed"]:
            self._say(f"failed {failed['source']} at {failed['stage']}: {failed['error']}\n")

    def _say(self, text: str) -> None:
        self.output.append_stdout(text)  # safe from the ingestion thread, unlike ``with output``
