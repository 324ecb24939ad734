"""Retrieval on every labelled set (demo, Cranfield, the Debian FAQ set): every mode and both
baselines with 95% intervals, the candidate settings (fusion, the text BM25 and the embedder see,
graph re-ranking for ``mix``), defaults chosen by leave-one-dataset-out, and the goals of issue 21
checked before (the previous defaults) and after (the kept ones).

usage: python -m benchmarks.retrieval_sets [--data-root DIR] [--sets demo cranfield faq]
       [--faq-dir smolrag_data/faq] [--excerpt-only demo faq cranfield]
       [--out benchmarks/results/retrieval.json]

Each corpus is ingested once per index-shaping setting (``embed_summary``) into DATA-ROOT and
reused on a re-run; every query-side candidate runs against that index. The FAQ set is built first
when missing (``python -m benchmarks.build_faq_set``; needs ``apt-get install -y perl-doc git-doc
sqlite3-doc``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import build_faq_set
from benchmarks._results import default_out, publish
from benchmarks.retrieval_report import report
from smolrag_lab import Settings, SmolRag
from smolrag_lab.eval import load_dataset
from smolrag_lab.eval.baselines import Baselines
from smolrag_lab.eval.lodo import leave_one_out
from smolrag_lab.eval.metrics import score_ranking

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
METRICS = ("ndcg@10", "recall@10", "mrr")
DEPTH = 20  # excerpts retrieved per question, as the harness does (2 x the largest cut-off)
GRAPH_MODES = ("local_kg", "global_kg", "hybrid_kg")
PREVIOUS = {"fusion": "rrf", "lexical_summary": True, "embed_summary": True, "mix_graph": "append"}
FUSIONS: dict[str, dict[str, Any]] = {
    "rrf": {"fusion": "rrf"},
    "none": {"fusion": "none"},
    "convex minmax": {"fusion": "convex", "fusion_norm": "minmax"},
    "convex minmax adaptive": {
        "fusion": "convex",
        "fusion_norm": "minmax",
        "fusion_adaptive": True,
    },
    "convex zscore adaptive": {
        "fusion": "convex",
        "fusion_norm": "zscore",
        "fusion_adaptive": True,
    },
}
MIX_GRAPH: dict[str, dict[str, Any]] = {
    "append": {"mix_graph": "append"},
    "rerank 0.1": {"mix_graph": "rerank", "graph_rerank_weight": 0.1},
    "rerank 0.3": {"mix_graph": "rerank", "graph_rerank_weight": 0.3},
}


LEXICAL_TEXTS = [True]  # BM25 over excerpt + summary; --bm25-text-only adds the excerpt alone


def standard_candidates(index_configs: list[bool]) -> dict[str, dict[str, Any]]:
    """Every query-time fusion with BM25 over excerpt + summary or the excerpt alone, on each index
    (``embed_summary``); names like ``rrf | bm25 text+summary | embed text+summary``.
    """
    out = {}
    for embed in index_configs:
        for fusion, overrides in FUSIONS.items():
            for lexical in LEXICAL_TEXTS:
                if fusion == "none" and not lexical:
                    continue  # no BM25 in it
                name = f"{fusion} | bm25 {_text(lexical)} | embed {_text(embed)}"
                out[name] = {**overrides, "lexical_summary": lexical, "embed_summary": embed}
    return out


def _text(with_summary: bool) -> str:
    return "text+summary" if with_summary else "text"


def previous_name() -> str:
    return f"rrf | bm25 {_text(True)} | embed {_text(True)}"


def _sets(args: argparse.Namespace) -> dict[str, tuple[Path, Path]]:
    faq = Path(args.faq_dir)
    if "faq" in args.sets and not (faq / "queries.jsonl").exists():
        build_faq_set.build(faq, list(build_faq_set.SOURCES))
    known = {
        "demo": (SHARED / "corpus" / "smolrag_docs", SHARED / "eval" / "smolrag_docs_qa.jsonl"),
        "cranfield": (SHARED / "eval/cranfield/docs", SHARED / "eval/cranfield/queries.jsonl"),
        "faq": (faq / "docs", faq / "queries.jsonl"),
    }
    return {name: known[name] for name in args.sets}


def _rows(rag: SmolRag, items: list, mode: str, overrides: dict[str, Any]) -> dict[str, list]:
    """Per-question metric values of one mode and setting, in the dataset's order."""
    values: dict[str, list[float]] = {m: [] for m in METRICS}
    for item in items:
        result = rag.retrieve(item.query, mode, excerpt_top_k=DEPTH, **overrides)
        documents = [Path(s.source).name for s in result.sources]
        scores = score_ranking(documents, [], item.relevant, (10,))
        for metric in METRICS:
            values[metric].append(scores[metric])
    return values


def _baseline_rows(rag: SmolRag, items: list) -> dict[str, dict[str, list]]:
    base = Baselines(rag)
    out = {}
    for system in ("bm25", "dense"):
        values: dict[str, list[float]] = {m: [] for m in METRICS}
        for item in items:
            documents = [
                Path(base.documents[i]).name for i in base.search(system, item.query, DEPTH)
            ]
            scores = score_ranking(documents, [], item.relevant, (10,))
            for metric in METRICS:
                values[metric].append(scores[metric])
        out[f"baseline: {system}"] = values
    return out


def _query_settings(overrides: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in overrides.items() if k != "embed_summary"}


def measure(
    dataset: Any,
    name: str,
    root: Path,
    embed: bool,
    jobs: dict[str, tuple[str, dict]],
    as_found: bool = False,
) -> tuple[dict[str, dict[str, list]], dict[str, Any]]:
    """Per-question values of each job (system name: mode and query settings) on the set's index
    for ``embed_summary=embed`` (ingested on first use, reused after; ``as_found``: opened without
    recovery or ingestion); ``baselines`` as a job name adds the BM25 and dense baselines.
    """
    data_dir = root / f"{name}-{'full' if embed else 'excerpt'}"
    settings = Settings.load(data_dir=data_dir, query_cache=False, embed_summary=embed)
    systems: dict[str, dict[str, list]] = {}
    with SmolRag(settings, recover=not as_found) as rag:
        started = time.perf_counter()
        if not as_found:
            rag.ingest(dataset.paths, progress=False)
        info = {
            f"ingest_s_embed_{_text(embed)}": round(time.perf_counter() - started, 1),
            "documents": len(rag.index.documents),
            "excerpts": len(rag.index.excerpts),
            "entities": rag.index.graph.number_of_nodes(),
            "relationships": rag.index.graph.number_of_edges(),
        }
        for system, (mode, overrides) in jobs.items():
            if system == "baselines":
                systems.update(_baseline_rows(rag, dataset.items))
            else:
                systems[system] = _rows(rag, dataset.items, mode, overrides)
        print(f"{name}, embed {_text(embed)}: {len(jobs)} jobs done", flush=True)
    return systems, info


def _ingested_only(dataset: Any, data_dir: Path) -> Any:
    """The sub-collection already in ``data_dir`` (an ingestion stopped part-way): its documents,
    the questions with a relevant document among them, and those relevant documents only.
    """
    settings = Settings.load(data_dir=data_dir, query_cache=False)
    with SmolRag(settings, log_to_file=False, recover=False) as rag:
        names = {Path(r["source"]).name for _, r in rag.index.documents.items()}
    items = [
        dataclasses.replace(i, relevant={d: g for d, g in i.relevant.items() if d in names})
        for i in dataset.items
        if set(i.relevant) & names
    ]
    files = tuple(p for p in dataset.corpus_files() if p.name in names)
    return dataclasses.replace(
        dataset, name=f"{dataset.name}[{len(files)} docs]", items=items, documents=files
    )


def _standard_jobs(embed: bool) -> dict[str, tuple[str, dict]]:
    return {
        f"standard | {name}": ("standard", _query_settings(overrides))
        for name, overrides in standard_candidates([embed]).items()
    }


def _graph_jobs(base_name: str, base: dict[str, Any]) -> dict[str, tuple[str, dict]]:
    return {
        f"mix | {base_name} | {graph_name}": ("mix", _query_settings({**base, **graph}))
        for graph_name, graph in MIX_GRAPH.items()
    }


def run(args: argparse.Namespace) -> tuple[dict, dict, dict]:
    """Phase 1: every standard candidate on every set (and the baselines where the graph is not
    measured). Phase 2 (:func:`_graph_phase`): the standard default by leave-one-dataset-out, then
    graph modes, baselines and mix (each graph use, on the previous and the kept standard settings).
    """
    root = Path(args.data_root)
    datasets = {name: load_dataset(q, c, args.limit) for name, (c, q) in _sets(args).items()}
    for name in args.ingested_only:
        datasets[name] = _ingested_only(datasets[name], root / f"{name}-full")
    systems: dict[str, dict[str, dict[str, list]]] = {name: {} for name in datasets}
    info: dict[str, dict[str, Any]] = {
        name: {"queries": len(d.items), "dataset": d.name} for name, d in datasets.items()
    }
    for name, dataset in datasets.items():
        for embed in [True, False] if name in args.excerpt_only else [True]:
            as_found = name in args.ingested_only
            jobs = _standard_jobs(embed)
            if name not in args.graph_sets:
                jobs["baselines"] = ("", {})
            found, facts = measure(dataset, name, root, embed, jobs, as_found)
            systems[name].update(found)
            info[name].update(facts)
    if args.raw:  # per-question values, to merge runs of separate sets (--merge)
        Path(args.raw).write_text(json.dumps({"systems": systems, "info": info}))
    return systems, info, datasets


def _graph_phase(args: argparse.Namespace, systems: dict, info: dict, datasets: dict) -> dict:
    """Phase 2 on the sets whose graph is measured; then leave-one-dataset-out and the report."""
    root = Path(args.data_root)
    standard = lodo_table(systems, "standard | ", previous_name())
    kept = standard_candidates([True, False])[standard["kept"]]
    for name, dataset in datasets.items():
        if name not in args.graph_sets:
            continue
        jobs = {m: (m, {}) for m in GRAPH_MODES}
        jobs |= {"baselines": ("", {})} | _graph_jobs("previous", PREVIOUS)
        found, _ = measure(dataset, name, root, True, jobs)
        systems[name].update(found)
        found, _ = measure(dataset, name, root, kept["embed_summary"], _graph_jobs("kept", kept))
        systems[name].update(found)
    graph_systems = {name: found for name, found in systems.items() if name in args.graph_sets}
    mix = lodo_table(graph_systems, "mix | kept | ", "append") if graph_systems else None
    return report(systems, info, standard, mix, PREVIOUS, kept)


def lodo_table(systems: dict, prefix: str, previous: str) -> dict[str, Any]:
    """Leave-one-dataset-out over the systems named ``prefix + candidate`` measured on every set."""
    per_set = [
        {k[len(prefix) :] for k in found if k.startswith(prefix)} for found in systems.values()
    ]
    candidates = sorted(set.intersection(*per_set), key=lambda c: (c != previous, c))
    scores = {
        name: {c: found[prefix + c]["ndcg@10"] for c in candidates}
        for name, found in systems.items()
    }
    return leave_one_out(scores, previous, candidates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default="smolrag_data/retrieval_sets")
    parser.add_argument("--sets", nargs="+", default=["demo", "cranfield", "faq"])
    parser.add_argument("--faq-dir", default="smolrag_data/faq")
    parser.add_argument(
        "--excerpt-only",
        nargs="*",
        default=["demo", "cranfield", "faq"],
        help="sets also ingested with embed_summary=false (a second ingestion each)",
    )
    parser.add_argument(
        "--ingested-only",
        nargs="*",
        default=[],
        help="sets measured on the documents their index already holds, opened as found",
    )
    parser.add_argument(
        "--graph-sets",
        nargs="*",
        default=["demo", "cranfield", "faq"],
        help="sets on which the graph modes and mix are measured (their graph must be complete)",
    )
    parser.add_argument(
        "--bm25-text-only", action="store_true", help="also BM25 over the excerpt alone"
    )
    parser.add_argument("--raw", help="also write the per-question values to this JSON file")
    parser.add_argument(
        "--merge", nargs="+", help="report from --raw files of earlier runs (no measurement)"
    )
    parser.add_argument(
        "--limit", type=int, help="only the first N questions of each set (smoke runs)"
    )
    parser.add_argument("--out", default=default_out("retrieval"))
    args = parser.parse_args()
    if args.bm25_text_only:
        LEXICAL_TEXTS.append(False)
    if args.merge:
        systems, info = {}, {}
        for path in args.merge:
            raw = json.loads(Path(path).read_text())
            systems.update(raw["systems"])
            info.update(raw["info"])
        datasets = {}
    else:
        systems, info, datasets = run(args)
    result = _graph_phase(args, systems, info, datasets)
    if not args.raw or args.merge:
        publish(result, args.out)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
