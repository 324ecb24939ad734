"""What stands between a request and the engine: bearer authentication before the body is read,
a failed-login limit per address, a body-size limit and deadline, a per-client rate limit, and
error bodies that never carry a stack trace or a file-system path.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import logging
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

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


CLOSE = {"connection": "close"}  # sent when the request body was not read: the connection ends


class Gate:
    """ASGI middleware in front of every route, so that nothing unauthenticated costs memory:

    - a path with a NUL character gets 400;
    - off the open paths, a client address past its failed-login budget gets 429, and a missing or
      wrong bearer token 401, both before a byte of the body is read, and the connection is closed;
    - a body over ``max_bytes`` gets 413 (by its Content-Length, or once the streamed bytes pass
      it), one not received within ``body_timeout_s`` gets 408; the body is handed on whole.
    """

    def __init__(
        self,
        app: Any,
        token: str | None,
        failed_logins: RateLimiter,
        max_bytes: int,
        body_timeout_s: float,
        open_paths: frozenset[str] = frozenset({"/health"}),
    ) -> None:
        self.app, self.failed_logins, self.open_paths = app, failed_logins, open_paths
        self.expected = token.encode() if token else None
        self.max_bytes, self.body_timeout_s = max_bytes, body_timeout_s

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refused = self._refusal(scope)
        if refused is not None:
            return await refused(scope, receive, send)
        body = await self._body(receive)
        if isinstance(body, JSONResponse):
            return await body(scope, receive, send)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _refusal(self, scope: dict) -> JSONResponse | None:
        """The answer to a request refused on its headers alone, else None."""
        if "\x00" in scope["path"]:
            return error(400, "the path contains a NUL character", CLOSE)
        headers = dict(scope.get("headers") or [])
        if self.expected is not None and scope["path"] not in self.open_paths:
            client = scope["client"][0] if scope.get("client") else "unknown"
            wait = self.failed_logins.retry_after(client, consume=False)
            if wait:
                retry = {"Retry-After": str(max(1, math.ceil(wait))), **CLOSE}
                return error(429, "too many failed logins from this address", retry)
            scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
            given = given.strip()
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given, self.expected):
                self.failed_logins.retry_after(client)
                challenge = {"WWW-Authenticate": "Bearer", **CLOSE}
                return error(401, "missing or wrong bearer token", challenge)
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return self._too_large()
        return None

    async def _body(self, receive: Callable) -> bytes | JSONResponse:
        chunks, size, more = [], 0, True
        deadline = time.monotonic() + self.body_timeout_s
        while more:
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                late = f"the request body did not arrive within {self.body_timeout_s:g} s"
                return error(408, late, CLOSE)
            if message["type"] == "http.disconnect":
                return error(400, "the client disconnected", CLOSE)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return self._too_large()
            more = message.get("more_body", False)
        return b"".join(chunks)

    def _too_large(self) -> JSONResponse:
        return error(413, f"request body over the limit of {self.max_bytes} bytes", CLOSE)


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests, refilled continuously. At most
    ``max_clients`` buckets are kept: a bucket idle for a minute is full again, the same as none,
    and is dropped; past the bound the least recently seen goes first.
    """

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.per_minute, self.max_clients = per_minute, max_clients
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def retry_after(self, client: str, consume: bool = True) -> float:
        """0 when the request may go ahead (and, with ``consume``, is counted), else seconds until
        it may.
        """
        if self.per_minute <= 0:
            return 0.0
        rate, now = self.per_minute / 60.0, time.monotonic()
        with self._lock:
            self._evict(now)
            tokens, last = self._buckets.pop(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - (allowed and consume), now)
            return 0.0 if allowed else (1.0 - tokens) / rate

    def _evict(self, now: float) -> None:
        while self._buckets:
            oldest, (_, last) = next(iter(self._buckets.items()))
            if now - last < 60.0 and len(self._buckets) < self.max_clients:
                return
            del self._buckets[oldest]


bearer = HTTPBearer(auto_error=False, description="the server's API token (SMOLRAG_API_TOKEN)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def make_guard(token: str | None, limiter: RateLimiter) -> Callable[..., Awaitable[None]]:
    """The dependency every protected route runs: the token check (the :class:`Gate` has made it
    already; here it declares the scheme in the OpenAPI schema), then the rate limit of the client's
    address. The address is the socket's peer, or a trusted proxy's ``X-Forwarded-For`` only when
    the server runs with proxy headers on; an unverified token never picks a bucket.
    """
    expected = token.encode() if token else None

    async def guard(request: Request, credentials: Credentials) -> None:
        if expected is not None:
            given = (credentials.credentials if credentials else "").encode()
            if not hmac.compare_digest(given, expected):
                raise HTTPException(
                    401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
                )
        wait = limiter.retry_after(request.client.host if request.client else "unknown")
        if wait:
            raise HTTPException(
                429, "rate limit reached", headers={"Retry-After": str(max(1, math.ceil(wait)))}
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
