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

__all__ = [
    "event_hash",
    "merge_arguments",
    "merge_statement",
    "production_after_sql",
    "production_before_sql",
]


def event_hash(event_id: str) -> int:
    """The first 8 bytes of the MD5 of ``event_id`` (UTF-8) as a signed big-endian integer,
    as the migrations compute it in SQL: ``('x' || left(md5(event_id), 16))::bit(64)::bigint``."""
    digest = md5(event_id.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def merge_statement(table: str, then: str = "") -> str:
    """The statement that merges reports (`merge_arguments`) into ``table``, answering the
    places (from 1) of those counted now.

    ``known`` reads the row of each station and minute of the batch once, by a probe of the
    primary key per row (a scalar subquery: a join would let the planner hash the whole
    table instead, which it did, at 150 ms a batch, once the table held 280,000 rows). ``fresh``
    holds the reports whose hash their station and minute's row does not hold yet;
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
), known AS (
    SELECT k.*, (SELECT p.ids FROM {table} AS p
                 WHERE p.factory = k.f AND p.line = k.l AND p.station = k.s
                   AND p.minute = k.minute) AS ids
    FROM (SELECT DISTINCT f, l, s, minute FROM d) AS k
), fresh AS (
    SELECT d.* FROM d LEFT JOIN known AS k
        ON k.f = d.f AND k.l = d.l AND k.s = d.s AND k.minute = d.minute
    WHERE k.ids IS NULL OR d.h <> ALL (k.ids)
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


def production_before_sql(f: str, l: str, s: str, t: str, table: str = "production_minute") -> str:  # noqa: E741
    """A scalar subquery: the station ``(f, l, s)``'s latest report strictly before ``t`` in
    ``table`` (null: none), from the two rows of the minutes at or before ``t``'s.

    The SQL function ``production_before`` (migration 0013) answers the same; this is it
    written into the statement, where the planner runs it as an index probe per row: a call
    of an SQL function with a ``FROM`` is not inlined, and its executor cost about 15 µs a
    call, most of a batch's cost where a batch touches thousands of stations."""
    return f"""(SELECT max(x.minute + a.at * interval '1 microsecond')
        FROM (SELECT q.minute, q.at_us FROM {table} AS q
              WHERE q.factory = {f} AND q.line = {l} AND q.station = {s} AND q.minute <= {t}
              ORDER BY q.minute DESC LIMIT 2) AS x
        CROSS JOIN LATERAL unnest(x.at_us) AS a(at)
        WHERE x.minute + a.at * interval '1 microsecond' < {t})"""  # noqa: S608


def production_after_sql(f: str, l: str, s: str, t: str, table: str = "production_minute") -> str:  # noqa: E741
    """A scalar subquery: the station's earliest report strictly after ``t`` (null: none), as
    the SQL function ``production_after`` answers it (see `production_before_sql`)."""
    return f"""(SELECT min(x.minute + a.at * interval '1 microsecond')
        FROM (SELECT q.minute, q.at_us FROM {table} AS q
              WHERE q.factory = {f} AND q.line = {l} AND q.station = {s}
                AND q.minute >= date_trunc('minute', {t}, 'UTC')
              ORDER BY q.minute LIMIT 2) AS x
        CROSS JOIN LATERAL unnest(x.at_us) AS a(at)
        WHERE x.minute + a.at * interval '1 microsecond' > {t})"""  # noqa: S608
