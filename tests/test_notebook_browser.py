"""The notebooks as a user meets them: a real JupyterLab (started here on 127.0.0.1, with a token,
on a temporary copy of the notebooks, quick mode unless SMOLRAG_LAB_QUICK=0) driven by headless
Chromium through Playwright (Debian's chromium; Playwright never downloads a browser). Notebooks 2
and 3 run from the Run menu; the test clicks Ask and a citation (its own answer's source is
highlighted and unfolded), types a node search in the graph page, and checks that the ingestion
notebook 2 runs on a fresh index shows an overall bar.

With ``SMOLRAG_SCREENSHOTS=<folder>`` (``make report``) it writes a screenshot of each notebook
there; ``SMOLRAG_BROWSER_NOTEBOOKS=all`` runs all six notebooks instead of 2 and 3.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from smolrag_lab.lab import workspace

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
)
IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
RUN_TIMEOUT_S = 1800
# Read at import: the suite's autouse fixture clears SMOLRAG_* variables before each test.
SCREENSHOTS = os.environ.get("SMOLRAG_SCREENSHOTS")
ALL_NOTEBOOKS = os.environ.get("SMOLRAG_BROWSER_NOTEBOOKS") == "all"
QUICK = os.environ.get("SMOLRAG_LAB_QUICK", "1")
SHARED = str(workspace.shared_dir())

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
except ImportError:  # the test extra installs it; CI fails below instead of skipping
    sync_playwright = None

pytestmark = pytest.mark.skipif(
    (CHROMIUM is None or sync_playwright is None) and not IN_CI,
    reason="needs Debian's chromium (make install-browser) and playwright (the test extra)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a copy of the notebooks, quick mode, a fresh lab index; yields (url, token)."""
    assert CHROMIUM and sync_playwright, "CI must have chromium and playwright"
    home = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", home / "notebooks")
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "SMOLRAG_LAB_QUICK": QUICK,  # make report: full
        "SMOLRAG_LAB_DATA": str(home / "lab-data"),
        "SMOLRAG_REPORTS": str(home / "reports"),
        "SMOLRAG_SHARED": SHARED,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={home / 'notebooks'}",
        f"--LabApp.user_settings_dir={home / 'lab-settings'}",
        f"--LabApp.workspaces_dir={home / 'lab-workspaces'}",
        "--LabApp.news_url=",
        "--allow-root",
    ]
    log = open(home / "jupyter.log", "w")  # noqa: SIM115 (closed after the server stops)
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert server.poll() is None, (home / "jupyter.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _screenshots() -> Path | None:
    if not SCREENSHOTS:
        return None
    path = Path(SCREENSHOTS)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _open_and_run(browser, lab, name: str):
    """Open ``name`` in JupyterLab, Run > Run All Cells, wait until every code cell has run."""
    url, token = lab
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    # a workspace of its own, reset: only this notebook is open, whatever ran before
    page.goto(f"{url}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.add_style_tag(content=".Toastify { display: none !important; }")  # the news prompt
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return s && s.getAttribute('data-status') === 'idle'; }",
        timeout=180_000,
    )
    started = (
        "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
        ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"
    )
    for attempt in range(3):  # a click while the kernel is still connecting can be lost: try again
        page.wait_for_timeout(3000)
        page.locator(
            ".jp-NotebookPanel:visible .jp-Notebook"
        ).first.click()  # the notebook has focus, so its commands apply
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function(started, timeout=60_000)
            break
        except PlaywrightTimeout:
            assert attempt < 2, "Run All Cells never started"
    page.wait_for_function(
        """() => {
          const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
          return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=RUN_TIMEOUT_S * 1000,
    )
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    tracebacks = [t for t in errors.all_inner_texts() if "Traceback" in t or "Error" in t[:200]]
    assert not tracebacks, tracebacks[0][-2000:]
    return page


def _shoot(page, name: str) -> None:
    folder = _screenshots()
    if folder is not None:
        page.screenshot(path=str(folder / name), full_page=False)


def _shoot_cells(page, stem: str) -> None:
    """One screenshot per code cell with output, scrolled into view: ``<stem>-cell<N>.png``."""
    if _screenshots() is None:
        return
    cells = page.locator(".jp-NotebookPanel:visible .jp-CodeCell")
    for i in range(cells.count()):
        cell = cells.nth(i)
        if cell.locator(".jp-OutputArea-output").count():
            cell.scroll_into_view_if_needed()
            cell.evaluate("c => c.scrollIntoView({block: 'start'})")
            _wait_for_graphs(cell)
            page.wait_for_timeout(1500)  # widgets render
            _shoot(page, f"{stem}-cell{i + 1:02d}.png")


def _wait_for_graphs(cell) -> None:
    """A graph page in the cell has fitted its drawing and sized its labels (graph_page.js)."""
    for i in range(cell.locator(".smolrag-graph iframe").count()):
        frame = cell.locator(".smolrag-graph iframe").nth(i).content_frame
        frame.locator("#smolrag-graph-status[data-labels-sized='1']").wait_for(
            state="attached", timeout=60_000
        )


def test_query_notebook_ingests_with_an_overall_bar_and_citations_highlight(browser, lab):
    page = _open_and_run(browser, lab, "02-query.ipynb")
    first_output = page.locator(".jp-CodeCell").first.locator(".jp-OutputArea").first
    first_output.locator(".widget-label, .widget-html-content", has_text="overall").first.wait_for()
    assert first_output.locator(".widget-progress, progress, .progress").count() >= 1
    first_output.scroll_into_view_if_needed()
    _shoot(page, "02-query-ingest-progress.png")

    explorer = page.locator(".widget-vbox:has(button:has-text('Ask'))").first
    # The notebook's own cells already showed an answer: wait for the one this click renders
    # (a new anchor), or a slow kernel replaces the page under the clicks below.
    shown = explorer.locator(".srl-result")
    before = shown.first.get_attribute("id") if shown.count() else ""
    explorer.locator("button:has-text('Ask')").click()
    result = explorer.locator(f".srl-result:not([id='{before}'])").first
    result.wait_for(timeout=120_000)
    citation = result.locator("a.srl-cite").first
    citation.wait_for(timeout=30_000)
    target = citation.get_attribute("data-target")
    citation.click()
    row = page.locator(f"tr#{target}")
    assert row.count() == 1, "the citation's anchor must be unique on the page"
    assert "srl-cited" in (row.get_attribute("class") or ""), "the cited source is highlighted"
    assert row.locator("details").evaluate("d => d.open"), "the cited source is unfolded"
    assert result.locator(f"tr#{target}").count() == 1, "it is this answer's own source"
    ids = page.eval_on_selector_all(".srl-src tr[id]", "rows => rows.map(r => r.id)")
    assert len(ids) == len(set(ids)), "source anchors repeat across answers"
    row.scroll_into_view_if_needed()
    _shoot(page, "02-query-citation.png")
    _shoot_cells(page, "02-query")
    page.close()


def test_graph_notebook_node_search(browser, lab):
    page = _open_and_run(browser, lab, "03-knowledge-graph.ipynb")
    frame_element = page.locator(".smolrag-graph iframe").first
    frame_element.scroll_into_view_if_needed()
    frame = frame_element.content_frame
    frame.locator("#smolrag-graph-status:not([data-drawn-nodes='-1'])").wait_for(timeout=120_000)
    frame.locator("#smolrag-graph-status[data-labels-sized='1']").wait_for(
        state="attached", timeout=60_000
    )  # the labels were sized after the fit
    first_label = frame.locator("body").evaluate(
        "() => nodes.get().sort((a, b) => b.size - a.size)[0].label"
    )
    frame.locator("#smolrag-node-search").fill(first_label[:6])
    matches = frame.locator("#smolrag-search-status")
    matches.wait_for()
    assert int(matches.get_attribute("data-matches")) >= 1
    _shoot(page, "03-knowledge-graph-search.png")
    _shoot_cells(page, "03-knowledge-graph")
    page.close()


@pytest.mark.skipif(not ALL_NOTEBOOKS, reason="make report runs every notebook")
@pytest.mark.parametrize(
    "name", ["00-check-setup.ipynb", "01-ingest.ipynb", "04-benchmarks.ipynb", "05-tune.ipynb"]
)
def test_other_notebooks_run_in_the_browser(browser, lab, name):
    page = _open_and_run(browser, lab, name)
    _shoot_cells(page, name.removesuffix(".ipynb"))
    page.close()
