"""The HTTP API, served for real by uvicorn on 127.0.0.1 and driven over HTTP: upstream SmolRAG's
request and response, the new routes, authentication, limits, path traversal, error bodies, a
reader on the same data directory, property-based tests against the OpenAPI schema, and a bounded
load run."""

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from api_server import TOKEN, guarded_settings, running
from conftest import SHARED

from smolrag_lab import Settings, SmolRag
from smolrag_lab.api.app import ServerConfigError, create_app

DOCS = ("01-project-overview.md", "06-query-types.md")
pytestmark = pytest.mark.skipif(
    not (SHARED / "corpus" / "smolrag_docs").is_dir(), reason="needs ../shared"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("docs")
    (root / "corpus").mkdir()
    for name in DOCS:
        shutil.copy(SHARED / "corpus" / "smolrag_docs" / name, root / "corpus" / name)
    (root / "corpus" / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.md").write_text("The launch code is 0000 and it lives outside the root.")
    os.symlink(outside / "secret.md", root / "corpus" / "link.md")
    settings = guarded_settings(tmp_path_factory.mktemp("index"), TOKEN, root)
    with running(settings) as url:
        client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
        )
        ingested = client.post("/documents", json={"path": "corpus"})
        assert ingested.status_code == 200, ingested.text
        yield url, client, settings, ingested.json()


def test_upstream_request_and_response_are_unchanged(served):
    _, client, _, _ = served
    reply = client.post(
        "/query", json={"text": "What query types does SmolRAG offer?", "query_type": "HYBRID_KG"}
    )
    assert reply.status_code == 200 and list(reply.json()) == ["result"] and reply.json()["result"]
    assert (
        client.post("/query", json={"text": "What is SmolRAG?"}).status_code == 200
    )  # query_type defaults
    for body in ({"text": "   ", "query_type": "mix"}, {"text": "What?", "query_type": "fastest"}):
        bad = client.post("/query", json=body)
        assert bad.status_code == 400 and bad.json()["error"]["status"] == 400


def test_sources_timings_and_retrieval_without_answer(served):
    _, client, _, _ = served
    full = client.post(
        "/query",
        json={"text": "How does mix mode work?", "query_type": "auto", "include_sources": True},
    ).json()
    assert (
        full["sources"]
        and full["mode"] in ("standard", "mix")
        and full["plan"]
        and "total_ms" in full["timings_ms"]
    )
    assert {s["document"] for s in full["sources"]} <= set(DOCS)
    found = client.post(
        "/retrieve", json={"text": "What is local_kg?", "query_type": "local_kg", "top_k": 3}
    ).json()
    assert found["entities"] and found["context"] and "excerpt_ids" not in found["entities"][0]
    assert "answer" not in found and "result" not in found


def test_documents_listed_ingested_and_deleted_without_server_paths(served):
    _, client, settings, first = served
    assert sorted(first["added"]) == [f"corpus/{n}" for n in DOCS]
    assert {s["source"] for s in first["skipped"]} >= {"corpus/image.md"}
    assert str(settings.data_dir) not in json.dumps(first) and "/tmp" not in json.dumps(first)
    assert "secret" not in json.dumps(
        client.get("/documents").json()
    )  # the symlink out of the root was refused
    added = client.post(
        "/documents",
        json={
            "source": "notes/widgets.md",
            "text": "Widgets are made by Acme Corp in Paris since 1999.",
        },
    )
    assert added.json()["added"] == ["notes/widgets.md"]
    assert "notes/widgets.md" in [d["source"] for d in client.get("/documents").json()]
    answer = client.post(
        "/query", json={"text": "Who makes widgets?", "include_sources": True}
    ).json()
    assert any(s["document"] == "widgets.md" for s in answer["sources"])
    # the extractive answer cites a source in every quoted sentence; the API says so
    assert answer["citations_ok"] is True and answer["uncited_sentences"] == []
    assert client.delete("/documents/notes/widgets.md").status_code == 204
    assert client.delete("/documents/notes/widgets.md").status_code == 404
    stats = client.get("/stats").json()
    assert stats["documents"] == len(DOCS) and "data_dir" not in stats


@pytest.mark.parametrize(
    "path", ["../outside/secret.md", "/etc/passwd", "corpus/../../x", "corpus/link.md"]
)
def test_paths_outside_the_documents_root_are_refused(served, path):
    _, client, _, _ = served
    reply = client.post("/documents", json={"path": path})
    if path == "corpus/link.md":  # inside by name, outside by target: the resolved path decides
        assert reply.status_code == 400
    else:
        assert reply.status_code == 400, reply.text
    assert "outside" in reply.json()["error"]["message"] and "/tmp" not in reply.text


@pytest.mark.parametrize(
    "body",
    [
        {"source": "../up.md", "text": "x"},
        {"source": "/abs.md", "text": "x"},
        {"text": "no label"},
        {"path": "a", "text": "both"},
        {},
    ],
)
def test_bad_document_bodies_get_422(served, body):
    _, client, _, _ = served
    reply = client.post("/documents", json=body)
    assert reply.status_code == 422 and reply.json()["error"]["message"]


def test_every_route_but_health_needs_the_token(served):
    url, _, _, _ = served
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        for method, path in (
            ("GET", "/documents"),
            ("GET", "/stats"),
            ("POST", "/query"),
            ("DELETE", "/documents/x"),
        ):
            reply = httpx.request(method, f"{url}{path}", headers=headers, json={"text": "x"})
            assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"


def test_malformed_json_and_oversized_bodies_get_json_errors(served):
    url, client, settings, _ = served
    broken = client.post(
        "/query", content=b'{"text": "unterminated', headers={"content-type": "application/json"}
    )
    assert (
        broken.status_code == 400
        and broken.json()["error"]["message"] == "the request body is not valid JSON"
    )
    huge = client.post(
        "/query",
        content=b"x" * (settings.api_max_body_bytes + 1),
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413 and "limit" in huge.json()["error"]["message"]

    def streamed():
        for _ in range(2 * settings.api_max_body_bytes // 65536):
            yield b" " * 65536

    chunked = client.post(
        "/query", content=streamed(), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413
    for reply in (broken, huge, chunked):
        assert "Traceback" not in reply.text and "/tmp" not in reply.text


def test_rate_limit_per_client(tmp_path):
    settings = Settings(
        data_dir=tmp_path, api_token=TOKEN, api_rate_limit_per_minute=5, log_to_file=False
    )
    with running(settings) as url:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        codes = [httpx.get(f"{url}/stats", headers=headers).status_code for _ in range(7)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
        limited = httpx.get(f"{url}/stats", headers=headers)
        assert int(limited.headers["retry-after"]) >= 1 and limited.json()["error"]["status"] == 429
        assert httpx.get(f"{url}/health").status_code == 200


def test_unsafe_configurations_are_refused(tmp_path):
    with pytest.raises(ServerConfigError, match="token"):
        create_app(Settings(data_dir=tmp_path, log_to_file=False))
    with pytest.raises(ServerConfigError, match="loopback"):
        create_app(
            Settings(data_dir=tmp_path, api_auth=False, api_host="0.0.0.0", log_to_file=False)
        )
    assert create_app(Settings(data_dir=tmp_path, api_auth=False, log_to_file=False))


def test_a_notebook_reads_the_same_data_directory_while_the_server_runs(served):
    _, client, settings, _ = served
    with SmolRag(settings.replace(log_to_file=False)) as reader:
        before = reader.retrieve("What is SmolRAG?", "standard")
        client.post(
            "/documents",
            json={"source": "late.md", "text": "Gizmos are assembled by Initech in Austin."},
        )
        after = reader.retrieve("Who assembles gizmos?", "standard")
        assert before.sources and any(s.document == "late.md" for s in after.sources)
    assert client.delete("/documents/late.md").status_code == 204


def test_a_second_writer_gets_409_and_nothing_is_written(served):
    _, client, settings, _ = served
    with SmolRag(settings.replace(write_lock_timeout_s=0.0)) as other, other.writer_lock:
        reply = client.post(
            "/documents",
            json={"source": "blocked.md", "text": "Blocked while another writer works."},
        )
    assert reply.status_code == 409 and "another writer" in reply.json()["error"]["message"]
    assert "blocked.md" not in json.dumps(client.get("/documents").json())


def test_bounded_load_on_loopback(served):
    _, client, _, _ = served
    questions = [
        "What is SmolRAG?",
        "How does hybrid_kg work?",
        "What does mix combine?",
        "Which query types exist?",
    ]

    def one(i: int) -> int:
        return client.post(
            "/query", json={"text": questions[i % 4], "query_type": ("standard", "mix")[i % 2]}
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(one, range(48)))
    assert codes == [200] * 48


def test_serve_command_starts_uvicorn_and_refuses_to_run_without_a_token(tmp_path):
    import subprocess
    import sys
    import time

    from api_server import free_port

    env = {k: v for k, v in os.environ.items() if k != "SMOLRAG_API_TOKEN"}
    refused = subprocess.run(
        [sys.executable, "-m", "smolrag_lab.cli", "serve", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert refused.returncode == 2 and "SMOLRAG_API_TOKEN" in refused.stderr
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smolrag_lab.cli",
            "serve",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
        ],
        env={**env, "SMOLRAG_API_TOKEN": TOKEN},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/stats").status_code == 401
        stats = httpx.get(
            f"http://127.0.0.1:{port}/stats", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert stats.json()["documents"] == 0
    finally:
        server.terminate()
        server.wait(timeout=30)
