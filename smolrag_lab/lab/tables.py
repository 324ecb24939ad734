"""What is in an index, as pandas tables: documents, excerpts, entities, relationships, ingestion stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..engine import SmolRag
from ..ingest.graph_merge import entity_view, relationship_view
from ..ingest.pipeline import IngestReport
from ..settings import Settings


def documents_table(rag: SmolRag) -> pd.DataFrame:
    rows = [
        {
            "document": Path(d["source"]).name,
            "title": d.get("title", ""),
            "characters": d.get("chars", 0),
            "excerpts": len(d.get("excerpt_ids", [])),
            "entities": len(d.get("entity_keys", [])),
            "relationships": len(d.get("relationship_pairs", [])),
            "doc_id": doc_id,
        }
        for doc_id, d in rag.index.documents.items()
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "document",
            "title",
            "characters",
            "excerpts",
            "entities",
            "relationships",
            "doc_id",
        ],
    ).sort_values("document", ignore_index=True)


def excerpts_table(rag: SmolRag) -> pd.DataFrame:
    rows = [
        {
            "excerpt_id": key,
            "document": Path(e["source"]).name,
            "index": e.get("index", 0),
            "tokens": e.get("tokens", rag.tokens.count(e["text"])),
            "text": e["text"],
            "summary": e["summary"],
        }
        for key, e in rag.index.excerpts.items()
    ]
    frame = pd.DataFrame(
        rows, columns=["excerpt_id", "document", "index", "tokens", "text", "summary"]
    )
    return frame.sort_values(["document", "index"], ignore_index=True)


def entities_table(rag: SmolRag, limit: int | None = None) -> pd.DataFrame:
    """Entities by degree (most connected first)."""
    graph, cap = rag.index.graph.graph, rag.settings.description_cap
    rows = []
    for key in graph.nodes:
        view = entity_view(graph, key, cap)
        rows.append(
            {
                "entity": view["name"],
                "type": view["type"],
                "degree": view["degree"],
                "excerpts": len(view["excerpt_ids"]),
                "documents": len(graph.nodes[key].get("descriptions", {})),
                "description": view["description"],
            }
        )
    frame = pd.DataFrame(
        rows, columns=["entity", "type", "degree", "excerpts", "documents", "description"]
    )
    frame = frame.sort_values(["degree", "entity"], ascending=[False, True], ignore_index=True)
    return frame.head(limit) if limit else frame


def relationships_table(rag: SmolRag, limit: int | None = None) -> pd.DataFrame:
    """Relationships by weight (strongest first)."""
    graph, s = rag.index.graph.graph, rag.settings
    rows = []
    for pair in graph.edges:
        view = relationship_view(graph, pair, s.description_cap, s.keywords_cap)
        rows.append(
            {
                "source": view["source"],
                "target": view["target"],
                "weight": view["weight"],
                "keywords": ", ".join(view["keywords"][:5]),
                "excerpts": len(view["excerpt_ids"]),
                "description": view["description"],
            }
        )
    frame = pd.DataFrame(
        rows, columns=["source", "target", "weight", "keywords", "excerpts", "description"]
    )
    frame = frame.sort_values(["weight", "source"], ascending=[False, True], ignore_index=True)
    return frame.head(limit) if limit else frame


def stages_table(report: IngestReport | dict[str, Any]) -> pd.DataFrame:
    """Seconds per ingestion stage and their share of the summed stage time (stages overlap in time
    because documents are processed concurrently, so the sum can exceed the wall time).
    """
    counts = report.counts() if isinstance(report, IngestReport) else report
    seconds = counts.get("stage_seconds", {})
    frame = pd.DataFrame({"stage": list(seconds), "seconds": list(seconds.values())})
    total = frame["seconds"].sum()
    frame["share"] = (frame["seconds"] / total).round(3) if total else 0.0
    return frame


def provider_calls_table(stats: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per provider task (embeddings, summary, extraction, keywords, answer)."""
    columns = [
        "calls",
        "requests",
        "items",
        "prompt_tokens",
        "completion_tokens",
        "cache_hits",
        "errors",
        "retries",
    ]
    rows = [
        {"task": task, **{c: values.get(c, 0) for c in columns}} for task, values in stats.items()
    ]
    return pd.DataFrame(rows, columns=["task", *columns])


def settings_table(settings: Settings) -> pd.DataFrame:
    """Every setting with its concern and value (secrets masked), one row each: what notebook 00
    shows, safe to keep in a saved report.
    """
    described = settings.describe()
    rows = {
        name: {"concern": info["concern"], "value": str(info["value"])}
        for name, info in described.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")
