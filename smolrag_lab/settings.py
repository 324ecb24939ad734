"""Every knob of the system in one typed dataclass.

Values come from, in increasing precedence: the defaults below, a TOML file, environment
variables (``SMOLRAG_<FIELD>`` plus ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``) and keyword
arguments. Invalid values fail at construction with the setting's name and its allowed range.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "SMOLRAG_"
# Variables that keep the names every OpenAI-compatible tool already uses.
ENV_ALIASES = {"openai_api_key": "OPENAI_API_KEY", "openai_base_url": "OPENAI_BASE_URL"}


class SettingsError(ValueError):
    """A setting has a value outside its allowed range."""


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "smolrag_lab"


def _knob(
    default: Any = None,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] | None = None,
    doc: str = "",
    factory: Any = None,
) -> Any:
    meta = {"lo": lo, "hi": hi, "choices": choices, "doc": doc}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


DEFAULT_ENTITY_TYPES = (
    "api",
    "configuration",
    "function",
    "variable",
    "feature",
    "example",
    "interface",
)


@dataclass(frozen=True)
class Settings:
    # Paths
    data_dir: Path = _knob(factory=_default_data_dir, doc="where the index lives")
    cache_path: Path | None = _knob(
        None, doc="SQLite file for provider caches (default: data_dir/cache.sqlite)"
    )
    file_extensions: tuple[str, ...] = _knob(
        factory=lambda: (".md", ".mdx", ".txt", ".rst", ".tex", ".yaml", ".yml"),
        doc="files ingested",
    )
    # Chunking
    chunk_strategy: str = _knob("markdown", choices=("markdown", "tokens", "sentences"))
    chunk_size: int = _knob(
        160, lo=16, hi=100_000, doc="tokens per excerpt (MiniLM embeds <= 256 word pieces)"
    )
    chunk_overlap: int = _knob(20, lo=0, hi=50_000, doc="tokens shared by neighbouring excerpts")
    # Model calls at ingestion
    call_unit: str = _knob(
        "group",
        choices=("excerpt", "group"),
        doc="excerpt: upstream (summary with the whole document, extraction per excerpt); "
        "group: neighbouring excerpts summarised and mined in one call",
    )
    group_tokens: int = _knob(1200, lo=16, hi=100_000, doc="excerpt tokens per grouped call")
    document_context_tokens: int = _knob(
        400, lo=0, hi=100_000, doc="title, outline and opening sent with each grouped call"
    )
    # Retrieval
    excerpt_top_k: int = _knob(5, lo=1, hi=10_000)
    entity_top_k: int = _knob(25, lo=1, hi=10_000)
    relationship_top_k: int = _knob(25, lo=1, hi=10_000)
    excerpt_threshold: float = _knob(0.02, lo=-1.0, hi=1.0, doc="minimum cosine similarity")
    entity_threshold: float = _knob(0.02, lo=-1.0, hi=1.0)
    relationship_threshold: float = _knob(0.02, lo=-1.0, hi=1.0)
    fusion: str = _knob(
        "rrf",
        choices=("none", "rrf"),
        doc="fuse BM25 and dense excerpt rankings (reciprocal rank fusion) in standard and mix",
    )
    rrf_k: int = _knob(60, lo=1, hi=10_000, doc="reciprocal rank fusion constant")
    graph_candidates: int = _knob(
        200,
        lo=1,
        hi=100_000,
        doc="excerpts and relationships a graph search builds before the budgets cut",
    )
    fusion_candidates: int = _knob(
        50, lo=1, hi=100_000, doc="excerpts taken from each ranking before fusion"
    )
    parallel_retrieval: bool = _knob(
        False, doc="run the vector and graph searches of hybrid_kg / mix concurrently"
    )
    # Graph pruning at query time (the stored graph keeps everything)
    prune_min_degree: int = _knob(0, lo=0, hi=10**9, doc="hide entities with fewer relationships")
    prune_min_weight: float = _knob(0.0, lo=0.0, hi=10**9, doc="hide relationships of lower weight")
    prune_min_mentions: int = _knob(0, lo=0, hi=10**9, doc="hide entities cited by fewer excerpts")
    prune_orphans: bool = _knob(False, doc="hide entities left without relationships")
    # Storage backend
    database_url: str | None = _knob(
        None,
        doc="PostgreSQL + pgvector DSN (SMOLRAG_DATABASE_URL): the index lives "
        "there instead of in data_dir's files",
    )
    workspace: str = _knob(
        "", doc="independent index inside one database (empty: one per data_dir)"
    )
    pg_hnsw_m: int = _knob(16, lo=2, hi=100, doc="pgvector HNSW links per node")
    pg_hnsw_ef_construction: int = _knob(
        64, lo=4, hi=1000, doc="pgvector HNSW build candidate list"
    )
    pg_hnsw_ef_search: int = _knob(64, lo=1, hi=1000, doc="pgvector hnsw.ef_search")
    # Vector index
    vector_index: str = _knob(
        "exact",
        choices=("exact", "hnsw", "int8", "pca"),
        doc="what shortlists candidates for exact re-scoring: hnsw (usearch graph, large "
        "stores), int8 (quantised codes), pca (projected rows); exact scans everything",
    )
    vector_storage: str = _knob(
        "float32",
        choices=("float32", "float16"),
        doc="precision of the stored vectors (float16 halves disk and mapped memory)",
    )
    vector_pca_dims: int = _knob(128, lo=2, hi=4096, doc="components kept by vector_index=pca")
    vector_rescore: bool = _knob(
        True, doc="re-score int8/pca shortlists against the stored vectors"
    )
    vector_shortlist_factor: int = _knob(
        3, lo=1, hi=1000, doc="candidates shortlisted per result wanted"
    )
    hnsw_connectivity: int = _knob(16, lo=2, hi=256, doc="HNSW links per node (M)")
    hnsw_expansion_add: int = _knob(128, lo=8, hi=4096, doc="HNSW ef_construction")
    hnsw_expansion_search: int = _knob(64, lo=8, hi=4096, doc="HNSW ef_search")
    hnsw_dtype: str = _knob(
        "i8", choices=("f32", "f16", "i8"), doc="vector precision inside the graph"
    )
    hnsw_min_rows: int = _knob(
        20_000, lo=0, hi=10**9, doc="stores smaller than this are searched exactly"
    )
    # Token budgets for the query context
    excerpt_token_budget: int = _knob(4000, lo=0, hi=1_000_000)
    entity_token_budget: int = _knob(4000, lo=0, hi=1_000_000)
    relationship_token_budget: int = _knob(4000, lo=0, hi=1_000_000)
    local_relationship_token_budget: int = _knob(1000, lo=0, hi=1_000_000)
    kg_excerpt_token_budget: int = _knob(4000, lo=0, hi=1_000_000)
    # Knowledge graph
    entity_types: tuple[str, ...] = _knob(factory=lambda: DEFAULT_ENTITY_TYPES)
    description_cap: int = _knob(
        10, lo=1, hi=10_000, doc="descriptions kept per entity / relationship"
    )
    keywords_cap: int = _knob(20, lo=1, hi=10_000, doc="keywords kept per relationship")
    # Models
    embedding_backend: str = _knob("local", choices=("local", "openai"))
    embedding_model: str = _knob("all-MiniLM-L6-v2")
    embedding_batch_size: int = _knob(32, lo=1, hi=4096, doc="texts per local ONNX batch")
    openai_embedding_batch_size: int = _knob(256, lo=1, hi=2048, doc="texts per embeddings request")
    embedding_threads: int = _knob(0, lo=0, hi=256, doc="ONNX intra-op threads (0: one per core)")
    completion_backend: str = _knob(
        "auto",
        choices=("auto", "local", "openai"),
        doc="auto: openai when an API key is set, else local",
    )
    completion_model: str = _knob("gpt-4.1-mini")
    completion_temperature: float | None = _knob(None, lo=0.0, hi=2.0)
    tokenizer_encoding: str = _knob("cl100k_base")
    openai_api_key: str | None = _knob(None)
    openai_base_url: str | None = _knob(
        None, doc="any OpenAI-compatible server: vLLM, Ollama, llama.cpp"
    )
    # Endpoint behaviour
    request_timeout_s: float = _knob(60.0, lo=0.01, hi=3600.0)
    max_retries: int = _knob(5, lo=0, hi=100)
    retry_base_delay_s: float = _knob(0.5, lo=0.0, hi=600.0)
    retry_max_delay_s: float = _knob(30.0, lo=0.0, hi=3600.0)
    max_concurrent_requests: int = _knob(8, lo=1, hi=1024)
    requests_per_minute: int = _knob(0, lo=0, hi=10_000_000, doc="client-side cap, 0 = none")
    tokens_per_minute: int = _knob(0, lo=0, hi=1_000_000_000, doc="client-side cap, 0 = none")
    graph_save_interval_s: float = _knob(
        30.0,
        lo=0.0,
        hi=86_400.0,
        doc="save the graph at most this often during ingestion (and at its end)",
    )
    ingest_concurrency: int = _knob(4, lo=1, hi=1024, doc="documents processed at once")
    ingest_executor: str = _knob(
        "auto",
        choices=("auto", "inline", "process", "dask"),
        doc="where reading, chunking, local embedding and local tasks run (auto: "
        "large local-embedding batches on a process pool started on first use)",
    )
    process_pool_min_texts: int = _knob(
        1024, lo=1, hi=10**9, doc="auto: embedding requests this large go to the process pool"
    )
    ingest_workers: int = _knob(
        0, lo=0, hi=4096, doc="process-pool / local Dask workers (0: one per core)"
    )
    dask_scheduler: str | None = _knob(
        None, doc="Dask scheduler address (default: a local cluster on 127.0.0.1)"
    )
    write_lock_timeout_s: float = _knob(
        5.0, lo=0.0, hi=86_400.0, doc="how long a second writer waits for the data directory"
    )
    max_file_bytes: int = _knob(
        8_000_000, lo=1, hi=10**12, doc="larger files are skipped with a reason"
    )
    # Cost estimate (USD per 1,000 tokens) for ingestion profiles
    price_prompt_per_1k: float = _knob(0.0004, lo=0.0, hi=1000.0, doc="gpt-4.1-mini input")
    price_completion_per_1k: float = _knob(0.0016, lo=0.0, hi=1000.0, doc="gpt-4.1-mini output")
    price_embedding_per_1k: float = _knob(0.00002, lo=0.0, hi=1000.0, doc="text-embedding-3-small")
    # HTTP API (smolrag-lab serve)
    api_host: str = _knob("127.0.0.1", doc="address the API listens on")
    api_port: int = _knob(8000, lo=1, hi=65535)
    api_token: str | None = _knob(
        None, doc="bearer token every route but /health requires (SMOLRAG_API_TOKEN)"
    )
    api_auth: bool = _knob(
        True, doc="false: no token asked (local use only; refused on a non-loopback host)"
    )
    api_max_body_bytes: int = _knob(1_000_000, lo=1, hi=10**10, doc="larger request bodies get 413")
    api_rate_limit_per_minute: int = _knob(
        120, lo=0, hi=10**9, doc="requests per client per minute, 0 = none"
    )
    api_documents_root: Path | None = _knob(
        None, doc="folder whose files POST /documents may ingest by path"
    )
    # Caches
    embedding_cache: bool = _knob(True)
    completion_cache: bool = _knob(True)
    query_cache: bool = _knob(True)
    log_level: str = _knob("WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    log_to_file: bool = _knob(True, doc="also log to data_dir/logs/smolrag_lab.log, rotated")
    log_max_bytes: int = _knob(
        1_000_000, lo=1_000, hi=10**10, doc="size at which the log file rotates"
    )
    log_backups: int = _knob(3, lo=0, hi=1000, doc="rotated log files kept")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _coerce(f, getattr(self, f.name)))
            _check(f, getattr(self, f.name))
        if self.chunk_overlap >= self.chunk_size:
            raise SettingsError(
                f"chunk_overlap={self.chunk_overlap} must be smaller than chunk_size={self.chunk_size}"
            )

    # Construction -------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        toml_path: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Defaults < TOML file (``SMOLRAG_CONFIG`` if no path) < environment < keyword arguments."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        toml_path = toml_path or env.get(ENV_PREFIX + "CONFIG")
        if toml_path:
            values.update(_read_toml(Path(toml_path)))
        values.update(_read_env(env))
        values.update(overrides)
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
            self.database_url,
            self.index_workspace,
            self.pg_hnsw_m,
            self.pg_hnsw_ef_construction,
            self.pg_hnsw_ef_search,
        )

    @property
    def index_workspace(self) -> str:
        """The index's PostgreSQL workspace: ``workspace`` if set, else one named after ``data_dir`` (its
        name and a digest of its full path), so two data directories are two indexes on either backend.
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
        """Each setting with its value, allowed range and documentation (secrets masked)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "openai_api_key" and value:
                value = value[:3] + "..."
            out[f.name] = {"value": value, **{k: v for k, v in f.metadata.items() if v}}
        return out


def _base_type(f: dataclasses.Field) -> Any:
    return _base_types()[f.name]


@functools.lru_cache(maxsize=1)
def _base_types() -> dict[str, Any]:
    """Each field's type without ``| None``; resolving the hints is slow, so it is done once."""
    return {name: _strip_optional(hint) for name, hint in typing.get_type_hints(Settings).items()}


def _strip_optional(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return args[0]
    return hint


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    """Turn strings (from env or TOML) and lists into the field's declared type."""
    if value is None:
        return None
    base = _base_type(f)
    try:
        if base is Path:
            return Path(value).expanduser()
        if typing.get_origin(base) is tuple:
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(i).strip() for i in items if str(i).strip())
        if base is bool:
            return _parse_bool(value)
        if base is int and not isinstance(value, bool):
            return int(value)
        if base is float:
            return float(value)
        if base is str:
            return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(
            f"{f.name}: cannot read {value!r} as {getattr(base, '__name__', base)}"
        ) from exc
    return value


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(text)


def _check(f: dataclasses.Field, value: Any) -> None:
    if value is None:
        return
    lo, hi, choices = f.metadata.get("lo"), f.metadata.get("hi"), f.metadata.get("choices")
    if choices and value not in choices:
        raise SettingsError(f"{f.name}={value!r} is not one of: {', '.join(choices)}")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise SettingsError(f"{f.name}={value!r} is outside the allowed range [{lo}, {hi}]")


def _read_env(env: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for f in dataclasses.fields(Settings):
        for name in (ENV_PREFIX + f.name.upper(), ENV_ALIASES.get(f.name)):
            if name and env.get(name) not in (None, ""):
                values[f.name] = env[name]
                break
    return values


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
    # Accept both a flat file and one with a [smolrag] table.
    return dict(data.get("smolrag", data))
