"""The ``?start=&end=`` range of the calls over time, and its checks, shared by their routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Final

from fastapi import HTTPException, Query

from services.api.deps import Rfc3339

__all__ = ["EARLIEST", "LATEST", "MAX_RANGE", "RANGE_RULES", "End", "Start", "require_range"]

MAX_RANGE: Final = timedelta(days=400)
"""The longest ``[start, end)`` one call may ask for."""

EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(9999, 1, 1, tzinfo=UTC)
"""The first and last instants a range may hold. Far inside the years 1 to 9999 that a
`datetime` holds, so that the local days and shifts around any range can be computed (year 1
or 9999 with an offset overflowed, a 5xx)."""

RANGE_RULES: Final = (
    "both RFC 3339 with an offset (`Z` or `±HH:MM`; in a query string send `+` as `%2B`), "
    f"`start` before `end`, at most {MAX_RANGE.days} days apart, both from "
    f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} (UTC)"
)
"""The rules of a range, as the calls' descriptions state them."""

Start = Annotated[
    Rfc3339,
    Query(description="Start of the range (inclusive).", examples=["2026-11-02T06:00:00+08:00"]),
]
End = Annotated[
    Rfc3339,
    Query(description="End of the range (exclusive).", examples=["2026-11-02T14:00:00+08:00"]),
]


def require_range(start: datetime, end: datetime) -> None:
    """422 naming the field where an instant is out of ``[EARLIEST, LATEST]``, or naming
    ``end`` where the range is empty, reversed or longer than `MAX_RANGE`."""
    for name, value in (("start", start), ("end", end)):
        # Aware datetimes compare without converting, so a far offset cannot overflow here.
        if not EARLIEST <= value <= LATEST:
            raise HTTPException(
                422, f"{name}: must be from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} (UTC)"
            )
    if end <= start:
        raise HTTPException(422, "end: must be after start")
    if end - start > MAX_RANGE:
        raise HTTPException(422, f"end: the range may be at most {MAX_RANGE.days} days")
