"""What a failed HTTP call says: a one-line description and the delay the server asks for."""

from __future__ import annotations

import email.utils
import time


def describe(error: Exception | None) -> str:
    status = getattr(error, "status_code", None)
    return (
        f"{type(error).__name__}{f' {status}' if status else ''}: {error}"
        if error
        else "unknown error"
    )


def retry_after(error: Exception | None) -> float | None:
    """Seconds from ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``, if present."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None
