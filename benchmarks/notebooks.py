"""Run the notebooks headless as a new user's first session would, and time each: ``make report``
runs this, then the browser test for the screenshots.

Every notebook is executed in order, in one fresh lab data directory (so notebook 1 builds the
index from nothing and the figures are first-run times), with the widget state stored, and written
as HTML to ``--out-dir``. The wall time of each notebook is published to
``benchmarks/results/notebooks_<quick|full>.json``, which the README's notebook table is generated
from. ``SMOLRAG_LAB_QUICK`` chooses the mode, as in the notebooks themselves.

Why not ``jupyter nbconvert --execute``: nbclient waits for each cell's reply with one poll of the
shell socket lasting the whole cell timeout, and its stand-in for the Output widget sends on that
same socket meanwhile; the wake-up is then lost and the run stalls until the timeout (an hour)
after a cell that clears an Output widget (notebook 3's graph explorer; nbclient issue #312).
Here the poll is cut into one-second slices, each of which sees a reply that has already arrived.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from benchmarks._results import default_out, publish
from smolrag_lab.lab import workspace

NOTEBOOKS = workspace.repo_root() / "notebooks"
CELL_TIMEOUT_S = 3600
POLL_SLICE_S = 1.0


def _poll_in_slices(channel: Any) -> None:
    """Make ``channel.get_msg(timeout)`` poll in :data:`POLL_SLICE_S` slices up to ``timeout``."""
    whole = channel.get_msg

    async def get_msg(timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE_S if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await whole(timeout=min(POLL_SLICE_S, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = get_msg


class _Client(NotebookClient):
    """nbclient with the shell channel polled in slices (see the module docstring)."""

    async def async_start_new_kernel_client(self) -> Any:
        client = await super().async_start_new_kernel_client()
        _poll_in_slices(client.shell_channel)
        return client


def run_notebook(path: Path, out_dir: Path, timeout: int = CELL_TIMEOUT_S) -> float:
    """Execute ``path`` (widget state kept; ``timeout`` seconds per cell), write ``<stem>.html`` to
    ``out_dir``; wall seconds.
    """
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    _Client(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    seconds = time.perf_counter() - started
    html, _ = HTMLExporter().from_notebook_node(notebook)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{path.stem}.html").write_text(html, encoding="utf-8")
    return seconds


def run_all(
    names: list[str], out_dir: Path, data_dir: Path, mode: str, out: str
) -> dict[str, float]:
    """Each notebook in order on one lab data directory; seconds per notebook, published after
    each one (a long full-mode run that is stopped keeps what it measured).
    """
    os.environ["SMOLRAG_LAB_DATA"] = str(data_dir)
    seconds = _published(out)  # a run of some notebooks keeps the others' figures
    for name in names:
        seconds[name] = round(run_notebook(NOTEBOOKS / name, out_dir), 1)
        print(f"{name}: {seconds[name]:.0f} s", flush=True)
        publish({"mode": mode, "fresh_lab_data": True, "seconds": seconds}, out)
    return seconds


def _published(out: str) -> dict[str, float]:
    path = Path(out)
    return dict(json.loads(path.read_text())["seconds"]) if path.exists() else {}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook file names (default: all, in order)")
    parser.add_argument("--out-dir", type=Path, help="HTML pages (default: the reports folder's)")
    parser.add_argument("--out", help="results JSON (default: results/notebooks_<mode>.json)")
    args = parser.parse_args(argv)
    names = args.names or sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    mode = "quick" if workspace.quick_mode() else "full"
    with tempfile.TemporaryDirectory(prefix="smolrag-lab-data-") as data_dir:
        run_all(
            names,
            args.out_dir or workspace.reports_dir("notebooks"),
            Path(data_dir),
            mode,
            args.out or default_out(f"notebooks_{mode}"),
        )


if __name__ == "__main__":
    main()
