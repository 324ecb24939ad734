"""Structured output (issue 23): ``structured_output=auto`` probes the server once, asks for
JSON with each task's schema in the kind the server honours (OpenAI's json_schema, llama.cpp's
json_object with a schema) and falls back to delimiter records; JSON replies, truncated ones
included, are read into the same validated records. Against the simulated endpoint over HTTP."""

import pytest
from fake_openai import simulated
from test_engine import write_corpus

from smolrag_lab import SmolRag
from smolrag_lab.providers.record_shapes import parse_loose
from smolrag_lab.providers.structured import PROBE_MESSAGES, json_summaries, summary_text
from smolrag_lab.simulator import SimulatedEndpoint


def _ingest(tmp_path, name, accepted, **overrides):
    endpoint = SimulatedEndpoint(dim=16, structured=accepted)
    with simulated(endpoint, tmp_path / name, **overrides) as (server, settings):
        with SmolRag(settings) as rag:
            report = rag.ingest(write_corpus(tmp_path / "corpus"), progress=False)
            graph = rag.graph()
            nodes = {n: graph.nodes[n].get("entity_type") for n in graph.nodes}
            edges = {tuple(sorted(e)) for e in graph.edges}
        chats = [b for p, b in server.requests if p.endswith("/chat/completions")]
    assert report.failed == [] and nodes
    probes = [b["response_format"]["type"] for b in chats if b["messages"] == PROBE_MESSAGES]
    tasks = [b for b in chats if b["messages"] != PROBE_MESSAGES]
    return probes, tasks, (nodes, edges)


@pytest.mark.parametrize("call_unit", ["excerpt", "group"])
def test_json_output_builds_the_same_graph_as_delimiter_records(tmp_path, call_unit):
    probes, tasks, graph = _ingest(tmp_path, "json", ("json_schema",), call_unit=call_unit)
    assert probes == ["json_schema"]  # once per client, however many calls follow
    formats = {b["response_format"]["type"] for b in tasks}
    schemas = {b["response_format"]["json_schema"]["name"] for b in tasks}
    assert formats == {"json_schema"}
    assert schemas == (
        {"smolrag_group"} if call_unit == "group" else {"smolrag_summary", "smolrag_extraction"}
    )
    probes_off, tasks_off, graph_off = _ingest(
        tmp_path, "records", (), call_unit=call_unit, structured_output="off"
    )
    assert probes_off == [] and not any("response_format" in b for b in tasks_off)
    assert graph == graph_off  # the same records, read from JSON instead of delimiters


def test_a_server_like_llama_cpp_gets_json_object_after_a_500_not_retried(tmp_path):
    probes, tasks, _ = _ingest(tmp_path, "llama", ("json_object",), call_unit="excerpt")
    assert probes == ["json_schema", "json_object"]  # the 500 was the answer, not a fault
    assert {b["response_format"]["type"] for b in tasks} == {"json_object"}
    assert all("schema" in b["response_format"] for b in tasks)


def test_a_server_without_structured_output_gets_delimiter_records(tmp_path):
    probes, tasks, _ = _ingest(tmp_path, "plain", (), call_unit="group")
    assert probes == ["json_schema", "json_object"]
    assert tasks and not any("response_format" in b for b in tasks)


def test_an_explicit_kind_is_used_without_a_probe(tmp_path):
    probes, tasks, _ = _ingest(
        tmp_path, "set", ("json_object",), call_unit="excerpt", structured_output="json_object"
    )
    assert probes == [] and {b["response_format"]["type"] for b in tasks} == {"json_object"}


def test_json_cut_off_at_max_tokens_keeps_its_complete_records():
    reply = (
        '{"summaries": [{"excerpt": "E1", "summary": "How the cache is keyed."}], "entities": ['
        '{"name": "QueryCache", "type": "interface", "description": "Keeps answers."}, '
        '{"name": "Index", "type": "interface", "description": "Hol'
    )
    found = parse_loose(reply)
    assert [e.name for e in found.entities] == ["QueryCache"]
    assert json_summaries(reply, 2) == {1: "How the cache is keyed."}
    assert json_summaries(reply, 0) == {}
    assert summary_text('{"summary": " One sentence. "}') == "One sentence."
    assert summary_text("Not JSON at all.") == "Not JSON at all."
