"""Where the notebooks find their data: the shared corpora, one data directory per index set-up,
the reports folder, and *quick mode* (a small slice of each corpus, the same code paths) for CI.

Environment: ``SMOLRAG_SHARED`` (default: ``../shared`` beside the checkout), ``SMOLRAG_LAB_DATA``
(default: ``smolrag_data/lab`` in the checkout), ``SMOLRAG_REPORTS`` (default: ``reports``),
``SMOLRAG_LAB_QUICK`` (``1``/``0``; default: on when ``CI=true``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..engine import SmolRag
from ..eval.dataset import Dataset, load_dataset
from ..index_settings import folder_name
from ..settings import Settings

QUICK_DEMO_DOCUMENTS = ("01-project-overview.md", "05-knowledge-graphs.md", "06-query-types.md")
QUICK_CRANFIELD_QUERIES, QUICK_CRANFIELD_DISTRACTORS = 8, 30
_TRUE = {"1", "true", "yes", "on"}


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("SMOLRAG_SHARED") or repo_root().parent / "shared")


def reports_dir(*parts: str) -> Path:
    path = Path(os.environ.get("SMOLRAG_REPORTS") or repo_root() / "reports").joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def quick_mode() -> bool:
    """Small corpora for fast runs: ``SMOLRAG_LAB_QUICK`` when set, else on under ``CI=true``."""
    flag = os.environ.get("SMOLRAG_LAB_QUICK")
    if flag is not None:
        return flag.strip().lower() in _TRUE
    return os.environ.get("CI", "").strip().lower() in _TRUE


def demo_corpus() -> Path:
    return shared_dir() / "corpus" / "smolrag_docs"


def demo_dataset(quick: bool | None = None) -> Dataset:
    """The 100 questions on the demo corpus; in quick mode three documents and their questions."""
    dataset = load_dataset(shared_dir() / "eval" / "smolrag_docs_qa.jsonl", demo_corpus())
    return dataset.restricted_to(list(QUICK_DEMO_DOCUMENTS)) if _quick(quick) else dataset


def cranfield_dataset(quick: bool | None = None) -> Dataset:
    """Cranfield (1,400 abstracts, 225 queries); in quick mode a few queries, their documents and
    distractors.
    """
    folder = shared_dir() / "eval" / "cranfield"
    dataset = load_dataset(folder / "queries.jsonl", folder / "docs")
    return (
        dataset.sample(QUICK_CRANFIELD_QUERIES, QUICK_CRANFIELD_DISTRACTORS)
        if _quick(quick)
        else dataset
    )


def demo_paths(quick: bool | None = None) -> list[Path]:
    """What the notebooks ingest by default: the demo corpus, or its quick slice."""
    return demo_dataset(quick).paths


def lab_settings(quick: bool | None = None, **overrides: Any) -> Settings:
    """Settings with a data directory named after the index set-up (:func:`.folder_name`: the
    recorded ``index`` settings' digest), so trying another chunk size builds a second index beside
    the first; with PostgreSQL, also a workspace of its own. An explicit ``data_dir`` holds one
    set-up: :func:`open_engine` rebuilds it when the settings change.
    """
    settings = Settings.load(**overrides)
    if "data_dir" not in overrides:
        root = Path(os.environ.get("SMOLRAG_LAB_DATA") or repo_root() / "smolrag_data" / "lab")
        name = folder_name(settings) + ("-quick" if _quick(quick) else "")
        settings = settings.replace(data_dir=root / name)
    return settings


def open_engine(
    paths: list[Path] | None = None,
    quick: bool | None = None,
    progress: bool = True,
    **overrides: Any,
) -> SmolRag:
    """An engine on the lab index for these settings, brought up to date with ``paths`` (default:
    the demo corpus), with progress bars (overall, with ETA) while it ingests. Ingestion is
    incremental, so this is cheap once the index exists; an index recorded with other ``index``
    settings is rebuilt under these.
    """
    rag = SmolRag(lab_settings(quick, **overrides), rebuild=True)
    rag.ingest(paths if paths is not None else demo_paths(quick), progress=progress)
    return rag


def _quick(quick: bool | None) -> bool:
    return quick_mode() if quick is None else quick
