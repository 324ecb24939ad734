"""How setting values are read (environment, TOML), coerced to their declared types, range-checked
and, for secrets, kept out of every printed form.

Secrets are pydantic ``SecretStr`` values: ``str()``, ``repr()`` and JSON show ``**********``, and
the only way to the value is ``get_secret_value()`` (or :func:`reveal`), so a reader that forgets it
fails loudly instead of leaking. A database URL keeps its host and user visible and masks only the
password, so ``smolrag-lab settings`` still says which server an index lives on.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

ENV_PREFIX = "SMOLRAG_"
# Variables that keep the names every OpenAI-compatible tool already uses.
ENV_ALIASES = {"openai_api_key": "OPENAI_API_KEY", "openai_base_url": "OPENAI_BASE_URL"}
MASK = "**********"


class SettingsError(ValueError):
    """A setting has a value outside its allowed range."""


class SecretUrl(SecretStr):
    """A connection URL whose password is masked wherever it is shown."""

    def _display(self) -> str:
        return mask_url(self.get_secret_value())


def mask_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part masked; in a key=value DSN the
    ``password=`` value is masked; anything unparsable is masked whole.
    """
    if "://" not in url:
        words = url.split()
        masked = [MASK if w.lower().startswith("password=") else w for w in words]
        return " ".join(f"password={MASK}" if m == MASK else m for m in masked)
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port is not None else ""
        netloc = f"{parts.username or ''}:{MASK}@{host}{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return MASK


def reveal(value: SecretStr | None) -> str | None:
    """The clear value of a secret setting (None when unset): the one getter every reader uses."""
    return None if value is None else value.get_secret_value()


def base_type(cls: type, name: str) -> Any:
    return _base_types(cls)[name]


def _base_types(cls: type) -> dict[str, Any]:
    """Each field's type without ``| None``; resolving the hints is slow, so it is done once."""
    cached = _BASE_TYPES.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls)
        cached = _BASE_TYPES[cls] = {n: _strip_optional(h) for n, h in hints.items()}
    return cached


_BASE_TYPES: dict[type, dict[str, Any]] = {}


def _strip_optional(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return args[0]
    return hint


def coerce(f: dataclasses.Field, base: Any, value: Any) -> Any:
    """Turn strings (from env or TOML) and lists into the field's declared type."""
    if value is None:
        return None
    try:
        if isinstance(base, type) and issubclass(base, SecretStr):
            return value if isinstance(value, base) else base(reveal_any(value))
        if base is Path:
            return Path(value).expanduser()
        if typing.get_origin(base) is tuple:
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(i).strip() for i in items if str(i).strip())
        if base is bool:
            return _parse_bool(value)
        if base is int and not isinstance(value, bool):
            return int(value)
        if base is float:
            return float(value)
        if base is str:
            return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(
            f"{f.name}: cannot read {value!r} as {getattr(base, '__name__', base)}"
        ) from exc
    return value


def reveal_any(value: Any) -> str:
    """A secret given as a plain string or as any ``SecretStr``."""
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(text)


def check(f: dataclasses.Field, value: Any) -> None:
    if value is None:
        return
    lo, hi, choices = f.metadata.get("lo"), f.metadata.get("hi"), f.metadata.get("choices")
    if choices and value not in choices:
        raise SettingsError(f"{f.name}={value!r} is not one of: {', '.join(choices)}")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise SettingsError(f"{f.name}={value!r} is outside the allowed range [{lo}, {hi}]")


def read_env(cls: type, env: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for f in dataclasses.fields(cls):
        for name in (ENV_PREFIX + f.name.upper(), ENV_ALIASES.get(f.name)):
            if name and env.get(name) not in (None, ""):
                values[f.name] = env[name]
                break
    return values


def read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
    # Accept both a flat file and one with a [smolrag] table.
    return dict(data.get("smolrag", data))
