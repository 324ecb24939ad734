"""Rebuild: every recorded document re-processed under the engine's current ``index`` settings.

The documents are taken from their source files, in the order they were committed (so the graph
merges in the same order as the ingestion that built it), after every recorded document has been
removed; the result is the index a fresh ingestion of those files gives. Provider caches are kept,
so what the new settings did not change (the same excerpts, the same groups) costs no model call.
A marker holds the source list until the rebuild finishes: an interrupted rebuild is resumed by the
next one, never mistaken for a finished index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..index_settings import REBUILD_KEY, RECORD_KEY
from .pipeline import Ingestor
from .report import IngestReport


class RebuildError(RuntimeError):
    """A rebuild cannot start (nothing was changed)."""


def sources_in_commit_order(index: Any) -> list[str]:
    """Every recorded document's source, oldest commit first."""
    current = {doc_id for _, doc_id in index.sources.items()}
    by_time = sorted(
        (d.get("ingested_at", 0.0), d["source"])
        for doc_id, d in index.documents.items()
        if doc_id in current and d.get("source")
    )
    return [source for _, source in by_time]


async def rebuild(index: Any, ingestor: Ingestor, record: dict[str, Any]) -> IngestReport:
    """Re-process every recorded document under ``ingestor``'s settings (under the writer lock)."""
    marker = index.meta.get(REBUILD_KEY)
    sources = list(marker["sources"]) if marker else sources_in_commit_order(index)
    if marker is None:
        missing = [s for s in sources if not Path(s).is_file()]
        if missing:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            raise RebuildError(
                f"cannot rebuild: {len(missing)} recorded document(s) have no source file to read "
                f"again ({shown}); ingest them into another data directory instead"
            )
        index.meta.set(REBUILD_KEY, {"sources": sources})
    await ingestor.delete_many(list(index.sources.keys()))
    index.meta.set(RECORD_KEY, record)
    report = await ingestor.ingest_paths(sources, progress=False)
    index.meta.delete([REBUILD_KEY])
    return report
