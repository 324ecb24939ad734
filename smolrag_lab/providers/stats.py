"""Per-call accounting for model providers: calls, tokens, latency, retries, cache hits."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field


@dataclass
class CallStats:
    calls: int = 0  # logical calls that reached the provider (cache misses)
    requests: int = 0  # HTTP attempts, retries included
    retries: int = 0
    errors: int = 0  # calls that failed after every retry
    items: int = 0  # texts embedded / completions produced
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_chars: int = (
        0  # characters sent in prompts (cache misses), to compare with other systems
    )
    latency_s: float = 0.0  # summed wall time of successful calls
    cache_hits: int = 0
    cache_misses: int = 0

    def as_dict(self) -> dict:
        data = asdict(self)
        data["mean_latency_ms"] = 1000 * self.latency_s / self.calls if self.calls else 0.0
        return data


@dataclass
class ProviderStats:
    """Counters by kind of call ("chat", "embeddings", ...), safe to update from several threads."""

    kinds: dict[str, CallStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, kind: str, **deltas: float) -> None:
        with self._lock:
            stats = self.kinds.setdefault(kind, CallStats())
            for name, delta in deltas.items():
                setattr(stats, name, getattr(stats, name) + delta)

    def get(self, kind: str) -> CallStats:
        with self._lock:
            return CallStats(**asdict(self.kinds.get(kind, CallStats())))

    def snapshot(self) -> dict[str, dict]:
        with self._lock:
            return {kind: stats.as_dict() for kind, stats in sorted(self.kinds.items())}

    def reset(self) -> None:
        with self._lock:
            self.kinds.clear()
