"""Finding and reading documents; every skipped file is reported with its reason."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


@dataclass(frozen=True)
class Document:
    source: str
    text: str


def discover(
    paths: Iterable[str | Path], extensions: Sequence[str], confine_to: Path | None = None
) -> tuple[list[Path], list[Skipped]]:
    """Files under ``paths`` (folders walked recursively, symlinked folders not followed) with one
    of ``extensions``; what cannot be walked or resolved is reported, never raised. With
    ``confine_to``, a file whose resolved path (symlinks followed) leaves that folder is skipped.
    """
    wanted = {e.lower() for e in extensions}
    found: list[Path] = []
    skipped: list[Skipped] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():

            def walk_errors(exc: OSError) -> None:
                skipped.append(Skipped(str(exc.filename), f"unreadable folder: {exc.strerror}"))

            for folder, dirs, files in os.walk(path, followlinks=False, onerror=walk_errors):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(
                    Path(folder) / name
                    for name in sorted(files)
                    if not name.startswith(".") and Path(name).suffix.lower() in wanted
                )
        elif path.is_file():
            if path.suffix.lower() in wanted:
                found.append(path)
            else:
                skipped.append(
                    Skipped(str(path), f"extension {path.suffix or '(none)'} is not ingested")
                )
        elif path.is_symlink():
            skipped.append(Skipped(str(path), "broken or looping symlink"))
        else:
            skipped.append(Skipped(str(path), "no such file or folder"))
    unique: dict[Path, None] = {}
    for file in found:
        try:
            resolved = file.resolve(strict=True)
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop on Python < 3.13
            skipped.append(Skipped(str(file), "broken or looping symlink"))
            continue
        if confine_to is not None and not resolved.is_relative_to(confine_to):
            skipped.append(Skipped(str(file), "a symlink to a file outside the allowed folder"))
            continue
        unique[resolved] = None
    return list(unique), skipped


def read_document(path: Path, max_bytes: int | None = None) -> Document | Skipped:
    """The file's text, or the reason it cannot be ingested: not a regular file (a FIFO would block
    the read forever), too large, unreadable, binary, not UTF-8, or empty.
    """
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return Skipped(str(path), "not a regular file")
        if max_bytes is not None and info.st_size > max_bytes:
            return Skipped(
                str(path), f"too large: {info.st_size:,} bytes > max_file_bytes {max_bytes:,}"
            )
        data = path.read_bytes()
    except OSError as exc:
        return Skipped(str(path), f"unreadable: {exc.strerror or exc}")
    if b"\x00" in data:  # anywhere: no backend stores a NUL in text the same way
        return Skipped(str(path), "binary content (NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Skipped(str(path), f"not valid UTF-8 (byte {exc.start})")
    if not text.strip():
        return Skipped(str(path), "empty")
    return Document(str(path), text.replace("\r\n", "\n"))
