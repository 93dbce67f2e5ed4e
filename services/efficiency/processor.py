"""The efficiency processor: each batch of ``floor.events.v1``, inside its transaction (the
consumer loop of `runtime.consumer` stores the offsets in the same one):

1. read the records; one that is not an event of the contract is logged and skipped (policy:
   skip, never stop: the gateway validated it, so it is a producer bug, not a line's); so is an
   event older than the retention period (``not_before``): the events around it that its minutes
   would be folded from are deleted, so it could only corrupt them;
2. store the events not stored yet: a repeated ``event_id`` on a line counts once (the first
   of a batch's copies; a later batch's by the database). Machine, order, people and material
   events (2 % of them) get a row each in ``station_event``; production reports do not: each is
   merged into its station and minute's row of ``production_minute``, which holds a hash of
   every ``event_id`` counted there, in one statement for the batch that tells which were new
   (`store.merge_production`). Register their lines (a line is known from its first valid
   event on);
   (b) and recompute the *silences* the new events change (`store.update_silences`): per
   station, the gaps between its events of any kind longer than its line's ``stale_after_s``,
   whose time counts as downtime ``no_signal`` (the core's timeline, rule 4). The silences
   that changed (gone or new) widen step 3's windows, so a late event that breaks a silence
   folds its minutes again;
3. work out, per station, the minutes the new events can change: a machine change at ``ts``
   changes the intervals from the change before it to the change after it; an order event at
   ``ts`` every station of the line from ``ts`` to the next order event (or the line's last
   production). Both are widened by the small-stop threshold and the startup window, which
   look across minute boundaries. Production at ``ts`` changes its own minute only (nothing
   else reads it). Per station the span runs from its earliest to its latest new event, so
   the lookups are per station and line, not per event;
4. fold each such station over those minutes from all its stored events, and replace its
   buckets there. A bucket is a function of the set of events, so neither duplicates nor the
   order of arrival can change a figure, and a late event corrects the minutes it belongs to;
   (b) but a station with nothing new except production (no machine change of its own, no
   order event on its line) has its new production *added* to its buckets: what a fold would
   count for it, from the same changes and orders (`tally_production`), an exact integer sum.
   Its minutes' earlier production is not read again, which at a production report a second
   per station was most of a batch's cost when each batch refolded the current minute;
5. re-sum the UTC hours the refolded minutes fall in (`rollup`): queries read whole hours
   from ``hour_bucket`` and only the edge minutes from ``minute_bucket``. Step 4b adds what
   it adds to the minutes to their hours too, in the same statement.

Every step is set-based: a batch costs the same few statements whatever the number of
stations and lines it touches (`store`).

It returns what it did (`BatchResult`: applied, duplicates, late, skipped by reason), which
the consumer loop turns into the processor's metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from schemas.records import ProductionRecord, Record
from schemas.types import Kind, LineKey, StationKey
from services.efficiency import rollup, store
from services.efficiency.core import (
    DEFAULT_STARTUP_WINDOW_S,
    context_bounds,
    fold_station,
    tally_production,
)
from services.efficiency.core.timeline import stale_ms
from services.efficiency.core.types import to_ms
from services.runtime import batch_input
from services.runtime.consumer import Handler, Records
from services.runtime.handler import BatchResult

log = logging.getLogger(f"floorstream.{__name__}")

Refold = tuple[datetime, datetime]
"""The minutes of a station to fold again: ``[start, end)``, whole minutes."""
Span = tuple[datetime, datetime]  # the earliest and the latest ts of a batch's new events

_MINUTE = timedelta(minutes=1)
_Key = TypeVar("_Key", StationKey, LineKey)


def retaining(
    retention: timedelta,
    clock: Callable[[], datetime],
    future_tolerance: timedelta = batch_input.FUTURE_TOLERANCE,
) -> Handler:
    """`apply_batch` with the retention, future and lateness cut-offs (`batch_input.retaining`)."""
    return batch_input.retaining(apply_batch, retention, clock, future_tolerance)


def _floor(ts: datetime) -> datetime:
    ts = ts.astimezone(UTC)
    return ts.replace(second=0, microsecond=0)


def _ceil(ts: datetime) -> datetime:
    floor = _floor(ts)
    return floor if floor == ts else floor + _MINUTE


def _merge(
    windows: dict[StationKey, Refold], key: StationKey, start: datetime, end: datetime
) -> None:
    if key in windows:
        old_start, old_end = windows[key]
        start, end = min(start, old_start), max(end, old_end)
    windows[key] = (start, end)


async def apply_batch(
    connection: Any,
    records: Records,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    late_before: datetime | None = None,
) -> BatchResult:
    """Steps 1–5 for one batch, on the batch's connection (inside its transaction)."""
    events, skipped = batch_input.read_events(records, not_before, not_after)  # 1
    reports, others = batch_input.split_production(events)
    stored = await store.insert_new_events(connection, events=others)  # 2
    new: list[Record] = [e for e in others if (e.factory, e.line, e.event_id) in stored]
    new += await store.merge_production(connection, reports=reports)
    late = sum(1 for e in new if late_before is not None and e.ts < late_before)
    result = BatchResult(
        applied=len(new), duplicates=len(events) - len(new), late=late, skipped=skipped
    )
    if not new:
        return result
    lines = {(e.factory, e.line) for e in new}
    await store.register_lines(connection, lines=lines)
    rules = await store.line_rules(connection, lines=lines)
    thresholds = {line: rule.small_stop_threshold_s for line, rule in rules.items()}
    silenced = await _silences(connection, new, rules, not_before)  # 2b
    windows, added = await _touched(connection, new, thresholds, silenced)  # 3
    await _refold(connection, windows, thresholds)  # 4
    await _add_production(connection, new, added, thresholds)  # 4b
    await rollup.refresh_hours(  # 5 (step 4b kept its own hours)
        connection, windows=[(*key, *span) for key, span in windows.items()]
    )
    return result


def _spans(
    events: Iterable[Record],
) -> tuple[dict[StationKey, Span], dict[StationKey, Span], dict[LineKey, Span]]:
    """Per station its machine and its production span, per line its order span."""
    machine: dict[StationKey, Span] = {}
    made: dict[StationKey, Span] = {}
    orders: dict[LineKey, Span] = {}
    for event in events:
        kind = event.kind
        if kind is Kind.PRODUCTION:
            _widen(made, (event.factory, event.line, event.station), event.ts)
        elif kind is Kind.MACHINE:
            _widen(machine, (event.factory, event.line, event.station), event.ts)
        elif kind is Kind.ORDER:
            _widen(orders, (event.factory, event.line), event.ts)
    return machine, made, orders


def _widen(spans: dict[_Key, Span], key: _Key, ts: datetime) -> None:
    span = spans.get(key)
    if span is None:
        spans[key] = (ts, ts)
    elif ts < span[0]:
        spans[key] = (ts, span[1])
    elif ts > span[1]:
        spans[key] = (span[0], ts)


async def _silences(
    connection: Any,
    events: list[Record],
    rules: dict[LineKey, store.LineRules],
    not_before: datetime | None,
) -> dict[StationKey, set[store.Silence]]:
    """Step 2b: the stations' silences that the new events change (`store.update_silences`),
    per station; the minutes they cover are folded again in step 4."""
    spans: dict[StationKey, Span] = {}
    for event in events:
        _widen(spans, (event.factory, event.line, event.station), event.ts)
    stale = {key: stale_ms(rules.get(key[:2], store.DEFAULT_RULES).stale_after_s) for key in spans}
    return await store.update_silences(
        connection, spans=spans, stale_ms=stale, not_before=not_before
    )


async def _touched(
    connection: Any,
    events: list[Record],
    thresholds: dict[LineKey, float],
    silenced: dict[StationKey, set[store.Silence]],
) -> tuple[dict[StationKey, Refold], dict[StationKey, Refold]]:
    """Step 3: per station, the whole minutes the new events can change: ``(refold, added)``,
    the windows to fold again and, apart, those of stations with nothing but new production.

    A station's earliest machine change reaches back to the change before it, and its latest
    forward to the change after it; every change between lies inside that. The same holds for
    a line's order events, so two statements serve the whole batch. A station with new
    production and nothing else (no machine change of its own, no order event on its line)
    keeps its changes and orders, so its production is added to its buckets (step 4b) rather
    than its minutes folded again from all their production."""
    machine, made, orders = _spans(events)
    windows: dict[StationKey, Refold] = {}

    def margin(line: LineKey) -> timedelta:
        return timedelta(seconds=max(thresholds.get(line, 0.0), DEFAULT_STARTUP_WINDOW_S))

    def states_margin(line: LineKey) -> timedelta:
        return timedelta(seconds=thresholds.get(line, 0.0))

    around = await store.machine_neighbours(connection, spans=machine)
    for key, (first, last) in machine.items():
        before, after, setup, repeats = around[key]
        if repeats and after is not None and to_ms(after) > to_ms(last):
            # Each new change repeats the state in force between two known changes (a late
            # heartbeat): no interval changes. Unless the change after shares the last new
            # one's millisecond, where the order of the changes at that instant decides.
            continue
        # Startup scrap looks back from production to the end of a setup; where no setup is
        # near, or the new changes only repeat the state in force (a heartbeat, which makes
        # the time up to it known), no setup's end moves, and only the states change: their
        # stops are classified within the small-stop threshold of their ends.
        wide = margin(key[:2]) if setup and not repeats else states_margin(key[:2])
        _merge(
            windows, key, _floor((before or first) - wide), _ceil((after or last) + wide) + _MINUTE
        )
    reach = await store.order_reach(connection, latest={k: last for k, (_, last) in orders.items()})
    for line, (first, last) in orders.items():
        bound = reach[line]
        end = max(bound.next_order or bound.last_production or last, last)
        wide = margin(line)
        for station in bound.stations:
            _merge(windows, (*line, station), _floor(first - wide), _ceil(end + wide) + _MINUTE)
    for key, changed in silenced.items():  # a stop's length looks across a silence's ends
        wide = states_margin(key[:2])  # a silence is of the states, not of the production
        for low, high in changed:
            _merge(windows, key, _floor(low - wide), _ceil(high + wide) + _MINUTE)
    added: dict[StationKey, Refold] = {}
    for key, (first, last) in made.items():
        if key in windows:
            _merge(windows, key, _floor(first), _floor(last) + _MINUTE)
        else:
            added[key] = (_floor(first), _floor(last) + _MINUTE)
    return windows, added


def _fold_windows(
    windows: Iterable[tuple[StationKey, Refold]], thresholds: dict[LineKey, float]
) -> tuple[list[store.FoldWindow], dict[LineKey, Span]]:
    """The windows with the context they need (`context_bounds`), and per line the span of
    its windows' contexts, whose orders they need."""
    chosen = []
    spans: dict[LineKey, Span] = {}
    for (factory, line, station), (start, end) in windows:
        threshold = thresholds.get((factory, line), 0.0)
        since, until = context_bounds(start, end, small_stop_threshold_s=threshold)
        chosen.append(store.FoldWindow(factory, line, station, start, end, since, until))
        span = spans.get((factory, line))
        spans[(factory, line)] = (
            (since, until) if span is None else (min(since, span[0]), max(until, span[1]))
        )
    return chosen, spans


PIECE: Final = timedelta(days=1)
"""The longest piece of a window folded at once: a station's window can span as long as it
stayed in one state (a change folds back to the one before), months, so it is folded piece by
piece, each with its own context (`context_bounds`), exact as the whole."""

ROUND_MINUTES: Final = 10_000
"""The most minutes folded and written in one round of step 4: memory stays bounded whatever
the windows' length (a day of 7 stations, or 7 days of one)."""


def _pieces(windows: dict[StationKey, Refold]) -> Iterator[list[tuple[StationKey, Refold]]]:
    """The windows cut into pieces of at most `PIECE`, grouped into rounds of at most
    `ROUND_MINUTES` minutes (a round has at least one piece)."""
    round_: list[tuple[StationKey, Refold]] = []
    minutes = 0
    for key, (start, end) in windows.items():
        low = start
        while low < end:
            high = min(low + PIECE, end)
            size = (high - low) // _MINUTE
            if round_ and minutes + size > ROUND_MINUTES:
                yield round_
                round_, minutes = [], 0
            round_.append((key, (low, high)))
            minutes += size
            low = high
    if round_:
        yield round_


async def _refold(
    connection: Any, windows: dict[StationKey, Refold], thresholds: dict[LineKey, float]
) -> None:
    """Step 4: fold every touched station over its window; replace all their buckets. In
    rounds of bounded size (`_pieces`), a few statements each."""
    for pieces in _pieces(windows):
        chosen, spans = _fold_windows(pieces, thresholds)
        inputs = await store.station_inputs(connection, windows=chosen)
        quiet = await store.window_silences(connection, windows=chosen)
        orders = await store.order_events_in_context(connection, spans=spans)
        replaced = [
            store.Replacement(
                w.factory,
                w.line,
                w.station,
                w.start,
                w.end,
                fold_station(
                    changes,
                    made,
                    orders[(w.factory, w.line)],
                    window_start=w.start,
                    window_end=w.end,
                    small_stop_threshold_s=thresholds.get((w.factory, w.line), 0.0),
                    silent=silent,
                ),
            )
            for w, (changes, made), silent in zip(chosen, inputs, quiet, strict=True)
        ]
        await store.replace_buckets(connection, replaced=replaced)
        del replaced, inputs  # before the next round's


async def _add_production(
    connection: Any,
    events: list[Record],
    added: dict[StationKey, Refold],
    thresholds: dict[LineKey, float],
) -> None:
    """Step 4b: add the new production of the stations that had nothing else new to their
    buckets (`tally_production`), from the changes and orders around it, as a fold would
    count it; the minutes' other production is not read again."""
    if not added:
        return
    chosen, spans = _fold_windows(added.items(), thresholds)
    inputs = await store.station_inputs(connection, windows=chosen, production=False)
    orders = await store.order_events_in_context(connection, spans=spans)
    made: dict[StationKey, list[ProductionRecord]] = {key: [] for key in added}
    for event in events:
        if event.kind is Kind.PRODUCTION:
            found = made.get((event.factory, event.line, event.station))
            if found is not None:
                found.append(event)
    additions = [
        store.Addition(
            w.factory,
            w.line,
            w.station,
            tally_production(
                changes,
                made[(w.factory, w.line, w.station)],
                orders[(w.factory, w.line)],
            ),
        )
        for w, (changes, _) in zip(chosen, inputs, strict=True)
    ]
    await store.add_production(connection, added=additions)
