"""Build a labelled retrieval set from FAQ documentation that Debian packages install: every FAQ
question becomes a query, its answer (without the question) one document, relevance = that document.

Sources (each read from the installed package, nothing downloaded):

- ``perlfaq``: ``perlfaq1.pod`` … ``perlfaq9.pod`` from ``perl-doc`` (about 300 questions);
- ``gitfaq``: ``gitfaq.txt`` from ``git-doc``;
- ``sqlitefaq``: ``faq.html`` from ``sqlite3-doc``.

Install them first (as root): ``apt-get install -y perl-doc git-doc sqlite3-doc``.

usage: python -m benchmarks.build_faq_set [--out smolrag_data/faq]
       [--sources perlfaq gitfaq sqlitefaq]

Writes ``OUT/docs/<source>-NNN.txt`` (one answer each) and ``OUT/queries.jsonl`` in the shared
format (``id``, ``query``, ``relevant`` {document: grade}, ``reference_answer``). The corpus is
regenerated, not committed: its texts keep their packages' licences (Perl's Artistic/GPL, git's
GPL-2, SQLite's public domain).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

PERLFAQ = Path("/usr/share/perl/5.36.0/pod")
GITFAQ = Path("/usr/share/doc/git-doc/gitfaq.txt")
SQLITEFAQ = Path("/usr/share/doc/sqlite3/faq.html")
PACKAGES = {"perlfaq": "perl-doc", "gitfaq": "git-doc", "sqlitefaq": "sqlite3-doc"}
MIN_ANSWER_WORDS = 15  # shorter answers are pointers ("see perlfunc"), not answers

Pair = tuple[str, str]  # (question, answer)


def _perl_pod_dir() -> Path:
    """The perl-doc pod folder of whichever Perl 5 is installed."""
    found = sorted(Path("/usr/share/perl").glob("5.*/pod/perlfaq4.pod"))
    return found[-1].parent if found else PERLFAQ


def _pod_text(text: str) -> str:
    """Pod formatting codes (C<…>, L<…|…>, C<< … >>, E<gt>) reduced to their text."""
    escapes = {"gt": ">", "lt": "<", "verbar": "|", "sol": "/"}
    text = re.sub(r"E<(\w+)>", lambda m: escapes.get(m.group(1), m.group(0)), text)
    text = re.sub(r"[XZ]<[^<>]*>", "", text)  # index entries and zero-width codes say nothing
    text = re.sub(r"[A-Z]<<+\s+(.*?)\s+>>+", r"\1", text, flags=re.S)
    for _ in range(4):  # nested codes, innermost first
        text = re.sub(r"L<([^<>|]*\|)?([^<>]*)>", r"\2", text)
        text = re.sub(r"[A-Z]<([^<>]*)>", r"\1", text)
    return text


def perlfaq_pairs() -> Iterator[Pair]:
    folder = _perl_pod_dir()
    for number in range(1, 10):
        path = folder / f"perlfaq{number}.pod"
        if not path.exists():
            raise FileNotFoundError(path)
        body = path.read_text(encoding="utf-8", errors="replace")
        for section in re.split(r"^=head1 .*$", body, flags=re.M):
            for chunk in re.split(r"^=head2 ", section, flags=re.M)[1:]:
                question, _, answer = chunk.partition("\n")
                answer = re.sub(r"^=\w+.*$", "", answer, flags=re.M)  # =over, =item, =back, =cut
                yield _pod_text(question.strip()), _pod_text(answer)


def gitfaq_pairs() -> Iterator[Pair]:
    text = GITFAQ.read_text(encoding="utf-8")
    for block in re.split(r"^\[\[[\w-]+\]\]\n", text, flags=re.M)[1:]:
        question, _, answer = block.partition("::\n")
        answer = re.split(r"^\S.*\n-{3,}$", answer, flags=re.M)[0]  # up to the next section title
        answer = re.sub(r"^\+$|^-{4}$", "", answer, flags=re.M)
        answer = re.sub(r"linkgit:([\w-]+)\[\d\]", r"\1", answer)
        yield question.replace("`", "").strip(), answer.replace("`", "")


def sqlitefaq_pairs() -> Iterator[Pair]:
    text = SQLITEFAQ.read_text(encoding="utf-8", errors="replace")
    parts = re.split(r'<a name="q\d+"></a>', text)[1:]
    for part in parts:
        match = re.match(r"\s*<p><b>\(\d+\)\s*(.*?)</b></p>(.*)", part, flags=re.S)
        if not match:
            continue
        answer = re.split(r"<hr|</body>|<a name=", match.group(2))[0]
        yield _html_text(match.group(1)), _html_text(answer)


def _html_text(fragment: str) -> str:
    fragment = re.sub(r"</p>|<br\s*/?>|</pre>|</li>", "\n\n", fragment)
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


SOURCES: dict[str, Callable[[], Iterator[Pair]]] = {
    "perlfaq": perlfaq_pairs,
    "gitfaq": gitfaq_pairs,
    "sqlitefaq": sqlitefaq_pairs,
}


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _first_paragraph(answer: str, max_words: int = 80) -> str:
    paragraphs = [p for p in answer.split("\n\n") if not p.lstrip().startswith("(contributed")]
    paragraph = next((p for p in paragraphs if len(p.split()) >= 5), answer)
    words = " ".join(paragraph.split()).split(" ")
    return " ".join(words[:max_words])


def build(out: Path, sources: list[str]) -> dict[str, int]:
    """Write the corpus and queries under ``out`` (its ``docs/`` replaced); counts per source."""
    docs = out / "docs"
    if docs.exists():
        shutil.rmtree(docs)
    docs.mkdir(parents=True)
    seen: set[str] = set()
    counts: dict[str, int] = {}
    with (out / "queries.jsonl").open("w", encoding="utf-8") as queries:
        for source in sources:
            counts[source] = 0
            for question, answer in SOURCES[source]():
                question, answer = " ".join(question.split()), _tidy(answer)
                if len(answer.split()) < MIN_ANSWER_WORDS or question.casefold() in seen:
                    continue
                seen.add(question.casefold())
                counts[source] += 1
                name = f"{source}-{counts[source]:03d}.txt"
                (docs / name).write_text(answer + "\n", encoding="utf-8")
                record = {
                    "id": f"{source}-{counts[source]:03d}",
                    "query": question,
                    "relevant": {name: 1},
                    "reference_answer": _first_paragraph(answer),
                    "source": source,
                }
                queries.write(json.dumps(record, ensure_ascii=False) + "\n")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", default="smolrag_data/faq", help="folder for docs/ and queries.jsonl"
    )
    parser.add_argument("--sources", nargs="+", default=list(SOURCES), choices=list(SOURCES))
    args = parser.parse_args(argv)
    try:
        counts = build(Path(args.out), args.sources)
    except FileNotFoundError as missing:
        packages = " ".join(PACKAGES[s] for s in args.sources)
        print(
            f"error: {missing.filename} not found: install the FAQ packages first, as root:\n"
            f"  apt-get install -y {packages}",
            file=sys.stderr,
        )
        return 2
    print(json.dumps({"out": args.out, "questions": counts, "total": sum(counts.values())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
