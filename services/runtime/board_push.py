"""Board pushes, the processors' side: a PostgreSQL ``NOTIFY`` per line a batch changed.

The API's `LiveHub` (``services/api/live.py``) LISTENs on `CHANNEL` and fans each notice out to
the screens of that line; the notice carries no figures, only "refetch".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

CHANNEL: Final = "floor_changed"
"""The NOTIFY channel; its payload is ``{factory}/{line}``."""


def line_key(factory: str, line: str) -> str:
    """The notification payload naming a line (segments hold no '/', so it is unambiguous)."""
    return f"{factory}/{line}"


async def notify_changed(connection: Any, lines: Iterable[tuple[str, str]]) -> None:
    """Tell the board screens that these ``(factory, line)``s changed.

    Call it inside the batch's transaction: the notifications go out on commit, and not at all
    on rollback. One round trip for all the distinct lines.
    """
    keys = sorted({line_key(factory, line) for factory, line in lines})
    if keys:
        await connection.execute(
            "SELECT pg_notify($1, key) FROM unnest($2::text[]) AS key", CHANNEL, keys
        )
