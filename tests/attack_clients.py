"""Slow, tokenless clients against a running API server, with the figures they produce: how long the
server keeps their connections open, and its resident memory before and after. Used by
tests/test_api_hardening.py; run as a script to measure any server:

    python tests/attack_clients.py PORT PID
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

HEAD = (
    "POST /query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    "Content-Length: {length}\r\n\r\n"
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _open_for(sockets: list[socket.socket], started: float, wait_s: float) -> list[float | None]:
    """Seconds (from ``started``) until the server closed each connection; None: still open."""
    closed: list[float | None] = [None] * len(sockets)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and None in closed:
        for i, sock in enumerate(sockets):
            if closed[i] is not None:
                continue
            try:
                sock.settimeout(0.01)
                if sock.recv(65536) == b"":
                    closed[i] = time.monotonic() - started
            except TimeoutError:
                continue
            except OSError:
                closed[i] = time.monotonic() - started
    for sock in sockets:
        sock.close()
    return closed


def partial_bodies(
    port: int,
    n: int = 100,
    declared: int = 1_000_000,
    sent: int = 999_000,
    wait_s: float = 15.0,
    pid: int | None = None,
) -> tuple[list[float | None], float | None]:
    """``n`` connections each declaring ``declared`` body bytes, sending ``sent`` and stopping;
    with the server's ``pid``, also its RSS (MB) once they have all sent.
    """
    sockets, started = [], time.monotonic()
    chunk = b" " * 65536
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        try:
            sock.sendall(HEAD.format(length=declared).encode())
            left = sent
            while left > 0:
                left -= sock.send(chunk[: min(left, len(chunk))])
        except OSError:  # the server refused and closed while we were still sending
            pass
        sockets.append(sock)
    time.sleep(0.5)
    held = rss_mb(pid) if pid else None
    return _open_for(sockets, started, wait_s), held


def partial_headers(port: int, n: int = 50, wait_s: float = 20.0) -> list[float | None]:
    """``n`` connections that send a request line and one header, then nothing."""
    sockets, started = [], time.monotonic()
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /query HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)
    return _open_for(sockets, started, wait_s)


def summary(closed: list[float | None]) -> dict:
    done = [c for c in closed if c is not None]
    return {
        "connections": len(closed),
        "closed_by_server": len(done),
        "max_open_s": round(max(done), 2) if done else None,
    }


def measure(port: int, pid: int) -> dict:
    before = rss_mb(pid)
    closed, held = partial_bodies(port, pid=pid)
    bodies = summary(closed)
    headers = summary(partial_headers(port))
    return {
        "rss_before_mb": round(before, 1),
        "partial_bodies": {**bodies, "rss_while_held_mb": round(held, 1)},
        "partial_headers": {**headers, "rss_after_mb": round(rss_mb(pid), 1)},
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), int(sys.argv[2])), indent=2))
