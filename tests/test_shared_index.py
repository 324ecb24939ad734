"""Several processes on one index, as the workbench is used: a reader beside a writer, two writers
(one after the other, and one waiting on the other's lock), two API servers on one data directory,
two writes to one server, a server killed mid-write. Real processes (tests/index_worker.py, the
``serve`` command), on both backends where both apply.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from api_server import free_port, running

from smolrag_lab import Settings, SmolRag
from smolrag_lab.settings import reveal

WORKER = Path(__file__).with_name("index_worker.py")
A_TEXT = (
    "Acme Corp builds the Zephyr Engine in Paris. The Zephyr Engine powers the Shared Hub. "
    "Acme Corp tests the Zephyr Engine every spring."
)
B_TEXT = (
    "Initech builds the Quasar Router in Austin. The Quasar Router connects to the Shared Hub. "
    "Initech ships the Quasar Router to Oslo."
)
QUESTION = "What does the Quasar Router connect to?"


def where(settings: Settings) -> list[str]:
    dsn = reveal(settings.database_url) if settings.database_url else "-"
    return [str(settings.data_dir), dsn, settings.index_workspace]


def worker(settings: Settings, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(WORKER), *where(settings), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_worker(settings: Settings, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *where(settings), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def graph_state(rag: SmolRag) -> dict:
    """Every entity's and relationship's attributes (the per-document contributions included)."""
    graph = rag.graph()
    return {
        "nodes": {k: dict(a) for k, a in graph.nodes(data=True)},
        "edges": {tuple(sorted((u, v))): dict(a) for u, v, a in graph.edges(data=True)},
    }


def reference(tmp_path: Path, texts: dict[str, str]) -> dict:
    """The graph one engine in one process builds from ``texts`` (in order), on the file backend."""
    folder = tmp_path / f"reference-{len(list(tmp_path.glob('reference-*')))}"
    with SmolRag(Settings(data_dir=folder, log_to_file=False)) as rag:
        for source, text in texts.items():
            rag.ingest_text(text, source)
        return graph_state(rag)


def test_a_reader_sees_the_writers_commit_on_its_next_query(backend):
    settings = backend(query_cache=True)
    assert worker(settings, "ingest", "a.md", A_TEXT)["added"] == ["a.md"]
    with SmolRag(settings) as reader:
        before = {mode: reader.retrieve(QUESTION, mode) for mode in ("local_kg", "mix")}
        assert all("quasar router" not in [e["key"] for e in r.entities] for r in before.values())
        assert worker(settings, "ingest", "b.md", B_TEXT)["added"] == ["b.md"]
        after = {mode: reader.retrieve(QUESTION, mode) for mode in ("local_kg", "mix")}
        for mode, result in after.items():
            keys = [e["key"] for e in result.entities]
            assert not result.cached and "quasar router" in keys, mode
            assert [s.excerpt_id for s in result.sources] != [
                s.excerpt_id for s in before[mode].sources
            ]
        # another process asking the same question gets the reader's cached answer: built from the
        # graph that has b.md, never the old one under the new version
        for mode, result in after.items():
            other = worker(settings, "query", mode, QUESTION)
            assert other["cached"] and other["entities"] == [e["key"] for e in result.entities]


@pytest.mark.parametrize("overlap", [False, True], ids=["one-after-the-other", "overlapping"])
def test_two_writer_processes_keep_both_documents(backend, tmp_path, overlap):
    settings = backend()
    if overlap:
        released = tmp_path / "b-tried"
        first = start_worker(settings, "ingest", "a.md", A_TEXT, str(released))
        assert json.loads(first.stdout.readline())["holding"]  # a.md's writer is in its commit
        assert worker(settings, "try-lock", str(released))["free"] is False
        second = start_worker(settings, "ingest", "b.md", B_TEXT)
        outputs = [p.communicate(timeout=600) for p in (first, second)]
        assert [p.returncode for p in (first, second)] == [0, 0], outputs
    else:
        worker(settings, "ingest", "a.md", A_TEXT)
        worker(settings, "ingest", "b.md", B_TEXT)
    with SmolRag(settings) as rag:
        assert graph_state(rag) == reference(tmp_path, {"a.md": A_TEXT, "b.md": B_TEXT})
        assert rag.check().ok and rag.stats()["documents"] == 2
    assert worker(settings, "delete", "a.md")["deleted"]
    with SmolRag(settings) as rag:
        assert graph_state(rag) == reference(tmp_path, {"b.md": B_TEXT})
        assert rag.check().ok


def serve(data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "SMOLRAG_WRITE_LOCK_TIMEOUT_S": "300", "SMOLRAG_LOG_TO_FILE": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "smolrag_lab.cli", "serve", "--data-dir", str(data_dir)]
        + ["--port", str(port), "--no-auth"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {process.stderr.read()[-2000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def test_two_api_servers_on_one_data_dir_keep_both_documents(tmp_path):
    data_dir = tmp_path / "data"
    (one, url_one), (two, url_two) = serve(data_dir), serve(data_dir)
    try:
        post = {"timeout": 300}
        a = httpx.post(f"{url_one}/documents", json={"source": "a.md", "text": A_TEXT}, **post)
        b = httpx.post(f"{url_two}/documents", json={"source": "b.md", "text": B_TEXT}, **post)
        assert a.status_code == b.status_code == 200, (a.text, b.text)
        found = httpx.post(
            f"{url_one}/retrieve", json={"text": QUESTION, "query_type": "local_kg"}, **post
        )
        assert found.status_code == 200 and any(
            s["document"] == "b.md" for s in found.json()["sources"]
        ), found.text
        with SmolRag(Settings(data_dir=data_dir, log_to_file=False)) as rag:
            assert graph_state(rag) == reference(tmp_path, {"a.md": A_TEXT, "b.md": B_TEXT})
        assert httpx.delete(f"{url_two}/documents/a.md", **post).status_code == 204
        with SmolRag(Settings(data_dir=data_dir, log_to_file=False)) as rag:
            assert graph_state(rag) == reference(tmp_path, {"b.md": B_TEXT}) and rag.check().ok
    finally:
        stop(one)
        stop(two)


def test_a_second_concurrent_write_to_one_server_gets_409(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data", api_auth=False, log_to_file=False, write_lock_timeout_s=0.0
    )
    with SmolRag(settings) as rag:
        in_commit, release = threading.Event(), threading.Event()
        original = rag.ingestor._commit

        async def slow_commit(prepared):
            in_commit.set()
            await asyncio_sleep_until(release)
            await original(prepared)

        rag.ingestor._commit = slow_commit
        from smolrag_lab.api import create_app

        with running(settings, app=create_app(settings, engine=rag)) as url:
            replies = {}
            first = threading.Thread(
                target=lambda: replies.setdefault(
                    "a", httpx.post(f"{url}/documents", json={"source": "a.md", "text": A_TEXT})
                )
            )
            first.start()
            assert in_commit.wait(120)
            second = httpx.post(f"{url}/documents", json={"source": "b.md", "text": B_TEXT})
            release.set()
            first.join(120)
            assert second.status_code == 409 and replies["a"].status_code == 200
            assert rag.index.sources.keys() == ["a.md"] and not rag.index.meta.get("writing")
            assert "quasar router" not in rag.graph()


async def asyncio_sleep_until(event: threading.Event) -> None:
    import asyncio

    while not event.is_set():
        await asyncio.sleep(0.02)


def test_a_server_killed_mid_write_leaves_a_marker_and_the_next_open_repairs(tmp_path):
    data_dir = tmp_path / "data"
    long_text = "\n\n".join(
        f"Team{i} builds the Module{i} in City{i % 7}. Module{i} depends on Module{i + 1}."
        for i in range(400)
    )
    process, url = serve(data_dir)
    try:
        threading.Thread(
            target=lambda: httpx.post(
                f"{url}/documents", json={"source": "long.md", "text": long_text}, timeout=600
            ),
            daemon=True,
        ).start()
        deadline = time.monotonic() + 300
        with SmolRag(Settings(data_dir=data_dir, log_to_file=False), recover=False) as peek:
            while not peek.index.meta.get("writing") and time.monotonic() < deadline:
                time.sleep(0.01)
            assert peek.index.meta.get("writing"), "the write never started"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        stop(process)
    with SmolRag(Settings(data_dir=data_dir, log_to_file=False), recover=False) as found:
        assert found.index.meta.get("writing")  # the marker outlived the writer
    with SmolRag(Settings(data_dir=data_dir, log_to_file=False)) as reopened:
        assert not reopened.index.meta.get("writing") and reopened.check().ok
