"""The settings, one frozen dataclass per concern; :class:`smolrag_lab.settings.Settings` inherits
them all, so the class a field is declared in is the one place its concern is stated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from .settings_values import SecretUrl


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
class IndexSettings:
    """What shapes the stored records: recorded in the index; a change needs ``--rebuild``."""

    chunk_strategy: str = _knob("markdown", choices=("markdown", "tokens", "sentences"))
    chunk_size: int = _knob(
        160, lo=16, hi=100_000, doc="tokens per excerpt (MiniLM embeds <= 256 word pieces)"
    )
    chunk_overlap: int = _knob(20, lo=0, hi=50_000, doc="tokens shared by neighbouring excerpts")
    call_unit: str = _knob(
        "group",
        choices=("excerpt", "group"),
        doc="excerpt: upstream (summary with the whole document, extraction per excerpt); "
        "group: neighbouring excerpts summarised and mined in one call",
    )
    build_graph: bool = _knob(
        True,
        doc="false: no entity extraction and no graph, excerpts and their vectors only (enough for "
        "standard retrieval; the tuner's fast trials)",
    )
    group_tokens: int = _knob(1200, lo=16, hi=100_000, doc="excerpt tokens per grouped call")
    document_context_tokens: int = _knob(
        400, lo=0, hi=100_000, doc="title, outline and opening sent with each grouped call"
    )
    entity_types: tuple[str, ...] = _knob(factory=lambda: DEFAULT_ENTITY_TYPES)
    description_cap: int = _knob(
        10, lo=1, hi=10_000, doc="descriptions kept per entity / relationship"
    )
    keywords_cap: int = _knob(20, lo=1, hi=10_000, doc="keywords kept per relationship")
    entity_embed_words: int = _knob(
        32, lo=1, hi=256, doc="words embedded per entity: its name, then its earliest description"
    )
    relationship_embed_words: int = _knob(
        12,
        lo=1,
        hi=256,
        doc="words embedded per relationship: both names, keywords, then its earliest description "
        "(relationships are most of what the graph embeds)",
    )
    embedding_backend: str = _knob("local", choices=("local", "openai"))
    embedding_model: str = _knob("all-MiniLM-L6-v2")
    completion_model: str = _knob("gpt-4.1-mini")
    tokenizer_encoding: str = _knob("cl100k_base")
    embed_summary: bool = _knob(True, doc="excerpt vectors embed each excerpt with its summary")


@dataclass(frozen=True)
class QuerySettings:
    """What a query may override (``query(**overrides)``, ``retrieve``, the API, the widgets)."""

    excerpt_top_k: int = _knob(5, lo=1, hi=10_000)
    entity_top_k: int = _knob(25, lo=1, hi=10_000)
    relationship_top_k: int = _knob(25, lo=1, hi=10_000)
    excerpt_threshold: float = _knob(0.02, lo=-1.0, hi=1.0, doc="minimum cosine similarity")
    entity_threshold: float = _knob(0.02, lo=-1.0, hi=1.0)
    relationship_threshold: float = _knob(0.02, lo=-1.0, hi=1.0)
    fusion: str = _knob(
        "rrf",
        choices=("none", "rrf", "convex"),
        doc="fuse BM25 and dense excerpt rankings in standard and mix: reciprocal rank fusion, or "
        "a convex combination of normalised scores",
    )
    rrf_k: int = _knob(60, lo=1, hi=10_000, doc="reciprocal rank fusion constant")
    fusion_norm: str = _knob(
        "minmax", choices=("minmax", "zscore"), doc="how convex fusion puts scores on one scale"
    )
    fusion_dense_weight: float = _knob(
        0.5, lo=0.0, hi=1.0, doc="convex fusion: weight of the dense scores (BM25 gets the rest)"
    )
    fusion_adaptive: bool = _knob(
        False, doc="convex fusion: lean per query towards the ranking whose best hit stands out"
    )
    lexical_summary: bool = _knob(True, doc="BM25 indexes each excerpt with its summary")
    mix_graph: str = _knob(
        "append",
        choices=("append", "rerank"),
        doc="mix: graph excerpts after the fused ones, or the fused list re-ranked by personalised "
        "PageRank from the question's entities",
    )
    graph_rerank_weight: float = _knob(
        0.3, lo=0.0, hi=1.0, doc="mix_graph=rerank: share of the graph score in the final order"
    )
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
    prune_min_degree: int = _knob(0, lo=0, hi=10**9, doc="hide entities with fewer relationships")
    prune_min_weight: float = _knob(0.0, lo=0.0, hi=10**9, doc="hide relationships of lower weight")
    prune_min_mentions: int = _knob(0, lo=0, hi=10**9, doc="hide entities cited by fewer excerpts")
    prune_orphans: bool = _knob(False, doc="hide entities left without relationships")
    excerpt_token_budget: int = _knob(4000, lo=0, hi=1_000_000)
    entity_token_budget: int = _knob(4000, lo=0, hi=1_000_000)
    relationship_token_budget: int = _knob(4000, lo=0, hi=1_000_000)
    local_relationship_token_budget: int = _knob(1000, lo=0, hi=1_000_000)
    kg_excerpt_token_budget: int = _knob(4000, lo=0, hi=1_000_000)
    query_cache: bool = _knob(True)
    query_cache_max_entries: int = _knob(
        10_000, lo=1, hi=10**9, doc="cached query results kept; the oldest are evicted past it"
    )
    groundedness_threshold: float = _knob(
        0.7,
        lo=0.0,
        hi=1.0,
        doc="answer evaluation: support (word overlap or cosine) a cited source gives a sentence",
    )


@dataclass(frozen=True)
class StorageSettings:
    """Where the index is kept and how its vectors are stored and searched."""

    data_dir: Path = _knob(factory=_default_data_dir, doc="where the index lives")
    cache_path: Path | None = _knob(
        None, doc="SQLite file for provider caches (default: data_dir/cache.sqlite)"
    )
    database_url: SecretUrl | None = _knob(
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


@dataclass(frozen=True)
class IngestionSettings:
    """How ingestion runs (never what it stores)."""

    file_extensions: tuple[str, ...] = _knob(
        factory=lambda: (".md", ".mdx", ".txt", ".rst", ".tex", ".yaml", ".yml"),
        doc="files ingested",
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
    price_prompt_per_1k: float = _knob(0.0004, lo=0.0, hi=1000.0, doc="gpt-4.1-mini input")
    price_completion_per_1k: float = _knob(0.0016, lo=0.0, hi=1000.0, doc="gpt-4.1-mini output")
    price_embedding_per_1k: float = _knob(0.00002, lo=0.0, hi=1000.0, doc="text-embedding-3-small")


@dataclass(frozen=True)
class ProviderSettings:
    """The model endpoints: backends, credentials, limits, caches."""

    embedding_batch_size: int = _knob(32, lo=1, hi=4096, doc="texts per local ONNX batch")
    openai_embedding_batch_size: int = _knob(256, lo=1, hi=2048, doc="texts per embeddings request")
    embedding_threads: int = _knob(0, lo=0, hi=256, doc="ONNX intra-op threads (0: one per core)")
    completion_backend: str = _knob(
        "auto",
        choices=("auto", "local", "openai"),
        doc="auto: openai when an API key is set, else local",
    )
    completion_temperature: float | None = _knob(None, lo=0.0, hi=2.0)
    openai_api_key: SecretStr | None = _knob(None)
    openai_base_url: str | None = _knob(
        None, doc="any OpenAI-compatible server: vLLM, Ollama, llama.cpp"
    )
    request_timeout_s: float = _knob(60.0, lo=0.01, hi=3600.0)
    max_retries: int = _knob(5, lo=0, hi=100)
    retry_base_delay_s: float = _knob(0.5, lo=0.0, hi=600.0)
    retry_max_delay_s: float = _knob(30.0, lo=0.0, hi=3600.0)
    max_concurrent_requests: int = _knob(8, lo=1, hi=1024)
    request_deadline_s: float = _knob(
        0.0, lo=0.0, hi=86_400.0, doc="per chat call: cancel, never re-send on timeout (0 = none)"
    )
    structured_output: str = _knob(
        "auto",
        choices=("auto", "json_schema", "json_object", "off"),
        doc="JSON output for extraction, summaries and keywords: json_schema (OpenAI, vLLM), "
        "json_object with a schema (llama.cpp), off (delimiter records); auto probes once",
    )
    max_output_tokens_summary: int = _knob(300, lo=0, hi=1_000_000, doc="max_tokens, 0 = none")
    max_output_tokens_extraction: int = _knob(2000, lo=0, hi=1_000_000, doc="also group calls")
    max_output_tokens_keywords: int = _knob(200, lo=0, hi=1_000_000, doc="max_tokens, 0 = none")
    max_output_tokens_answer: int = _knob(1000, lo=0, hi=1_000_000, doc="max_tokens, 0 = none")
    model_context_tokens: int = _knob(
        0, lo=0, hi=10_000_000, doc="the model's window; query budgets shrink to fit (0 = unknown)"
    )
    requests_per_minute: int = _knob(0, lo=0, hi=10_000_000, doc="client-side cap, 0 = none")
    tokens_per_minute: int = _knob(0, lo=0, hi=1_000_000_000, doc="client-side cap, 0 = none")
    embedding_cache: bool = _knob(True)
    completion_cache: bool = _knob(True)


@dataclass(frozen=True)
class ServerSettings:
    """The HTTP API (``smolrag-lab serve``)."""

    api_host: str = _knob("127.0.0.1", doc="address the API listens on")
    api_port: int = _knob(8000, lo=1, hi=65535)
    api_token: SecretStr | None = _knob(
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
    api_failed_logins_per_minute: int = _knob(
        10, lo=1, hi=10**6, doc="wrong or missing tokens per client address per minute before 429"
    )
    api_header_timeout_s: float = _knob(10.0, lo=0.1, hi=3600.0, doc="request headers deadline")
    api_body_timeout_s: float = _knob(30.0, lo=0.1, hi=3600.0, doc="request body deadline (408)")
    api_max_connections: int = _knob(100, lo=1, hi=10**6, doc="open connections; beyond: 503")
    api_proxy_headers: bool = _knob(
        False, doc="trust X-Forwarded-For/-Proto from api_forwarded_allow_ips (behind a proxy)"
    )
    api_forwarded_allow_ips: str = _knob(
        "127.0.0.1", doc="comma-separated proxy addresses trusted when api_proxy_headers is on"
    )


@dataclass(frozen=True)
class LoggingSettings:
    """Log level and the rotated log file."""

    log_level: str = _knob("WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    log_to_file: bool = _knob(True, doc="also log to data_dir/logs/smolrag_lab.log, rotated")
    log_max_bytes: int = _knob(
        1_000_000, lo=1_000, hi=10**10, doc="size at which the log file rotates"
    )
    log_backups: int = _knob(3, lo=0, hi=1000, doc="rotated log files kept")
    model_io_log: Path | None = _knob(
        None, doc="JSONL file every chat prompt and response is appended to (--log-model-io)"
    )


# Concern name -> the class that declares its settings (in the order Settings lists them).
CONCERN_CLASSES = {
    "index": IndexSettings,
    "query": QuerySettings,
    "storage": StorageSettings,
    "ingestion": IngestionSettings,
    "providers": ProviderSettings,
    "server": ServerSettings,
    "logging": LoggingSettings,
}
