"""The settings an index was built with, recorded in the index itself.

Excerpts, summaries, extractions, the graph and the vectors are all shaped by the ``index`` settings
(chunking, call unit and grouping, entity types, the embedder and the extraction model). An index
therefore records them on its first write, and opening it with different ones is an
:class:`IndexSettingsMismatch` naming each difference, instead of mixing excerpts of two chunkings
in one index. The way forward is a rebuild (every recorded document re-processed under the new
settings, the provider caches reused) or another data directory; :func:`folder_name` is the one
rule that names a data directory per set-up (the lab and the sweeps use it).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from .settings import INDEX_SETTINGS, Settings, SettingsError

log = logging.getLogger(__name__)

RECORD_KEY = "index_settings"  # meta key of the recorded settings
REBUILD_KEY = "rebuilding"  # meta key present while a rebuild is under way (its source list)
# Settings that only the OpenAI completion tasks read: with the local tasks they shape nothing.
OPENAI_TASK_SETTINGS = ("completion_model", "entity_types")
NOT_USED = "(not used by the local tasks)"
# Settings added after indexes began recording theirs, with the value older indexes were built with:
# recorded only when set otherwise. An older index matches while the setting keeps that value; a
# default that moves away from it (relationship_embed_words) asks such an index for a rebuild.
ADDED_LATER: dict[str, Any] = {
    "embed_summary": True,
    "entity_embed_words": 32,
    "relationship_embed_words": 32,
}


class IndexSettingsMismatch(SettingsError):
    """The index was built with other ``index`` settings than the ones it is opened with."""

    def __init__(
        self, where: str, differences: dict[str, tuple[Any, Any]], interrupted: bool
    ) -> None:
        self.where, self.differences = where, differences
        lines = [
            f"{name}: index has {old!r}, settings say {new!r}"
            for name, (old, new) in differences.items()
        ]
        if interrupted:
            head = f"a rebuild of the index in {where} was interrupted"
        else:
            head = f"the index in {where} was built with other settings:\n  " + "\n  ".join(lines)
        super().__init__(
            f"{head}\nEither rebuild it under these settings (SmolRag(..., rebuild=True), "
            "rag.rebuild(), `smolrag-lab ingest --rebuild` or `smolrag-lab rebuild`: every "
            "recorded document is re-processed, the provider caches reused), or use another data "
            "directory (or workspace) for these settings."
        )


def index_shape(settings: Settings) -> dict[str, Any]:
    """The ``index`` settings as JSON values, with those the local tasks ignore marked unused."""
    local = settings.resolved_completion_backend == "local"
    shape = {}
    for name in INDEX_SETTINGS:
        value = getattr(settings, name)
        if local and name in OPENAI_TASK_SETTINGS:
            value = NOT_USED
        if name in ADDED_LATER and value == ADDED_LATER[name]:
            continue
        shape[name] = list(value) if isinstance(value, tuple) else value
    return shape


def record_of(settings: Settings, embedding_dim: int) -> dict[str, Any]:
    """What an index built under ``settings`` records: its shape and the embedding dimension."""
    return {**index_shape(settings), "embedding_dim": int(embedding_dim)}


def shape_digest(settings: Settings) -> str:
    text = json.dumps(index_shape(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def folder_name(settings: Settings, prefix: str = "") -> str:
    """A data-directory name for one set-up: readable chunking plus a digest of every ``index``
    setting, so two set-ups never share an index and the same set-up always finds its own.
    """
    s = settings
    name = f"{s.chunk_strategy}-{s.chunk_size}-{s.chunk_overlap}-{shape_digest(s)[:10]}"
    return f"{prefix}-{name}" if prefix else name


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Each recorded setting whose value differs now, as (recorded, current); a setting recorded by
    one side only counts as a difference too, except one of :data:`ADDED_LATER`, which either side
    leaves out when it has the value older indexes were built with.
    """
    recorded, current = {**ADDED_LATER, **recorded}, {**ADDED_LATER, **current}
    names = [*current, *(n for n in recorded if n not in current)]
    return {
        n: (recorded.get(n), current.get(n)) for n in names if recorded.get(n) != current.get(n)
    }


def reconcile(index: Any, current: dict[str, Any], where: str, rebuild: bool) -> str:
    """On open: ``"match"``, ``"empty"`` (recorded on the first write), ``"adopted"`` (an index of
    the old layout takes the current settings, once) or ``"rebuild"`` (only with ``rebuild``); a
    mismatch without ``rebuild`` raises :class:`IndexSettingsMismatch`.
    """
    if index.meta.get(REBUILD_KEY) is not None:
        if rebuild:
            return "rebuild"
        raise IndexSettingsMismatch(where, {}, interrupted=True)
    recorded = index.meta.get(RECORD_KEY)
    if recorded is None:
        if not len(index.documents):
            return "empty"
        index.meta.set(RECORD_KEY, current)
        log.warning(
            "the index in %s recorded no settings (an older layout): it now records the current "
            "ones; open it with rebuild=True if it was built with others",
            where,
        )
        return "adopted"
    found = differences(recorded, current)
    if not found:
        return "match"
    if rebuild:
        return "rebuild"
    raise IndexSettingsMismatch(where, found, interrupted=False)


def record_on_write(index: Any, current: dict[str, Any], where: str) -> None:
    """Before a write, under the writer lock: record the settings into a fresh index, or refuse when
    another process recorded different ones since this one opened.
    """
    recorded = index.meta.get(RECORD_KEY)
    if recorded is None:
        index.meta.set(RECORD_KEY, current)
    elif found := differences(recorded, current):
        raise IndexSettingsMismatch(where, found, interrupted=False)
