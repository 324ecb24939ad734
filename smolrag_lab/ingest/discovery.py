"""Finding and reading documents; every skipped file is reported with its reason."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


@dataclass(frozen=True)
class Document:
    source: str
    text: str


def discover(paths: Iterable[str | Path], extensions: Sequence[str]) -> tuple[list[Path], list[Skipped]]:
    """Files under ``paths`` (folders walked recursively) with one of ``extensions``."""
    wanted = {e.lower() for e in extensions}
    found: list[Path] = []
    skipped: list[Skipped] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for folder, dirs, files in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and Path(name).suffix.lower() in wanted:
                        found.append(Path(folder) / name)
        elif path.is_file():
            if path.suffix.lower() in wanted:
                found.append(path)
            else:
                skipped.append(Skipped(str(path), f"extension {path.suffix or '(none)'} is not ingested"))
        else:
            skipped.append(Skipped(str(path), "no such file or folder"))
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique, skipped


def read_document(path: Path) -> Document | Skipped:
    """The file's text, or the reason it cannot be ingested (binary, undecodable, empty, unreadable)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Skipped(str(path), f"unreadable: {exc.strerror or exc}")
    if b"\x00" in data[:8192]:
        return Skipped(str(path), "binary content (NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Skipped(str(path), f"not valid UTF-8 (byte {exc.start})")
    if not text.strip():
        return Skipped(str(path), "empty")
    return Document(str(path), text.replace("\r\n", "\n"))
