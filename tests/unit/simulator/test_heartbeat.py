"""A station reports production only when it made parts, and a station that makes nothing
repeats its machine state every minute, so that the boards never take it for a silent one
(issue 14, item 8)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from services.simulator import params
from services.simulator.heartbeat import with_heartbeats
from services.simulator.layout import line_profile
from services.simulator.model import SimulationConfig, simulate
from services.simulator.types import Draft
from tests.unit.simulator.conftest import DAY_START
from tests.unit.simulator.floor import Record, records

EVERY = timedelta(seconds=params.HEARTBEAT_S)
MS = timedelta(milliseconds=1)  # `ts` keeps whole milliseconds
STALE_AFTER = timedelta(seconds=300)  # the line settings' default `stale_after_s`

Station = tuple[str, str, str]


def _station(record: Record) -> Station:
    return record.factory, record.line, record.station


def _heard(day: list[Record]) -> dict[Station, list[Record]]:
    """Per station, its machine and production events: what tells that it is there."""
    found: dict[Station, list[Record]] = defaultdict(list)
    for record in day:
        if record.kind in {"machine", "production"}:
            found[_station(record)].append(record)
    return found


# -- the pure rule ---------------------------------------------------------------------------


def _draft(t: float, station: str, kind: str = "machine", state: str = "down") -> Draft:
    body = {"state": state, "reason": "jam"} if kind == "machine" else {"good": 1, "scrap": 0}
    return Draft(t, station, kind, body)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("drafts", "beats"),
    [
        # Silent for 150 s: a repeat at 60 s and at 120 s, before the event at 150 s.
        ([_draft(0, "a"), _draft(150, "b")], [(60, "a"), (120, "a")]),
        # Its own production counts as being heard: the next beat is a minute after it.
        (
            [_draft(0, "a"), _draft(50, "a", "production"), _draft(200, "b")],
            [(110, "a"), (170, "a")],
        ),
        # People and material events are not the machine's own: the beat is not put off.
        ([_draft(0, "a"), _draft(30, "a", "people"), _draft(90, "a", "material")], [(60, "a")]),
        # Nothing to repeat before a station's first machine event.
        ([_draft(0, "a", "production"), _draft(200, "a", "production")], []),
        # Due at the same instant: the station first heard of goes first.
        ([_draft(0, "b"), _draft(0, "a"), _draft(61, "c")], [(60, "b"), (60, "a")]),
        # An event at the instant a beat is due makes it unneeded.
        ([_draft(0, "a"), _draft(60, "a", "production"), _draft(100, "b")], []),
    ],
)
def test_a_station_silent_for_a_minute_repeats_its_machine_state(
    drafts: list[Draft], beats: list[tuple[float, str]]
) -> None:
    out = list(with_heartbeats(drafts, 60.0))
    added = [d for d in out if d not in drafts]
    assert [(d.t, d.station) for d in added] == beats
    assert all(d.kind == "machine" and d.body == {"state": "down", "reason": "jam"} for d in added)
    assert [d for d in out if d in drafts] == drafts  # the events themselves, unchanged
    assert [d.t for d in out] == sorted(d.t for d in out)


def test_a_repeat_is_a_copy_of_the_state_not_the_same_object() -> None:
    first = _draft(0, "a")
    beat = next(d for d in with_heartbeats([first, _draft(61, "b")], 60.0) if d.t == 60)
    assert beat.body == first.body and beat.body is not first.body


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        list(with_heartbeats([_draft(0, "a")], 0.0))


# -- the simulated floor ---------------------------------------------------------------------


def test_the_heartbeat_is_well_within_the_boards_stale_limit() -> None:
    assert EVERY <= STALE_AFTER / 5


def test_no_empty_production_report_all_day(day: list[Record]) -> None:
    made = [r.payload for r in day if r.kind == "production"]
    assert made
    assert all(p["good"] + p["scrap"] > 0 for p in made)


def test_a_night_is_only_heartbeats_of_the_planned_stop() -> None:
    """22:00 to 06:00 at the default rate: not one production report (there were 20 a second),
    and each station repeats its planned stop every minute."""
    start = DAY_START + timedelta(hours=22)
    end = start + timedelta(hours=8)
    night = records(simulate(SimulationConfig(), start, end))
    assert {r.kind for r in night} == {"machine"}
    assert {(r.payload["state"], r.payload["reason"]) for r in night} == {
        ("planned_stop", "no_shift")
    }
    stations = sum(len(line_profile("f1", line).stations) for line in ("l1", "l2"))
    assert len(night) == stations * 8 * 60  # one at 22:00, then one a minute
    for heard in _heard(night).values():
        assert heard[0].time == start
        assert all(b.time - a.time == EVERY for a, b in zip(heard, heard[1:], strict=False))
        assert len({r.payload["event_id"] for r in heard}) == len(heard)  # each its own id


def test_every_station_is_heard_at_least_every_minute_all_day(day: list[Record]) -> None:
    """Day and night, running or stopped: never more than a minute without a machine or
    production event, so no station ever looks stale."""
    end = DAY_START + timedelta(days=1)
    for station, heard in _heard(day).items():
        assert heard[0].time == DAY_START, station
        gaps = [b.time - a.time for a, b in zip(heard, heard[1:], strict=False)]
        assert max(gaps) <= EVERY + MS, station
        assert end - heard[-1].time <= EVERY + MS, station


def test_a_repeat_is_the_state_in_force_a_minute_after_the_station_was_last_heard(
    day: list[Record],
) -> None:
    repeats_while = set()
    for station, heard in _heard(day).items():
        state: tuple[str, str | None] | None = None
        previous: datetime | None = None
        for record in heard:
            if record.kind == "machine":
                now = (record.payload["state"], record.payload.get("reason"))
                if now == state:  # not a change: a heartbeat
                    assert previous is not None
                    assert abs(record.time - previous - EVERY) <= MS, (station, record.payload)
                    repeats_while.add(now[0])
                state = now
            previous = record.time
    # Night and breaks, and the stops inside the shifts: setups, breakdowns and their effects.
    assert {"planned_stop", "setup", "down", "blocked", "starved"} <= repeats_while
