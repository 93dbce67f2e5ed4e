"""At most so many live feeds open at once per token (``board_max_feeds_per_token``).

A board screen holds one feed per line board; a token whose link leaked, or a runaway script,
must not hold thousands. The count is per API process (a replica counts its own feeds): a
limit on what one process serves, not a global quota.

A feed takes a `FeedLease` when it is asked for (a 429 where the token holds the limit
already) and gives it back when its stream ends; giving it back twice is harmless, so the
stream's end and the response's end may both do it.
"""

from __future__ import annotations

from collections import Counter

from fastapi import HTTPException

__all__ = ["FeedLease", "FeedLimit"]


class FeedLease:
    """One open feed of a token; `release` gives it back (once, however often called)."""

    def __init__(self, limit: FeedLimit, key: str) -> None:
        self._limit = limit
        self._key = key
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._limit._give_back(self._key)


class FeedLimit:
    """The open feeds of each token of this process, up to ``per_token`` each."""

    def __init__(self, per_token: int) -> None:
        self.per_token = per_token
        self._open: Counter[str] = Counter()

    def open_feeds(self, key: str) -> int:
        return self._open[key]

    def take(self, key: str) -> FeedLease:
        """A lease for one more feed of token ``key``; 429 where it holds `per_token` already."""
        if self._open[key] >= self.per_token:
            raise HTTPException(
                429,
                f"this token holds {self.per_token} live feeds already, the most it may; "
                "close one (or use another token) first",
            )
        self._open[key] += 1
        return FeedLease(self, key)

    def _give_back(self, key: str) -> None:
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]
