"""Data access of the API: keyword-only functions over the asyncpg pool, one statement each
(but `upsert_line_settings`: one transaction of four).

The efficiency reads are in `services.efficiency.read`.

``line.settings`` is ``{}`` for a line known only from its events; such a line has no
settings yet, which these functions answer as ``None``.

Every function takes the caller's ``scope``: one of a single factory refuses a factory outside
it (`services.api.scope.OutOfScope`) before any statement; `list_lines` filters by
it in SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asyncpg import Pool

from schemas.line_settings import LineSettings
from services.api.pagination import LinePosition
from services.api.scope import Scope
from services.floor import cards
from services.runtime.board_push import notify_changed


@dataclass(frozen=True, slots=True)
class LineRow:
    """A line and its settings as stored (None before any PUT)."""

    factory: str
    line: str
    settings: LineSettings | None
    updated_at: datetime

    def settings_or_defaults(self) -> LineSettings:
        """The stored settings, or the defaults (UTC, no shifts) for a line that has none."""
        return self.settings if self.settings is not None else LineSettings(name=self.line)


@dataclass(frozen=True, slots=True)
class LineListing:
    """A line as listed: its key and the name from its settings, if any."""

    factory: str
    line: str
    name: str | None


def _settings(value: str) -> LineSettings | None:
    # asyncpg answers jsonb as text: validated as JSON once, here. "{}" means "none yet".
    return None if json.loads(value) == {} else LineSettings.model_validate_json(value)


def _line_row(record: Any) -> LineRow:
    return LineRow(
        factory=record["factory"],
        line=record["line"],
        settings=_settings(record["settings"]),
        updated_at=record["updated_at"],
    )


_UPSERT = """
INSERT INTO line (factory, line, settings) VALUES ($1, $2, $3::jsonb)
ON CONFLICT (factory, line) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()
RETURNING factory, line, settings, updated_at
"""


async def upsert_line_settings(
    pool: Pool, *, scope: Scope, factory: str, line: str, settings: LineSettings
) -> LineRow:
    """Store ``settings`` as the line's whole settings, creating the line if it is new.

    In the same transaction: 1 take the line's kanban lock (`cards.lock_lines`, so that a
    batch of the floor-state processor lowering a stock comes wholly before or after), 2 store
    the settings, 3 raise the cards the materials' current stock needs under the new
    ``materials`` rules, as a level event would (`cards.raise_for_settings`), 4 tell the
    line's boards (sent on commit).
    """
    scope.require(factory)
    async with pool.acquire() as connection, connection.transaction():
        await cards.lock_lines(connection, lines=[(factory, line)], exclusive=True)  # 1
        body = settings.model_dump_json()
        record = await connection.fetchrow(_UPSERT, factory, line, body)  # 2
        await cards.raise_for_settings(
            connection, factory=factory, line=line, rules=settings.materials
        )  # 3
        await notify_changed(connection, [(factory, line)])  # 4
    return _line_row(record)


async def get_line(pool: Pool, *, scope: Scope, factory: str, line: str) -> LineRow | None:
    """The line, or None where it is not known."""
    scope.require(factory)
    record = await pool.fetchrow(
        "SELECT factory, line, settings, updated_at FROM line WHERE factory = $1 AND line = $2",
        factory,
        line,
    )
    return None if record is None else _line_row(record)


async def factory_lines(pool: Pool, *, scope: Scope, factory: str) -> list[LineRow]:
    """The factory's lines with their settings, in order of ``line`` (code points)."""
    scope.require(factory)
    records = await pool.fetch(
        "SELECT factory, line, settings, updated_at FROM line WHERE factory = $1"
        ' ORDER BY line COLLATE "C"',
        factory,
    )
    return [_line_row(record) for record in records]


_PAGE = """
SELECT factory, line, settings->>'name' AS name FROM line
WHERE ($1::text IS NULL OR (factory, line) > ($1::text, $2::text))
  AND ($4::text[] IS NULL OR factory = ANY($4::text[]))
ORDER BY factory, line
LIMIT $3
"""


async def list_lines(
    pool: Pool, *, scope: Scope, after: LinePosition | None, limit: int
) -> list[LineListing]:
    """Up to ``limit`` lines of the scope's factories in (factory, line) order, from just
    after ``after``."""
    factory, line = after if after is not None else (None, None)
    records = await pool.fetch(_PAGE, factory, line, limit, scope.sql())
    return [LineListing(r["factory"], r["line"], r["name"]) for r in records]
