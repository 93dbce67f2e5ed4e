"""Keyset pages of lines: ``?limit=`` and an opaque ``?after=`` cursor.

The cursor is the last (factory, line) of a page, as URL-safe base64 of ``factory/line``
without padding. Clients must treat it as opaque; a malformed one is a 422 naming ``after``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Final, NamedTuple

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError

from schemas.types import SEGMENT_REGEX

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 500


class LinePosition(NamedTuple):
    """Where a line sorts in a listing, and where a page of lines ends: by factory, then line."""

    factory: str
    line: str


def encode_cursor(key: LinePosition) -> str:
    raw = f"{key.factory}/{key.line}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> LinePosition:
    """The key a cursor names; ``ValueError`` where it names none."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError("not a cursor this API gave") from error
    factory, slash, line = raw.partition("/")
    if not (slash and SEGMENT_REGEX.fullmatch(factory) and SEGMENT_REGEX.fullmatch(line)):
        raise ValueError("not a cursor this API gave")
    return LinePosition(factory, line)


def after_cursor(
    after: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9_-]{1,200}$",
            description="The `next` cursor of the previous page; leave out for the first page.",
        ),
    ] = None,
) -> LinePosition | None:
    if after is None:
        return None
    try:
        return decode_cursor(after)
    except ValueError as error:
        problem = {"loc": ("query", "after"), "msg": str(error), "type": "value_error"}
        raise RequestValidationError([problem]) from error


After = Annotated[LinePosition | None, Depends(after_cursor)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Lines per page, 1 to {MAX_LIMIT}.")]
