"""Request and response bodies of the HTTP API (they make its OpenAPI schema)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LABEL = re.compile(r"[\w][\w .\-/]{0,199}\Z")  # \Z: "$" would let a trailing newline in


class _QueryBody(BaseModel):
    """A query body takes only its declared keys: any other is refused with the allowed ones named
    (the server's other settings are not a client's to change).
    """

    model_config = ConfigDict(extra="forbid")  # and the OpenAPI schema says so

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise ValueError(
                    f"unknown key(s) {', '.join(map(str, unknown))}; this request accepts only: "
                    f"{', '.join(cls.model_fields)}"
                )
        return data


class QueryRequest(_QueryBody):
    text: str = Field(description="the question")
    query_type: str = Field(
        "standard",
        description="standard | local_kg | global_kg | hybrid_kg | mix | auto (any case)",
    )
    include_sources: bool = Field(
        False, description="also return the numbered sources, timings and mode"
    )


class RetrieveRequest(_QueryBody):
    text: str
    query_type: str = "standard"
    top_k: int | None = Field(
        None, ge=1, le=100, description="excerpts wanted (default: the server's setting)"
    )


class SourceOut(BaseModel):
    number: int
    document: str = Field(description="the document's file name")
    source: str = Field(description="the document as GET /documents names it (unambiguous)")
    excerpt_id: str
    score: float
    origin: str
    text: str
    summary: str


class QueryResponse(BaseModel):
    result: str
    mode: str | None = None
    plan: str | None = None
    sources: list[SourceOut] | None = None
    timings_ms: dict[str, float] | None = None
    citations_ok: bool | None = Field(
        default=None, description="every [n] names a source and every sentence carries one"
    )
    uncited_sentences: list[str] | None = Field(
        default=None, description="answer sentences that cite no source"
    )


class RetrieveResponse(BaseModel):
    mode: str
    plan: str | None = None
    context: str
    sources: list[SourceOut]
    entities: list[dict[str, Any]]
    relationships: list[dict[str, Any]]
    token_counts: dict[str, int]
    timings_ms: dict[str, float]


class DocumentIn(BaseModel):
    """Either ``text`` (with a ``source`` label) or ``path`` (a file or folder inside the server's
    documents root).
    """

    model_config = ConfigDict(extra="forbid")
    source: str | None = Field(None, description="label of uploaded text, e.g. notes/setup.md")
    text: str | None = Field(None, description="document text to ingest")
    path: str | None = Field(
        None, description="file or folder relative to the server's documents root"
    )

    @field_validator("source")
    @classmethod
    def _safe_label(cls, value: str | None) -> str | None:
        if value is not None and (not LABEL.match(value) or ".." in value.split("/")):
            raise ValueError(
                "source must be a relative name of letters, digits, spaces, '.', '-', '_' and '/' "
                "(no '..'), at most 200 characters"
            )
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> DocumentIn:
        if (self.text is None) == (self.path is None):
            raise ValueError("give either text (with source) or path")
        if self.text is not None and self.source is None:
            raise ValueError("uploaded text needs a source label")
        return self


class IngestResponse(BaseModel):
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]
    skipped: list[dict[str, str]]
    failed: list[dict[str, str]]
    excerpts: int
    entities: int
    relationships: int


class DocumentOut(BaseModel):
    source: str
    title: str
    excerpts: int
    chars: int
    ingested_at: float


class ErrorDetail(BaseModel):
    status: int
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail
