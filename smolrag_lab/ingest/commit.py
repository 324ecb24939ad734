"""Writing a prepared document into the index, and taking one out: the only place ingestion writes.

A commit writes the document's records and the graph rows it changes in one transaction (its
excerpt vectors go just before, and are taken back if the transaction fails), so a failing document
leaves nothing half-written. Both return the graph items whose vectors must follow (see
``sync_graph_vectors``), which the caller batches for the whole run.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..index import Index
from ..settings import Settings
from ..text import document_title
from ..tokens import TokenCounter
from .graph_merge import GraphEdit, Touched, merge_extraction, remove_document
from .report import Prepared

_NO_RECORD: dict[str, list] = {"excerpt_ids": [], "entity_keys": [], "relationship_pairs": []}


def commit_document(
    index: Index, settings: Settings, counter: TokenCounter, p: Prepared
) -> Touched:
    """Write ``p`` (replacing the document its source held before); returns the graph items it
    changed.
    """
    old_id = index.sources.get(p.document.source)
    old = index.documents.get(old_id) if old_id else None
    edit = GraphEdit(index.graph)
    changed, removed = _take_out(edit, old_id, old) if old else (Touched(), Touched())
    touched = Touched()
    excerpt_ids = [f"{p.doc_id}:{i:04d}" for i in range(len(p.excerpts))]
    for excerpt_id, extraction in zip(excerpt_ids, p.extractions, strict=False):
        merge_extraction(
            edit,
            p.doc_id,
            excerpt_id,
            extraction,
            settings.description_cap,
            settings.keywords_cap,
            touched,
        )
    try:
        with index.db.transaction():
            index.excerpt_vectors.upsert(
                excerpt_ids, p.vectors, [{"doc_id": p.doc_id} for _ in excerpt_ids]
            )
            _write_records(index, counter, p, excerpt_ids, old, touched)
            index.write_graph(edit.changes())
    except BaseException:  # vectors outside the transaction (files) go with it
        with contextlib.suppress(Exception):  # the commit's own error is the one to report
            index.excerpt_vectors.delete(excerpt_ids)
        raise
    if old:  # after the records switched over: readers never see a document without vectors
        index.excerpt_vectors.delete(sorted(set(old["excerpt_ids"]) - set(excerpt_ids)))
    return _union(touched, changed, removed)


def delete_document(index: Index, doc_id: str, source: str) -> Touched:
    """Take the document out (records, graph contributions, vectors); returns the graph items it
    changed.
    """
    record = index.documents.get(doc_id) or _NO_RECORD
    edit = GraphEdit(index.graph)
    changed, removed = _take_out(edit, doc_id, record)
    with index.db.transaction():
        index.excerpts.delete(record["excerpt_ids"])
        index.extractions.delete(record["excerpt_ids"])
        index.documents.delete([doc_id])
        index.sources.delete([source])
        index.bump_version(documents=[doc_id])
        index.write_graph(edit.changes())
    index.excerpt_vectors.delete(record["excerpt_ids"])  # after: none of a live excerpt
    return _union(changed, removed)


def _take_out(edit: GraphEdit, doc_id: str, record: dict[str, Any]) -> tuple[Touched, Touched]:
    return remove_document(
        edit,
        doc_id,
        record.get("entity_keys", []),
        [tuple(x) for x in record.get("relationship_pairs", [])],
    )


def _union(*parts: Touched) -> Touched:
    out = Touched()
    for part in parts:
        out.entities |= part.entities
        out.relationships |= part.relationships
    return out


def _write_records(
    index: Index,
    counter: TokenCounter,
    p: Prepared,
    excerpt_ids: list[str],
    old: dict | None,
    touched: Touched,
) -> None:
    with index.db.transaction():
        if old:
            index.excerpts.delete(old["excerpt_ids"])
            index.extractions.delete(old["excerpt_ids"])
            index.documents.delete([old["doc_id"]])
        index.extractions.set_many(
            {eid: asdict(x) for eid, x in zip(excerpt_ids, p.extractions, strict=False)}
        )
        index.excerpts.set_many(
            {
                eid: {
                    "doc_id": p.doc_id,
                    "source": p.document.source,
                    "index": i,
                    "text": text,
                    "summary": summary,
                    "tokens": counter.count(text),
                }
                for i, (eid, text, summary) in enumerate(
                    zip(excerpt_ids, p.excerpts, p.summaries, strict=True)
                )
            }
        )
        index.documents.set(
            p.doc_id,
            {
                "doc_id": p.doc_id,
                "source": p.document.source,
                "hash": p.content_hash,
                "title": document_title(p.document.text, Path(p.document.source).name),
                "chars": len(p.document.text),
                "excerpt_ids": excerpt_ids,
                "entity_keys": sorted(touched.entities),
                "relationship_pairs": sorted(touched.relationships),
                "ingested_at": time.time(),
            },
        )
        index.sources.set(p.document.source, p.doc_id)
        index.bump_version(documents=[p.doc_id, *([old["doc_id"]] if old else [])])
