"""The tuner's search space: which settings a study may change, over which ranges.

A space is a mapping ``setting name -> range``. A range is ``{"low": a, "high": b}`` (with optional
``"step"`` and ``"log"``) for numbers, or ``{"choices": [...]}`` for anything. ``mode`` (the query
type) is a knob too. Spaces load from JSON or TOML files (``smolrag-lab tune --space FILE``)::

    {"chunk_size": {"low": 96, "high": 512, "step": 32}, "fusion": {"choices": ["none", "rrf"]}}
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..query.retrieval import MODES
from ..settings import Settings

INDEX_KNOBS = ("chunk_strategy", "chunk_size", "chunk_overlap")
QUERY_KNOBS = (
    "mode",
    "excerpt_top_k",
    "entity_top_k",
    "relationship_top_k",
    "excerpt_token_budget",
    "entity_token_budget",
    "relationship_token_budget",
    "local_relationship_token_budget",
    "kg_excerpt_token_budget",
    "fusion",
    "rrf_k",
    "fusion_candidates",
)
GRAPH_MODES = ("local_kg", "global_kg", "hybrid_kg", "mix")


@dataclass(frozen=True)
class Knob:
    """One setting's range: numeric (``low``..``high``, ``step``, ``log``) or ``choices``."""

    name: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if self.name not in INDEX_KNOBS + QUERY_KNOBS:
            raise ValueError(
                f"{self.name!r} cannot be tuned; knobs: {', '.join(INDEX_KNOBS + QUERY_KNOBS)}"
            )
        if self.choices is None and (self.low is None or self.high is None):
            raise ValueError(f"{self.name}: give low and high, or choices")
        if self.choices is not None and not self.choices:
            raise ValueError(f"{self.name}: choices is empty")
        if self.choices is None and self.low > self.high:  # type: ignore[operator]
            raise ValueError(f"{self.name}: low {self.low} is above high {self.high}")
        if self.name == "mode" and self.choices and set(self.choices) - set(MODES):
            raise ValueError(f"mode choices must be among {', '.join(MODES)}")

    @property
    def is_int(self) -> bool:
        field_type = _FIELD_TYPES.get(self.name)
        return field_type in (int, "int")

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna trial draws for this knob."""
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        assert self.low is not None and self.high is not None  # checked in __post_init__
        if self.is_int:
            step = int(self.step or 1)
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=1 if self.log else step, log=self.log
            )
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, False)}
        data.pop("name")
        if self.choices is not None:
            data["choices"] = list(self.choices)
        return data


_FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(Settings)}

DEFAULT_SPACE: dict[str, Knob] = {
    "chunk_size": Knob("chunk_size", 96, 480, step=32),
    "chunk_overlap": Knob("chunk_overlap", 0, 64, step=16),
    "excerpt_top_k": Knob("excerpt_top_k", 3, 15),
    "excerpt_token_budget": Knob("excerpt_token_budget", 500, 6000, step=500),
}


def space_from_mapping(spec: Mapping[str, Mapping[str, Any]]) -> dict[str, Knob]:
    """Knobs from ``{name: {"low":…, "high":…} | {"choices": [...]}}``."""
    knobs = {}
    for name, rng in spec.items():
        if not isinstance(rng, Mapping):
            raise ValueError(f"{name}: a range is a table with low/high or choices, got {rng!r}")
        unknown = set(rng) - {"low", "high", "step", "log", "choices"}
        if unknown:
            raise ValueError(f"{name}: unknown range field(s) {', '.join(sorted(unknown))}")
        choices = tuple(rng["choices"]) if "choices" in rng else None
        knobs[name] = Knob(
            name,
            rng.get("low"),
            rng.get("high"),
            rng.get("step"),
            bool(rng.get("log", False)),
            choices,
        )
    if not knobs:
        raise ValueError("the search space is empty")
    return knobs


def load_space(path: str | Path) -> dict[str, Knob]:
    """A space from a ``.json`` or ``.toml`` file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        spec = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a valid search space file: {exc}") from exc
    return space_from_mapping(spec)


def split_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """A trial's values as (index settings, query overrides, mode or None)."""
    index = {k: v for k, v in params.items() if k in INDEX_KNOBS}
    query = {k: v for k, v in params.items() if k in QUERY_KNOBS and k != "mode"}
    return index, query, params.get("mode")


def needs_graph(space: Mapping[str, Knob], mode: str) -> bool:
    """Does any configuration of the study query the graph? If not, trial indexes skip it."""
    modes = set(space["mode"].choices or ()) if "mode" in space else {mode}
    return bool(modes & (set(GRAPH_MODES) | {"auto"}))
