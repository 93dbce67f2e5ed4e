"""Dependencies the routes share, as ``Annotated`` aliases."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from asyncpg import Pool
from fastapi import Depends, HTTPException, Path, Request
from pydantic import AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError

from schemas.types import SEGMENT_PATTERN
from services.api import store
from services.api.scope import Scope


def database(request: Request) -> Pool:
    """The app's asyncpg pool, opened by the lifespan."""
    return request.app.state.pool


Database = Annotated[Pool, Depends(database)]

FactoryPath = Annotated[
    str,
    Path(
        pattern=SEGMENT_PATTERN,
        description="The factory: 1 to 64 of a-z, 0-9, '-' and '_'.",
        examples=["f1"],
    ),
]
LinePath = Annotated[
    str,
    Path(
        pattern=SEGMENT_PATTERN,
        description="The line within the factory: 1 to 64 of a-z, 0-9, '-' and '_'.",
        examples=["l1"],
    ),
]


def now(request: Request) -> datetime:
    """The current instant, from the app's clock (``app.state.clock``; tests pin it)."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


Now = Annotated[datetime, Depends(now)]

# RFC 3339: a date, a time and an offset (a naive time is refused). A '+' sent unencoded in
# a query string arrives as a space; an offset written that way is read as '+'.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_SPACED_OFFSET = re.compile(r"(:\d{2}(?:\.\d+)?) (\d{2}:\d{2})$", re.ASCII)


def _rfc3339(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = _SPACED_OFFSET.sub(r"\1+\2", value.strip())
    if not _RFC3339.fullmatch(text):
        raise PydanticCustomError(
            "rfc3339",
            "expected an RFC 3339 date-time with an offset, e.g. 2026-11-02T06:00:00+08:00",
        )
    return text


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
"""An instant in a query: RFC 3339 with an offset (``Z`` or ``±HH:MM``)."""


async def known_line(pool: Pool, *, scope: Scope, factory: str, line: str) -> store.LineRow:
    """The line as stored; 404 where it is not known (neither set with ``PUT`` nor seen in an
    event), or its factory is not one of ``scope``'s, the same answer."""
    row = await store.get_line(pool, scope=scope, factory=factory, line=line)
    if row is None:
        raise HTTPException(404, f"no line {line!r} in factory {factory!r}")
    return row
