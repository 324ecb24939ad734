"""uvicorn as the API runs it: connection, header and keep-alive limits, proxy headers off unless
asked for. uvicorn times out idle keep-alive connections but not a client that sends its request
line and headers slowly (or nothing at all), so the h11 protocol here adds a headers deadline.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..settings import Settings

MAX_HEADER_BYTES = 32 * 1024  # request line and headers; larger ones get 400 from h11
KEEP_ALIVE_S = 5


class HeadersDeadlineH11(H11Protocol):
    """H11Protocol that closes a connection whose request headers are not complete within
    ``header_timeout_s`` of its first byte (or of the connection, for the first request).
    """

    header_timeout_s = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._headers_timer: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._headers_timer is None:
            self._headers_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._headers_timer is not None:
            self._headers_timer.cancel()
            self._headers_timer = None

    def _too_slow(self) -> None:
        self._headers_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def uvicorn_config(app: Any, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration of ``settings`` (the CLI's server and the tests' are the same)."""
    protocol = type(
        "HeadersDeadline",
        (HeadersDeadlineH11,),
        {"header_timeout_s": settings.api_header_timeout_s},
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=protocol,
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=settings.api_max_connections,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        proxy_headers=settings.api_proxy_headers,
        forwarded_allow_ips=settings.api_forwarded_allow_ips,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
