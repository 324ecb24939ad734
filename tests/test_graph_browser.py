"""The exported knowledge-graph page drawn by a real browser (headless Chromium) with no network."""

import os
import re
import shutil
import subprocess

import pytest
from test_engine import write_corpus

from smolrag_lab import Settings, SmolRag
from smolrag_lab.lab import graph_view

CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _dump_dom(page_path, profile_dir) -> str:
    """Load the page with every host unresolvable and a dead proxy, let it run, print the final
    DOM."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        f"--user-data-dir={profile_dir}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=http://127.0.0.1:9",
        "--virtual-time-budget=15000",
        "--dump-dom",
        page_path.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(
    CHROMIUM is None and not IN_CI, reason="chromium is not installed (.ci/run installs it)"
)
def test_exported_graph_draws_every_node_offline(tmp_path):
    assert CHROMIUM, "CI must have chromium: .ci/run installs Debian's chromium package"
    with SmolRag(Settings(data_dir=tmp_path / "data", chunk_size=40, chunk_overlap=0)) as rag:
        rag.ingest(write_corpus(tmp_path / "corpus"), progress=False)
        subgraph = graph_view.filter_graph(rag, max_nodes=25)
        page = graph_view.save_graph_html(
            graph_view.graph_html(rag, subgraph), tmp_path / "graph.html"
        )
    expected = subgraph.number_of_nodes()
    assert expected > 5
    for attempt in range(3):  # headless Chromium under load sometimes dumps before the first frame
        dom = _dump_dom(page, tmp_path / f"chromium-profile-{attempt}")
        drawn = re.search(r'id="smolrag-graph-status" data-drawn-nodes="(-?\d+)"', dom)
        if not drawn or drawn.group(1) != "-1":
            break
    assert drawn, dom[-2000:]
    assert int(drawn.group(1)) == expected
    assert re.search(r"<canvas", dom), "vis-network created no canvas"
