"""What both processors' per-minute production tables share: the ``event_id`` hash, and the
statement that merges a batch's reports into them.

Both processors store production reports one row per station and UTC minute, with a hash of
every ``event_id`` counted there (``production_minute``, migration 0013, the efficiency
processor's; ``floor_production_minute``, migration 0014, the floor-state processor's). Each
owns its table; the shape, the hash and the merge are the same. The hash is computed here in
Python and in those migrations in SQL, which must agree bit for bit: a report stored before a
migration is then still known when it is delivered again after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import md5
from typing import Any

from schemas.records import ProductionRecord

__all__ = ["event_hash", "merge_arguments", "merge_statement"]


def event_hash(event_id: str) -> int:
    """The first 8 bytes of the MD5 of ``event_id`` (UTF-8) as a signed big-endian integer,
    as the migrations compute it in SQL: ``('x' || left(md5(event_id), 16))::bit(64)::bigint``."""
    digest = md5(event_id.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def merge_statement(table: str, then: str = "") -> str:
    """The statement that merges reports (`merge_arguments`) into ``table``, answering the
    places (from 1) of those counted now.

    ``fresh`` holds the reports whose hash their station and minute's row does not hold yet;
    ``merged`` appends them to that row (made where there is none). ``then`` adds further
    ``WITH`` parts that read ``fresh`` (columns ``f, l, s, ts, minute, h, at_us, good, scrap,
    i``). Data-modifying ``WITH`` parts run once each, whether read or not, and see the tables
    as they were before the statement. One line's batches are applied one at a time (its
    partition's offset row is locked first: `runtime.consumer`), so no other transaction
    writes these rows meanwhile."""
    return f"""
WITH d AS (
    SELECT f, l, s, ts, date_trunc('minute', ts, 'UTC') AS minute, h,
           extract(microseconds FROM ts - date_trunc('minute', ts, 'UTC'))::integer AS at_us,
           good, scrap, i
    FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[],
                $6::bigint[], $7::bigint[]) WITH ORDINALITY AS d(f, l, s, ts, h, good, scrap, i)
), fresh AS (
    SELECT d.* FROM d LEFT JOIN {table} AS p
        ON p.factory = d.f AND p.line = d.l AND p.station = d.s AND p.minute = d.minute
    WHERE p.ids IS NULL OR d.h <> ALL (p.ids)
), merged AS (
    INSERT INTO {table} AS p (factory, line, station, minute, ids, at_us, good, scrap)
    SELECT f, l, s, minute, array_agg(h ORDER BY i), array_agg(at_us ORDER BY i),
           array_agg(good ORDER BY i), array_agg(scrap ORDER BY i)
    FROM fresh GROUP BY f, l, s, minute
    ON CONFLICT (factory, line, station, minute) DO UPDATE SET
        ids = p.ids || EXCLUDED.ids, at_us = p.at_us || EXCLUDED.at_us,
        good = p.good || EXCLUDED.good, scrap = p.scrap || EXCLUDED.scrap
){then}
SELECT i FROM fresh
"""  # noqa: S608 - the processors' own table names


def merge_arguments(reports: Sequence[ProductionRecord]) -> list[list[Any]]:
    """The arguments of `merge_statement` for ``reports`` (unique by ``(factory, line,
    event_id)``)."""
    return [
        [r.factory for r in reports],
        [r.line for r in reports],
        [r.station for r in reports],
        [r.ts for r in reports],
        [event_hash(r.event_id) for r in reports],
        [r.good for r in reports],
        [r.scrap for r in reports],
    ]
