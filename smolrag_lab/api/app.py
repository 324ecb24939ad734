"""Routes of the HTTP API. Upstream SmolRAG's ``POST /query`` (``{"text", "query_type"}`` in,
``{"result"}`` out, 400 for empty text or an unknown type) works as it did; everything else is new.

Engine calls run in worker threads (the engine funnels them to its own event loop), so the server's
loop keeps answering ``/health`` and other clients while a query or an ingestion runs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response

from ..engine import QueryResult, SmolRag
from ..query.planner import QUERY_TYPES
from ..settings import Settings, reveal
from ..stores.lock import IndexLockedError
from . import schemas
from .security import BodyLimit, RateLimiter, install_error_handlers, make_guard

log = logging.getLogger(__name__)
ERRORS = {
    status: {"model": schemas.ErrorBody, "description": text}
    for status, text in (
        (
            400,
            "empty text, unknown query type, malformed JSON, or a path outside the documents root",
        ),
        (401, "missing or wrong bearer token"),
        (404, "no such document"),
        (409, "another writer holds the index"),
        (413, "request body too large"),
        (422, "the body does not match the schema"),
        (429, "rate limit reached"),
    )
}


class ServerConfigError(RuntimeError):
    """The server would start unsafely (no token, or no auth on a public address)."""


def create_app(settings: Settings, engine: SmolRag | None = None) -> FastAPI:
    """The API over one engine (opened on startup from ``settings`` unless given)."""
    check_config(settings, settings.api_host)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.rag = engine or await asyncio.to_thread(SmolRag, settings)
        try:
            yield
        finally:
            if engine is None:
                app.state.rag.close()

    app = FastAPI(
        title="smolrag_lab",
        version="1",
        lifespan=lifespan,
        description="Graph-plus-vector retrieval over one index. Every route but /health needs "
        "`Authorization: Bearer <token>` unless the server runs with auth off.",
    )
    install_error_handlers(app)
    guard = make_guard(
        reveal(settings.api_token) if settings.api_auth else None,
        RateLimiter(settings.api_rate_limit_per_minute),
    )
    router = APIRouter(dependencies=[Depends(guard)], responses=ERRORS)
    _query_routes(router)
    _document_routes(router, settings)
    app.include_router(router)

    @app.get("/health", responses={200: {"description": "the server is up"}})
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    return app


def check_config(settings: Settings, host: str) -> None:
    if settings.api_auth and not settings.api_token:
        raise ServerConfigError(
            "set an API token (SMOLRAG_API_TOKEN) or turn auth off for local use (--no-auth)"
        )
    if not settings.api_auth and not _is_loopback(host):
        raise ServerConfigError(f"auth can only be off on a loopback address, not {host}")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _rag(request: Request) -> SmolRag:
    return request.app.state.rag


def _mode(query_type: str) -> str:
    mode = query_type.strip().lower()
    if mode not in QUERY_TYPES:
        raise HTTPException(
            400, f"unknown query_type {query_type[:40]!r}; choose one of: {', '.join(QUERY_TYPES)}"
        )
    return mode


async def _run_query(
    request: Request, text: str, query_type: str, answer: bool, **overrides: Any
) -> QueryResult:
    if not text.strip():
        raise HTTPException(400, "text is empty")
    rag = _rag(request)
    call = rag.query if answer else rag.retrieve
    return await asyncio.to_thread(call, text, _mode(query_type), **overrides)


def _sources(result: QueryResult) -> list[schemas.SourceOut]:
    return [
        schemas.SourceOut(
            number=s.number,
            document=s.document,
            excerpt_id=s.excerpt_id,
            score=s.score,
            origin=s.origin,
            text=s.text,
            summary=s.summary,
        )
        for s in result.sources
    ]


def _query_routes(router: APIRouter) -> None:
    @router.post("/query", response_model=schemas.QueryResponse, response_model_exclude_none=True)
    async def query(body: schemas.QueryRequest, request: Request) -> schemas.QueryResponse:
        """Answer a question (upstream SmolRAG's request and response; sources and timings on request)."""
        result = await _run_query(request, body.text, body.query_type, answer=True)
        if not body.include_sources:
            return schemas.QueryResponse(result=result.answer)
        return schemas.QueryResponse(
            result=result.answer,
            mode=result.mode,
            plan=result.plan or None,
            sources=_sources(result),
            timings_ms=result.timings_ms,
        )

    @router.post("/retrieve", response_model=schemas.RetrieveResponse)
    async def retrieve(body: schemas.RetrieveRequest, request: Request) -> schemas.RetrieveResponse:
        """What a question retrieves (context, sources, graph items), without generating an answer."""
        overrides = {"excerpt_top_k": body.top_k} if body.top_k else {}
        result = await _run_query(request, body.text, body.query_type, answer=False, **overrides)
        return schemas.RetrieveResponse(
            mode=result.mode,
            plan=result.plan or None,
            context=result.context,
            sources=_sources(result),
            entities=[_public(e) for e in result.entities],
            relationships=[_public(r) for r in result.relationships],
            token_counts=result.token_counts,
            timings_ms=result.timings_ms,
        )

    @router.get("/stats")
    async def stats(request: Request) -> dict[str, Any]:
        """Index counts, sizes and provider statistics."""
        found = await asyncio.to_thread(_rag(request).stats)
        found.pop("data_dir", None)  # a server path
        return found


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """A graph item without its provenance lists (excerpt and document ids are internal)."""
    return {k: v for k, v in item.items() if k not in ("excerpt_ids", "doc_ids")}


def _document_routes(router: APIRouter, settings: Settings) -> None:
    root = (
        Path(settings.api_documents_root).expanduser().resolve()
        if settings.api_documents_root
        else None
    )

    def shown(source: str) -> str:
        """A stored source as clients see it: relative to the documents root, never a server path."""
        path = Path(source)
        if root is not None and path.is_absolute() and path.is_relative_to(root):
            return str(path.relative_to(root))
        return path.name if path.is_absolute() else source

    def stored(index: Any, source: str) -> str | None:
        if index.sources.get(source) is not None:
            return source
        if root is not None:
            candidate = (root / source).resolve()
            if candidate.is_relative_to(root) and index.sources.get(str(candidate)) is not None:
                return str(candidate)
        return None

    @router.get("/documents", response_model=list[schemas.DocumentOut])
    async def documents(request: Request) -> list[schemas.DocumentOut]:
        """Every indexed document."""
        records = [r for _, r in _rag(request).index.documents.items()]
        return [
            schemas.DocumentOut(
                source=shown(r["source"]),
                title=r.get("title", ""),
                excerpts=len(r["excerpt_ids"]),
                chars=r.get("chars", 0),
                ingested_at=r.get("ingested_at", 0.0),
            )
            for r in sorted(records, key=lambda r: r["source"])
        ]

    @router.post("/documents", response_model=schemas.IngestResponse)
    async def ingest(body: schemas.DocumentIn, request: Request) -> schemas.IngestResponse:
        """Ingest uploaded text, or a file or folder inside the server's documents root."""
        rag = _rag(request)
        if body.text is not None:
            if not body.text.strip():
                raise HTTPException(400, "text is empty")
            report = await _writing(asyncio.to_thread(rag.ingest_text, body.text, body.source))
        else:
            report = await _writing(
                asyncio.to_thread(
                    rag.ingest, [_inside_root(root, body.path)], progress=False, confine_to=root
                )
            )
        counts = {
            k: [shown(s) for s in getattr(report, k)]
            for k in ("added", "updated", "unchanged", "removed")
        }
        return schemas.IngestResponse(
            **counts,
            skipped=[{"source": shown(s["source"]), "reason": s["reason"]} for s in report.skipped],
            failed=[
                {"source": shown(f["source"]), "stage": f["stage"], "error": f["error"]}
                for f in report.failed
            ],
            excerpts=report.excerpts,
            entities=report.entities,
            relationships=report.relationships,
        )

    @router.delete("/documents/{source:path}", status_code=204, response_class=Response)
    async def delete(source: str, request: Request) -> Response:
        """Remove a document (as ``GET /documents`` names it) and everything only it contributed."""
        key = stored(_rag(request).index, source)
        if key is None or not await _writing(asyncio.to_thread(_rag(request).delete, key)):
            raise HTTPException(404, "no such document")
        return Response(status_code=204)


def _inside_root(root: Path | None, relative: str | None) -> Path:
    """The path resolved (symlinks followed) and refused unless it stays inside ``root``."""
    if root is None:
        raise HTTPException(400, "this server ingests no paths (no documents root is configured)")
    target = (root / (relative or "")).resolve()
    if not target.is_relative_to(root):
        raise HTTPException(400, "path is outside the documents root")
    if not target.exists():
        raise HTTPException(404, "no such file or folder under the documents root")
    return target


async def _writing(call: Any) -> Any:
    try:
        return await call
    except IndexLockedError as exc:
        raise HTTPException(409, "another writer holds the index; try again later") from exc
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the API with uvicorn until interrupted."""
    import uvicorn

    settings = settings.replace(
        api_host=host or settings.api_host, api_port=port or settings.api_port
    )
    uvicorn.run(
        create_app(settings), host=settings.api_host, port=settings.api_port, log_level="warning"
    )
