"""Notebook 5's pieces: a panel to choose the knobs and ranges of a study, a live view of trials as
they finish (objective against trial; the Pareto front with a second objective), and the held-out
comparison drawn with its intervals. Every action is a plain call, so the notebook runs headless.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display
from matplotlib.ticker import MaxNLocator

from ..eval.tune import TuneResult
from ..eval.tune_space import Knob
from ..query.retrieval import MODES

_WIDE = {"description_width": "initial"}
# knob -> (slider bounds, default range, step) for numbers, or the choices offered
CANDIDATES: dict[str, Any] = {
    "chunk_size": ((32, 1024), (96, 480), 32),
    "chunk_overlap": ((0, 256), (0, 64), 16),
    "excerpt_top_k": ((1, 50), (3, 15), 1),
    "excerpt_token_budget": ((250, 16000), (500, 6000), 250),
    "rrf_k": ((1, 200), (10, 100), 5),
    "entity_top_k": ((1, 100), (10, 40), 5),
    "fusion": ("none", "rrf"),
    "chunk_strategy": ("markdown", "tokens", "sentences"),
    "mode": MODES,
}
DEFAULT_ON = ("chunk_size", "chunk_overlap", "excerpt_top_k", "excerpt_token_budget")


class SpacePanel:
    """One row per knob: a *tune* tick box and its range (a slider) or choices (a multi-select)."""

    def __init__(self, on: tuple[str, ...] = DEFAULT_ON) -> None:
        self.rows: dict[str, tuple[widgets.Checkbox, widgets.Widget]] = {}
        for name, spec in CANDIDATES.items():
            tick = widgets.Checkbox(value=name in on, description=name, style=_WIDE)
            if isinstance(spec[0], tuple):
                (lo, hi), value, step = spec
                control: widgets.Widget = widgets.IntRangeSlider(
                    value=value, min=lo, max=hi, step=step, continuous_update=False
                )
            else:
                control = widgets.SelectMultiple(options=spec, value=spec, rows=min(len(spec), 6))
            self.rows[name] = (tick, control)
        self.widget = widgets.VBox([widgets.HBox([t, c]) for t, c in self.rows.values()])

    def space(self) -> dict[str, Knob]:
        """The ticked knobs with their ranges, as the tuner takes them."""
        space = {}
        for name, (tick, control) in self.rows.items():
            if not tick.value:
                continue
            if isinstance(control, widgets.IntRangeSlider):
                low, high = control.value
                space[name] = Knob(name, low, high, step=CANDIDATES[name][2])
            else:
                space[name] = Knob(name, choices=tuple(control.value))
        if not space:
            raise ValueError("tick at least one knob to tune")
        return space

    def set(self, ranges: Mapping[str, Any]) -> SpacePanel:
        """Tick exactly ``ranges``' knobs and give them these ranges (what a click would do)."""
        for name, (tick, control) in self.rows.items():
            tick.value = name in ranges
            if name in ranges:
                control.value = tuple(ranges[name])
        return self


class LiveTrials:
    """An Optuna callback redrawing, after each trial, the objective against trial number (best so
    far as a line) and, with two objectives, the Pareto front; with a one-line progress text.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.text = widgets.HTML()
        self.out = widgets.Output()
        self.widget = widgets.VBox([self.text, self.out])

    def __call__(self, study: Any, trial: Any) -> None:
        done = [t for t in study.trials if t.values]
        state = trial.state.name.lower()
        seconds = trial.user_attrs.get("seconds", 0.0)
        self.text.value = (
            f"trial {trial.number + 1} of {self.total}: {state}, {seconds:.1f}s; "
            f"{len(done)} with a score"
        )
        self.out.clear_output(wait=True)
        with self.out:
            figure = plot_study(study)
            display(figure)
            plt.close(figure)

    def finish(self) -> None:
        """Drop the live chart once the study is done (the cell shows the final one), keeping the
        progress line.
        """
        self.out.clear_output()


def plot_study(study: Any) -> Any:
    """Objective per trial (pruned trials marked at their last reported value), the best so far, and
    the Pareto front when the study has a second objective.
    """
    multi = len(study.directions) > 1
    figure, axes = plt.subplots(1, 2 if multi else 1, figsize=(11 if multi else 6, 3.6))
    axes = list(axes) if multi else [axes]
    done = [t for t in study.trials if t.values]
    pruned = [t for t in study.trials if t.state.name == "PRUNED" and t.intermediate_values]
    ax = axes[0]
    ax.plot([t.number for t in done], [t.values[0] for t in done], "o", label="finished")
    if pruned:
        last = [t.intermediate_values[max(t.intermediate_values)] for t in pruned]
        ax.plot([t.number for t in pruned], last, "x", color="#999999", label="pruned")
    best, running = [], float("-inf")
    for t in done:
        running = max(running, t.values[0])
        best.append(running)
    ax.step([t.number for t in done], best, where="post", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("objective (tune questions)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    top = max([1.0, *(t.values[0] for t in done)])
    ax.set_ylim(0, top * 1.05)  # from zero: small differences look small
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    if multi:
        front = {t.number for t in study.best_trials}
        xs = [t.values[1] for t in done]
        ax2 = axes[1]
        ax2.scatter(
            xs,
            [t.values[0] for t in done],
            c=["#d62728" if t.number in front else "#3b75af" for t in done],
        )
        ax2.set_xlabel("second objective (lower is better)")
        ax2.set_ylabel("objective")
        ax2.set_ylim(0, top * 1.05)
        ax2.set_title("Pareto front (red)")
    figure.tight_layout()
    return figure


def plot_held_out(result: TuneResult, ax: Any = None) -> Any:
    """Held-out score of the default and the best trials with 95% intervals; a hatched bar is
    within noise of the default.
    """
    ax = ax or plt.subplots(figsize=(6, 3.6))[1]
    rows = result.rows
    names = [r["configuration"] for r in rows]
    means = [r["held_out"] for r in rows]
    errors = [
        [m - r["held_out_low"] for m, r in zip(means, rows, strict=True)],
        [r["held_out_high"] - m for m, r in zip(means, rows, strict=True)],
    ]
    bars = ax.bar(names, means, yerr=errors, capsize=4, color="#3b75af")
    bars[0].set_color("#999999")
    for bar, row in zip(bars[1:], rows[1:], strict=True):
        if row.get("delta_within_noise"):
            bar.set_hatch("//")
    ax.set_ylabel(f"{result.objective} (held-out)")
    ax.set_title("held-out questions: hatched = within noise of the default")
    return ax
