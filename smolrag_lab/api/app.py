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

from ..engine import SmolRag
from ..query.planner import QUERY_TYPES
from ..query.result import QueryResult
from ..settings import Settings, reveal
from ..stores.lock import IndexLockedError
from . import schemas
from .security import Gate, RateLimiter, install_error_handlers, make_guard

log = logging.getLogger(__name__)
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.ErrorBody, "description": text}
    for status, text in (
        (
            400,
            "empty text, unknown query type, malformed JSON, a NUL character or a lone surrogate, "
            "or a path outside the documents root",
        ),
        (401, "missing or wrong bearer token"),
        (404, "no such document"),
        (408, "the request body did not arrive in time"),
        (409, "another writer holds the index, or the label names a file under the documents root"),
        (413, "request body too large"),
        (422, "the body does not match the schema"),
        (429, "rate limit or failed-login limit reached"),
    )
}


MIN_TOKEN_CHARS = 32  # on a non-loopback address: about 190 bits from secrets.token_urlsafe(32)


class ServerConfigError(RuntimeError):
    """The server would start unsafely (no token, a short token or no auth on a public address)."""


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

    # No /docs or /redoc (their pages load scripts from a CDN); /openapi.json needs the token. No
    # trailing-slash redirects (their Location would come from the client's Host header).
    app = FastAPI(
        title="smolrag_lab",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        description="Graph-plus-vector retrieval over one index. Every route but /health needs "
        "`Authorization: Bearer <token>` unless the server runs with auth off.",
    )
    install_error_handlers(app)
    token = reveal(settings.api_token) if settings.api_auth else None
    guard = make_guard(token, RateLimiter(settings.api_rate_limit_per_minute))
    router = APIRouter(dependencies=[Depends(guard)], responses=ERRORS)
    names = _Names(settings)
    _query_routes(router, names)
    _document_routes(router, names)
    app.include_router(router)

    @app.get("/health", responses={200: {"description": "the server is up"}})
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(
        Gate,
        token=token,
        failed_logins=RateLimiter(settings.api_failed_logins_per_minute),
        max_bytes=settings.api_max_body_bytes,
        body_timeout_s=settings.api_body_timeout_s,
    )
    return app


def check_config(settings: Settings, host: str) -> None:
    if settings.api_auth and not settings.api_token:
        raise ServerConfigError(
            "set an API token (SMOLRAG_API_TOKEN) or turn auth off for local use (--no-auth)"
        )
    if not settings.api_auth and not _is_loopback(host):
        raise ServerConfigError(f"auth can only be off on a loopback address, not {host}")
    short = len(reveal(settings.api_token) or "") < MIN_TOKEN_CHARS
    if settings.api_auth and not _is_loopback(host) and short:
        raise ServerConfigError(
            f"on a non-loopback address the API token needs at least {MIN_TOKEN_CHARS} characters"
        )


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


def _checked(value: str, name: str) -> str:
    """``value`` unless it holds a NUL character or a lone surrogate (JSON can carry both; no store
    keeps the first the same way, and the second is not text): those get 400.
    """
    if "\x00" in value:
        raise HTTPException(400, f"{name} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise HTTPException(
            400, f"{name} is not valid Unicode (a lone surrogate at character {exc.start})"
        ) from exc
    return value


async def _run_query(
    request: Request, text: str, query_type: str, answer: bool, **overrides: Any
) -> QueryResult:
    _checked(text, "text")
    _checked(query_type, "query_type")
    if not text.strip():
        raise HTTPException(400, "text is empty")
    rag = _rag(request)
    call = rag.query if answer else rag.retrieve
    return await asyncio.to_thread(call, text, _mode(query_type), **overrides)


def _sources(result: QueryResult, names: _Names) -> list[schemas.SourceOut]:
    return [
        schemas.SourceOut(
            number=s.number,
            document=s.document,
            source=names.shown(s.source),
            excerpt_id=s.excerpt_id,
            score=s.score,
            origin=s.origin,
            text=s.text,
            summary=s.summary,
        )
        for s in result.sources
    ]


def _query_routes(router: APIRouter, names: _Names) -> None:
    @router.post("/query", response_model=schemas.QueryResponse, response_model_exclude_none=True)
    async def query(body: schemas.QueryRequest, request: Request) -> schemas.QueryResponse:
        """Answer a question (upstream SmolRAG's request and response; sources and timings on
        request).
        """
        result = await _run_query(request, body.text, body.query_type, answer=True)
        if not body.include_sources:
            return schemas.QueryResponse(result=result.answer)
        return schemas.QueryResponse(
            result=result.answer,
            mode=result.mode,
            plan=result.plan or None,
            sources=_sources(result, names),
            timings_ms=result.timings_ms,
            citations_ok=result.citations_ok,
            uncited_sentences=result.uncited_sentences,
        )

    @router.post("/retrieve", response_model=schemas.RetrieveResponse)
    async def retrieve(body: schemas.RetrieveRequest, request: Request) -> schemas.RetrieveResponse:
        """What a question retrieves (context, sources, graph items), without generating an
        answer.
        """
        overrides = {"excerpt_top_k": body.top_k} if body.top_k else {}
        result = await _run_query(request, body.text, body.query_type, answer=False, **overrides)
        return schemas.RetrieveResponse(
            mode=result.mode,
            plan=result.plan or None,
            context=result.context,
            sources=_sources(result, names),
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


class _Names:
    """Documents as clients name them: a file under the documents root by its path relative to the
    root, uploaded text by its label, never by a server path. A label may not name a file under the
    root (and a file may not be ingested over a label), so every name means one document.
    """

    def __init__(self, settings: Settings) -> None:
        root = settings.api_documents_root
        self.root = Path(root).expanduser().resolve() if root else None

    def shown(self, source: str) -> str:
        path = Path(source)
        if self.root is not None and path.is_absolute() and path.is_relative_to(self.root):
            return str(path.relative_to(self.root))
        return path.name if path.is_absolute() else source

    def file(self, label: str) -> Path | None:
        """Where ``label`` would be under the documents root (None: no root, or outside it)."""
        if self.root is None:
            return None
        candidate = (self.root / label).resolve()
        return candidate if candidate.is_relative_to(self.root) else None

    def stored(self, index: Any, source: str) -> str | None:
        """The stored key of the document clients call ``source`` (None: no such document)."""
        as_label = index.sources.get(source) is not None
        path = self.file(source)
        as_file = path is not None and index.sources.get(str(path)) is not None
        if as_label and as_file:
            raise HTTPException(409, "the name is both an uploaded label and a file; ambiguous")
        return source if as_label else str(path) if as_file else None

    def check_label(self, index: Any, label: str) -> None:
        path = self.file(label)
        if path is not None and (path.exists() or index.sources.get(str(path)) is not None):
            raise HTTPException(
                409, "the source label names a file under the documents root; choose another label"
            )

    def check_files(self, index: Any, target: Path) -> None:
        """409 when ``target`` (a file or folder) holds a file an uploaded label already names."""
        for _, record in index.documents.items():
            source = record["source"]
            if Path(source).is_absolute():
                continue
            path = self.file(source)
            if path is not None and path.is_relative_to(target) and path.exists():
                raise HTTPException(
                    409,
                    f"the uploaded document {source!r} has the name of a file under the documents "
                    "root; delete it first",
                )


def _document_routes(router: APIRouter, names: _Names) -> None:
    @router.get("/documents", response_model=list[schemas.DocumentOut])
    async def documents(request: Request) -> list[schemas.DocumentOut]:
        """Every indexed document."""
        records = [r for _, r in _rag(request).index.documents.items()]
        return [
            schemas.DocumentOut(
                source=names.shown(r["source"]),
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
            _checked(body.text, "text")
            if not body.text.strip():
                raise HTTPException(400, "text is empty")
            label = body.source or ""  # the schema requires it with text
            names.check_label(rag.index, label)
            report = await _writing(asyncio.to_thread(rag.ingest_text, body.text, label))
        else:
            target = _inside_root(names.root, _checked(body.path or "", "path"))
            names.check_files(rag.index, target)
            report = await _writing(
                asyncio.to_thread(rag.ingest, [target], progress=False, confine_to=names.root)
            )
        return _ingested(report, names)

    @router.delete("/documents/{source:path}", status_code=204, response_class=Response)
    async def delete(source: str, request: Request) -> Response:
        """Remove a document (as ``GET /documents`` names it) and everything only it contributed."""
        key = names.stored(_rag(request).index, _checked(source, "source"))
        if key is None or not await _writing(asyncio.to_thread(_rag(request).delete, key)):
            raise HTTPException(404, "no such document")
        return Response(status_code=204)


def _ingested(report: Any, names: _Names) -> schemas.IngestResponse:
    """The report as clients see it. A failed document's error stays in the server log: it can
    carry server paths, database messages or a model's raw output.
    """
    for failure in report.failed:
        log.warning("ingesting %s failed at %s: %s", *failure.values())
    counts = {
        k: [names.shown(s) for s in getattr(report, k)]
        for k in ("added", "updated", "unchanged", "removed")
    }
    return schemas.IngestResponse(
        **counts,
        skipped=[
            {"source": names.shown(s["source"]), "reason": s["reason"]} for s in report.skipped
        ],
        failed=[
            {
                "source": names.shown(f["source"]),
                "stage": f["stage"],
                "error": f"the {f['stage']} stage failed (details are in the server log)",
            }
            for f in report.failed
        ],
        excerpts=report.excerpts,
        entities=report.entities,
        relationships=report.relationships,
    )


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
    """Run the API with uvicorn (limits from :mod:`.server`) until interrupted."""
    import uvicorn

    from .server import uvicorn_config

    settings = settings.replace(
        api_host=host or settings.api_host, api_port=port or settings.api_port
    )
    app = create_app(settings)
    uvicorn.Server(uvicorn_config(app, settings, settings.api_host, settings.api_port)).run()
