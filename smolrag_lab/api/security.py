"""What stands between a request and the engine: bearer authentication, a body-size limit, a
per-client rate limit, and error bodies that never carry a stack trace or a file-system path.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:/[^\s'\"/:]+){2,}/?")


def scrub(message: str) -> str:
    """The message with anything that looks like an absolute file-system path replaced."""
    return _PATH.sub("<path>", message)[:500]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"status": status, "message": scrub(message)}}, status, headers=headers
    )


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_bytes``, by its Content-Length or, when streamed, as
    soon as the bytes received pass the limit (the rest is never read). The body is read here, at
    most ``max_bytes`` of it, and handed on whole.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._reject(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._reject(scope, receive, send)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, scope: dict, receive: Callable, send: Callable) -> None:
        await error(413, f"request body over the limit of {self.max_bytes} bytes")(
            scope, receive, send
        )


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """0 when the request may go ahead (and is counted), else seconds until it may."""
        if self.per_minute <= 0:
            return 0.0
        rate, now = self.per_minute / 60.0, time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / rate


bearer = HTTPBearer(auto_error=False, description="the server's API token (SMOLRAG_API_TOKEN)")


def make_guard(token: str | None, limiter: RateLimiter) -> Callable[..., Awaitable[None]]:
    """The dependency every protected route runs: the token check (unless ``token`` is None: auth
    off), then the client's rate limit (clients are told apart by token, else by address).
    """
    expected = token.encode() if token else None

    async def guard(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> None:
        if expected is not None:
            given = (credentials.credentials if credentials else "").encode()
            if not hmac.compare_digest(given, expected):
                raise HTTPException(
                    401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
                )
        client = (
            hashlib.sha256(credentials.credentials.encode()).hexdigest()[:16]
            if credentials
            else request.client.host
            if request.client
            else "unknown"
        )
        wait = limiter.retry_after(client)
        if wait:
            raise HTTPException(
                429, "rate limit reached", headers={"Retry-After": str(max(1, round(wait)))}
            )

    return guard


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return error(400, "the request body is not valid JSON")
        described = "; ".join(
            f"{'.'.join(str(x) for x in p.get('loc', ()) if x != 'body') or 'body'}: {p.get('msg')}"
            for p in problems[:5]
        )
        return error(422, described)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error(500, "internal error (details are in the server log)")
