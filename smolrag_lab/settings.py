"""Every knob of the system in one typed dataclass, each declared with its *concern*.

Values come from, in increasing precedence: the defaults below, a TOML file, environment
variables (``SMOLRAG_<FIELD>`` plus ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``) and keyword
arguments. Invalid values fail at construction with the setting's name and its allowed range.

The concern of a setting (the class in :mod:`.settings_fields` that declares it) says who may change
it and when: ``index`` settings shape the stored records and are recorded in the index
(:mod:`smolrag_lab.index_settings`); ``query`` settings are the only ones a query may override;
``storage`` settings say where and how the index is kept and searched; ``ingestion``,
``providers``, ``server`` and ``logging`` change how the work is done, never its result.
``INDEX_SETTINGS`` and ``QUERY_SETTINGS`` are derived from those declarations: one fact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from . import settings_values as values_io
from .settings_fields import (
    CONCERN_CLASSES,
    DEFAULT_ENTITY_TYPES,
    IndexSettings,
    IngestionSettings,
    LoggingSettings,
    ProviderSettings,
    QuerySettings,
    ServerSettings,
    StorageSettings,
)
from .settings_values import ENV_ALIASES, ENV_PREFIX, SecretUrl, SettingsError, reveal

# Settings of earlier versions that no longer do anything: accepted with a warning, then dropped.
RETIRED = {
    "graph_save_interval_s": "the graph is rows committed with each document; nothing to save",
}

__all__ = [
    "CONCERNS",
    "DEFAULT_ENTITY_TYPES",
    "ENV_ALIASES",
    "ENV_PREFIX",
    "INDEX_SETTINGS",
    "QUERY_SETTINGS",
    "SecretStr",
    "SecretUrl",
    "Settings",
    "SettingsError",
    "reveal",
    "settings_of",
]

CONCERNS = tuple(CONCERN_CLASSES)


@dataclass(frozen=True)
class Settings(
    LoggingSettings,
    ServerSettings,
    ProviderSettings,
    IngestionSettings,
    StorageSettings,
    QuerySettings,
    IndexSettings,
):
    """Every setting, listed by concern (index, query, storage, ingestion, providers, server,
    logging). Construct with keywords or :meth:`load`; values are coerced and range-checked here.
    """

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = values_io.coerce(
                f, values_io.base_type(Settings, f.name), getattr(self, f.name)
            )
            object.__setattr__(self, f.name, value)
            values_io.check(f, value)
        if self.chunk_overlap >= self.chunk_size:
            raise SettingsError(
                f"chunk_overlap={self.chunk_overlap} must be smaller than "
                f"chunk_size={self.chunk_size}"
            )

    # Construction -------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        toml_path: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Defaults < TOML file (``SMOLRAG_CONFIG`` if no path) < environment < keywords."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        toml_path = toml_path or env.get(ENV_PREFIX + "CONFIG")
        if toml_path:
            values.update(values_io.read_toml(Path(toml_path)))
        values.update(values_io.read_env(cls, env))
        values.update(overrides)
        for name in RETIRED.keys() & values.keys():
            warnings.warn(f"setting {name} is ignored: {RETIRED[name]}", stacklevel=2)
            del values[name]
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)

    @property
    def ann_config(self) -> Any:
        """The shortlisting parameters unless ``vector_index`` is ``exact`` (then None)."""
        if self.vector_index == "exact":
            return None
        from .stores.ann import AnnConfig

        hnsw = self.vector_index == "hnsw"
        return AnnConfig(
            self.hnsw_connectivity,
            self.hnsw_expansion_add,
            self.hnsw_expansion_search,
            self.hnsw_dtype,
            self.hnsw_min_rows if hnsw else 0,
            self.vector_shortlist_factor,
            self.vector_index,
            self.vector_pca_dims,
            self.vector_rescore or hnsw,
        )

    @property
    def postgres_options(self) -> Any:
        """Where the index lives in PostgreSQL, or None for the file backend."""
        if not self.database_url:
            return None
        from .index import PostgresOptions

        return PostgresOptions(
            reveal(self.database_url) or "",
            self.index_workspace,
            self.pg_hnsw_m,
            self.pg_hnsw_ef_construction,
            self.pg_hnsw_ef_search,
        )

    @property
    def index_workspace(self) -> str:
        """The index's PostgreSQL workspace: ``workspace`` if set, else one named after ``data_dir``
        (its name and a digest of its full path), so two data directories are two indexes on either
        backend.
        Machines sharing one index set the same ``workspace``.
        """
        if self.workspace:
            return self.workspace
        path = str(Path(self.data_dir).expanduser().resolve())
        return f"{Path(path).name}-{hashlib.sha256(path.encode()).hexdigest()[:8]}"

    @classmethod
    def choices(cls, name: str) -> tuple[str, ...]:
        """The allowed values of a setting with a fixed set of choices (for menus)."""
        found = next((f for f in dataclasses.fields(cls) if f.name == name), None)
        if found is None or not found.metadata.get("choices"):
            raise SettingsError(f"{name} is not a setting with choices")
        return tuple(found.metadata["choices"])

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def for_query(self, **overrides: Any) -> Settings:
        """These settings with a query's ``overrides``, which may name only ``query`` settings: the
        one check behind ``SmolRag.query``, ``retrieve``, the HTTP API and the widgets.
        """
        refused = sorted(set(overrides) - set(QUERY_SETTINGS))
        if refused:
            raise SettingsError(
                f"a query cannot override {', '.join(refused)}; it may override only: "
                f"{', '.join(QUERY_SETTINGS)}"
            )
        return self.replace(**overrides) if overrides else self

    # Derived values -----------------------------------------------------------------------
    @property
    def resolved_completion_backend(self) -> str:
        if self.completion_backend == "auto":
            return "openai" if self.openai_api_key else "local"
        return self.completion_backend

    @property
    def resolved_cache_path(self) -> Path:
        return self.cache_path or self.data_dir / "cache.sqlite"

    def describe(self) -> dict[str, dict[str, Any]]:
        """Each setting with its value, concern, allowed range and documentation. Secrets are shown
        masked (their ``str``), never in clear.
        """
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            value = str(value) if isinstance(value, SecretStr) else value
            meta = {k: v for k, v in f.metadata.items() if v is not None and v != ""}
            out[f.name] = {"value": value, "concern": _CONCERN_OF[f.name], **meta}
        return out


def settings_of(concern: str) -> tuple[str, ...]:
    """The names of the settings declared with ``concern``, in declaration order."""
    if concern not in CONCERNS:
        raise SettingsError(f"{concern!r} is not a concern; choose one of: {', '.join(CONCERNS)}")
    return tuple(f.name for f in dataclasses.fields(CONCERN_CLASSES[concern]))


_CONCERN_OF = {name: concern for concern in CONCERNS for name in settings_of(concern)}
INDEX_SETTINGS = settings_of("index")  # recorded in the index; a change needs --rebuild
QUERY_SETTINGS = settings_of("query")  # the only keys a query may override
