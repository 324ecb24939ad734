"""Folders of real-world files: every file gets a clear outcome (ingested, or skipped with its
reason), none crashes the run or corrupts the stores. The 10,000-file corpus runs with --runslow
(1,000 in CI).
"""

import os
import time

import pytest

from benchmarks.reruns import write_notes
from smolrag_lab import Settings, SmolRag


@pytest.fixture
def rag(tmp_path):
    engine = SmolRag(
        Settings(
            data_dir=tmp_path / "data", chunk_size=64, chunk_overlap=8, max_file_bytes=5_000_000
        )
    )
    yield engine
    engine.close()


def _reasons(report):
    return {os.path.basename(s["source"]): s["reason"] for s in report.skipped}


def test_every_bad_file_gets_a_clear_outcome(rag, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.md").write_text(
        "# Good\n\nA readable document about the GraphStore.", encoding="utf-8"
    )
    (corpus / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text(" \n\t\n")
    (corpus / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    with open(corpus / "huge.txt", "wb") as handle:  # 50 MB (sparse): refused before it is read
        handle.truncate(50 * 1024 * 1024)
    (corpus / "one line.txt").write_text(
        "the Gateway routes every call to the Registry and back " * 2_000
    )
    (corpus / "no breaks.md").write_text(
        "\n".join(f"Line {i} of a file without paragraph breaks." for i in range(800))
    )
    (corpus / "café – notes 日本.md").write_text(
        "# Notes\n\nThe Replicator copies every Store.", encoding="utf-8"
    )
    os.symlink("loop-b.md", corpus / "loop-a.md")
    os.symlink("loop-a.md", corpus / "loop-b.md")
    os.symlink("missing.md", corpus / "dangling.md")
    (corpus / "sub").mkdir()
    os.symlink("..", corpus / "sub" / "parent")  # a folder loop: symlinked folders are not followed
    os.mkfifo(corpus / "pipe.md")  # reading it would block forever
    started = time.perf_counter()
    report = rag.ingest(corpus, progress=False)
    elapsed = time.perf_counter() - started
    reasons = _reasons(report)
    assert reasons["binary.md"].startswith("binary") and reasons["latin1.txt"].startswith(
        "not valid UTF-8"
    )
    assert reasons["empty.txt"] == "empty" and reasons["blank.md"] == "empty"
    assert reasons["huge.txt"].startswith("too large: 52,428,800 bytes")
    assert {reasons[n] for n in ("loop-a.md", "loop-b.md", "dangling.md")} == {
        "broken or looping symlink"
    }
    assert reasons["pipe.md"] == "not a regular file"
    added = {os.path.basename(s) for s in report.added}
    assert added == {"good.md", "one line.txt", "no breaks.md", "café – notes 日本.md"}
    assert report.failed == []
    assert max(e["tokens"] for _, e in rag.index.excerpts.items()) <= 64 + 8 + 8
    assert rag.check().ok
    unicode_source = next(s for s in report.added if "café" in s)
    assert any(
        s.source == unicode_source
        for s in rag.retrieve("What copies every Store?", "standard").sources
    )
    assert rag.delete(unicode_source) and rag.check().ok
    print(
        f"bad-input corpus: {len(reasons)} skipped with reasons, "
        f"{len(added)} ingested in {elapsed:.1f} s"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_skipped(rag, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    secret = corpus / "secret.md"
    secret.write_text("# Secret\n\ntext")
    secret.chmod(0)
    assert _reasons(rag.ingest(corpus, progress=False))["secret.md"].startswith("unreadable")


def test_direct_paths_that_are_not_there(rag, tmp_path):
    os.symlink(tmp_path / "nowhere", tmp_path / "link.md")
    report = rag.ingest([tmp_path / "absent.md", tmp_path / "link.md"], progress=False)
    assert _reasons(report) == {
        "absent.md": "no such file or folder",
        "link.md": "broken or looping symlink",
    }


def test_many_tiny_files(tmp_path, request):
    count = 10_000 if request.config.getoption("--runslow") else 1_000
    corpus = write_notes(tmp_path / "tiny", count)
    with SmolRag(Settings(data_dir=tmp_path / "data")) as rag:
        started = time.perf_counter()
        first = rag.ingest(corpus, progress=False)
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        again = rag.ingest(corpus, progress=False)
        rerun_s = time.perf_counter() - started
        assert len(first.added) == count and first.failed == [] and first.skipped == []
        assert len(again.unchanged) == count and sum(again.provider_calls.values()) == 0
        assert rag.check().ok
    print(f"{count} tiny files: ingest {ingest_s:.1f} s, unchanged re-run {rerun_s:.2f} s")
