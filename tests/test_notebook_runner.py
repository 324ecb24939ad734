"""The notebook runner behind ``make report`` (benchmarks/notebooks.py) finishes a cell that clears
an Output widget and displays a large page in it, where plain nbclient waits out the whole cell
timeout (nbclient issue #312; notebook 3's graph explorer did this and hung ``make report``)."""

from __future__ import annotations

import time

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from benchmarks.notebooks import run_notebook

CELLS = (
    "import ipywidgets as w\nfrom IPython.display import HTML, display\nout = w.Output()\nout",
    "for _ in range(3):\n"
    "    out.clear_output()\n"
    "    with out:\n"
    "        display(HTML('<b>graph</b>' * 200_000))\n"
    "HTML('<i>page-end</i>')",
)


def test_a_cleared_output_widget_does_not_stall_the_run(tmp_path):
    notebook = new_notebook(cells=[new_code_cell(source) for source in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = tmp_path / "widget.ipynb"
    nbformat.write(notebook, path)
    timeout = 60
    started = time.monotonic()
    run_notebook(path, tmp_path / "html", timeout=timeout)
    # a hang guard, not a speed test: the stalled poll lasts the whole cell timeout
    assert time.monotonic() - started < timeout / 2
    html = (tmp_path / "html" / "widget.html").read_text(encoding="utf-8")
    assert "page-end" in html
