"""GET .../lines/{line}/downtime and .../timeline with a real PostgreSQL.

Machine events are stored as the efficiency processor stores them (`support.store_station`);
each test uses a factory of its own, as the session's database is shared. "Now" is pinned
at `NOW` (2026-11-03T00:00Z).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.api.routes.downtime import MAX_INTERVALS
from tests.integration.api.support import (
    AUTH,
    BAD_RANGES,
    NOW,
    QUIET_S,
    a_factory,
    put_line,
    store_station,
)
from tests.unit.efficiency.builders import at, machine, produced

pytestmark = pytest.mark.integration

RANGE = {"start": "2026-11-02T10:00:00Z", "end": "2026-11-02T12:00:00Z"}
CALLS = ["downtime", "timeline"]


def url(factory: str, line: str, call: str) -> str:
    return f"/api/v1/factories/{factory}/lines/{line}/{call}"


async def get(
    api: httpx.AsyncClient, factory: str, line: str, call: str, **params: str
) -> dict[str, Any]:
    response = await api.get(url(factory, line, call), params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def day(hhmm: str) -> datetime:
    return at(f"2026-11-02 {hhmm}")


async def shift_of_two_stations(api: httpx.AsyncClient, db: asyncpg.Connection) -> str:
    """Two stations over 10:00–12:00 UTC; s1 down since 09:00, s2 down past 12:00."""
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    window = (day("08:00"), day("14:00"))
    s1 = [
        machine(day("09:00"), "down", "jam"),  # before the range: counts from 10:00
        machine(day("10:30"), "running"),
        machine(day("11:00"), "setup"),
        machine(day("11:20"), "running"),
        machine(day("11:40"), "planned_stop", "lunch"),  # not a stop
        machine(day("11:50"), "idle"),  # still idle: until min(end, now) = 12:00
    ]
    s2 = [
        machine(day("10:15"), "starved", "no material"),
        machine(day("10:25"), "running"),
        machine(day("11:30"), "down", "jam"),
        machine(day("13:00"), "running"),  # after the range
    ]
    await store_station(db, factory, "l1", "s1", changes=s1, window=window)
    await store_station(db, factory, "l1", "s2", changes=s2, window=window)
    return factory


async def test_stops_are_ranked_by_reason_and_by_station(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = await shift_of_two_stations(api, db)
    body = await get(api, factory, "l1", "downtime", **RANGE)
    assert (body["factory"], body["line"], body["start"], body["end"]) == (
        factory,
        "l1",
        RANGE["start"],
        RANGE["end"],
    )
    assert (body["total_stop_s"], body["stop_count"]) == (6000, 5)
    assert body["by_reason"] == [
        {"reason": "jam", "state": "down", "duration_s": 3600, "count": 2, "share": 0.6},
        {"reason": "setup", "state": "setup", "duration_s": 1200, "count": 1, "share": 0.2},
        {"reason": "idle", "state": "idle", "duration_s": 600, "count": 1, "share": 0.1},
        {"reason": "no material", "state": "starved", "duration_s": 600, "count": 1, "share": 0.1},
    ]
    assert body["by_station"] == [
        {"station": "s1", "duration_s": 3600, "count": 3, "share": 0.6},
        {"station": "s2", "duration_s": 2400, "count": 2, "share": 0.4},
    ]
    # A range inside one stop: clipped at both ends, counted once.
    inside = await get(
        api, factory, "l1", "downtime", start="2026-11-02T10:05:00Z", end="2026-11-02T10:20:00Z"
    )
    assert (inside["total_stop_s"], inside["stop_count"]) == (900 + 300, 2)
    # Before the first event nothing is known, so nothing is a stop.
    early = await get(
        api, factory, "l1", "downtime", start="2026-11-01T00:00:00Z", end="2026-11-02T08:00:00Z"
    )
    assert (early["total_stop_s"], early["stop_count"], early["by_reason"]) == (0, 0, [])


async def test_the_timeline_of_each_station(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    factory = await shift_of_two_stations(api, db)
    body = await get(api, factory, "l1", "timeline", **RANGE)
    assert (body["factory"], body["line"], body["start"]) == (factory, "l1", RANGE["start"])

    def spans(station: dict[str, Any]) -> list[tuple[str, str, str, str | None]]:
        return [
            (i["start"][11:16], i["end"][11:16], i["state"], i["reason"])
            for i in station["intervals"]
        ]

    first, second = body["stations"]
    assert first["station"] == "s1"
    assert spans(first) == [
        ("10:00", "10:30", "down", "jam"),
        ("10:30", "11:00", "running", None),
        ("11:00", "11:20", "setup", None),
        ("11:20", "11:40", "running", None),
        ("11:40", "11:50", "planned_stop", "lunch"),
        ("11:50", "12:00", "idle", None),
    ]
    assert second["station"] == "s2"
    assert spans(second) == [
        ("10:15", "10:25", "starved", "no material"),
        ("10:25", "11:30", "running", None),
        ("11:30", "12:00", "down", "jam"),
    ]
    assert first["intervals"][0]["start"] == "2026-11-02T10:00:00Z"


async def test_the_last_state_lasts_until_now(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    changes = [machine(NOW - timedelta(minutes=30), "down", "motor")]
    await store_station(
        db, factory, "l1", "s1", changes=changes, window=(NOW - timedelta(hours=1), NOW)
    )
    around = {"start": "2026-11-02T23:00:00Z", "end": "2026-11-03T01:00:00Z"}
    timeline = await get(api, factory, "l1", "timeline", **around)
    assert timeline["stations"][0]["intervals"] == [
        {
            "start": "2026-11-02T23:30:00Z",
            "end": "2026-11-03T00:00:00Z",
            "state": "down",
            "reason": "motor",
        }
    ]
    downtime = await get(api, factory, "l1", "downtime", **around)
    assert (downtime["total_stop_s"], downtime["by_reason"][0]["reason"]) == (1800, "motor")
    # A range wholly after now: nothing yet.
    later = {"start": "2026-11-03T01:00:00Z", "end": "2026-11-03T02:00:00Z"}
    assert (await get(api, factory, "l1", "timeline", **later))["stations"] == []


async def test_stops_agree_with_the_efficiency_downtime(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """One station, no shifts, no small stops: the stops are the line's downtime, with the
    OEE core's rule for changes at one millisecond (the last by state, reason, id)."""
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    base = day("10:00")
    changes = [
        machine(base + timedelta(seconds=12.345), "running"),
        machine(base + timedelta(minutes=3, seconds=1.5), "down", "b"),
        machine(base + timedelta(minutes=3, seconds=1.5), "down", "a"),  # "b" is in force
        machine(base + timedelta(minutes=7, seconds=0.25), "setup"),
        machine(base + timedelta(minutes=9), "running"),
        machine(base + timedelta(minutes=9), "idle"),  # "running" sorts last: in force
        machine(base + timedelta(minutes=20, seconds=59.999), "planned_stop"),
        machine(base + timedelta(minutes=25), "blocked"),
        machine(base + timedelta(minutes=40), "running"),
    ]
    await store_station(db, factory, "l1", "s1", changes=changes, window=(base, day("11:00")))
    window = {"start": "2026-11-02T10:00:00Z", "end": "2026-11-02T10:35:00Z"}
    stops = await get(api, factory, "l1", "downtime", **window)
    oee = await get(api, factory, "l1", "efficiency", **window)
    assert stops["total_stop_s"] == oee["downtime_s"] == 238.75 + 119.75 + 600
    assert [(r["reason"], r["duration_s"]) for r in stops["by_reason"]] == [
        ("blocked", 600),
        ("b", 238.75),
        ("setup", 119.75),
    ]
    timeline = await get(api, factory, "l1", "timeline", **window)
    assert [i["state"] for i in timeline["stations"][0]["intervals"]] == [
        "running", "down", "setup", "running", "planned_stop", "blocked",
    ]  # fmt: skip


async def test_downtime_counts_scheduled_time_as_the_efficiency_does(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Issue 14, 4: a stop that runs past the shift counts only its scheduled part, as the
    efficiency's downtime; the rest is reported apart, and so are small stops."""
    factory = a_factory()
    shift = {"name": "A", "start": "10:00", "end": "11:00", "breaks": []}
    await put_line(
        api, factory, "l1", name="Line 1", stale_after_s=QUIET_S, shifts=[shift],
        small_stop_threshold_s=60,
    )  # fmt: skip
    changes = [
        machine(day("10:00"), "running"),
        machine(day("10:10"), "down", "jam"),
        machine(day("10:10:30"), "running"),  # 30 s: a small stop
        machine(day("10:40"), "down", "motor"),  # until 12:00, past the shift's end
        machine(day("12:00"), "running"),
    ]
    await store_station(
        db, factory, "l1", "s1", changes=changes, window=(day("09:00"), day("13:00")),
        small_stop_threshold_s=60,
    )  # fmt: skip
    window = {"start": "2026-11-02T09:00:00Z", "end": "2026-11-02T13:00:00Z"}
    stops = await get(api, factory, "l1", "downtime", **window)
    oee = await get(api, factory, "l1", "efficiency", **window)
    assert stops["total_stop_s"] == oee["downtime_s"] == 20 * 60
    assert (stops["small_stop_s"], stops["small_stop_count"]) == (30, 1)
    assert stops["small_stop_s"] == oee["losses"]["small_stops_s"]
    assert stops["unscheduled_stop_s"] == 60 * 60
    assert [(r["reason"], r["duration_s"]) for r in stops["by_reason"]] == [("motor", 1200)]


async def test_a_silent_station_is_down_for_no_signal_in_every_call(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Issue 14, 3: running, then nothing heard from 18:00: from 18:05 (stale_after_s 300)
    the time is downtime ``no_signal``, in the efficiency, the Pareto and the timeline, up to
    now; a report at 19:00 ends it."""
    factory = a_factory()
    await put_line(api, factory, "l1", name="Line 1", stale_after_s=300)
    changes = [machine(day("17:00"), "running")]
    made = [produced(day("17:00") + timedelta(seconds=s), 1) for s in range(0, 3601, 60)]
    later = [produced(day("19:00"), 1)]
    await store_station(
        db, factory, "l1", "s1", changes=changes, production=made + later,
        window=(day("16:00"), day("20:00")),
    )  # fmt: skip
    window = {"start": "2026-11-02T17:00:00Z", "end": "2026-11-02T20:00:00Z"}
    oee = await get(api, factory, "l1", "efficiency", **window)
    stops = await get(api, factory, "l1", "downtime", **window)
    timeline = await get(api, factory, "l1", "timeline", **window)
    silent = 55 * 60 + 55 * 60  # 18:05–19:00, and 19:05–20:00 (now is later)
    assert oee["downtime_s"] == stops["total_stop_s"] == silent
    assert [(r["reason"], r["state"], r["count"]) for r in stops["by_reason"]] == [
        ("no_signal", "down", 2)
    ]
    assert [(i["start"][11:16], i["end"][11:16], i["reason"]) for i in
            timeline["stations"][0]["intervals"]] == [
        ("17:00", "18:05", None), ("18:05", "19:00", "no_signal"),
        ("19:00", "19:05", None), ("19:05", "20:00", "no_signal"),
    ]  # fmt: skip


async def test_a_heartbeat_repeating_the_state_continues_its_interval(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    await put_line(api, factory, "l1", name="Line 1")
    changes = [
        machine(day("10:00"), "down", "jam"),
        machine(day("10:04"), "down", "jam"),  # the station says it again: still one stop
        machine(day("10:08"), "running"),
        machine(day("10:10"), "running"),
    ]
    await store_station(
        db, factory, "l1", "s1", changes=changes, window=(day("09:00"), day("11:00"))
    )
    window = {"start": "2026-11-02T10:00:00Z", "end": "2026-11-02T10:10:00Z"}
    stops = await get(api, factory, "l1", "downtime", **window)
    assert [(r["reason"], r["duration_s"], r["count"]) for r in stops["by_reason"]] == [
        ("jam", 480, 1)
    ]
    timeline = await get(api, factory, "l1", "timeline", **window)
    assert [(i["start"][11:16], i["end"][11:16]) for i in timeline["stations"][0]["intervals"]] == [
        ("10:00", "10:08"), ("10:08", "10:10"),
    ]  # fmt: skip


async def test_a_timeline_of_over_10000_intervals_is_refused(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    base = day("00:00")
    rows = [
        (
            factory,
            "l1",
            f"m-{i}",
            "s1",
            "machine",
            base + timedelta(seconds=i),
            "running" if i % 2 else "down",
        )
        for i in range(MAX_INTERVALS + 1)
    ]
    await db.copy_records_to_table(
        "station_event",
        records=rows,
        columns=["factory", "line", "event_id", "station", "kind", "ts", "state"],
    )
    fits = {"start": "2026-11-02T00:00:00Z", "end": "2026-11-02T02:46:40Z"}  # 10 000 s
    body = await get(api, factory, "l1", "timeline", **fits)
    assert len(body["stations"][0]["intervals"]) == MAX_INTERVALS
    over = {**fits, "end": "2026-11-02T02:46:41Z"}
    response = await api.get(url(factory, "l1", "timeline"), params=over, headers=AUTH)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("end:") and "shorter range" in message
    # The Pareto has no cap: 5 001 down seconds.
    stops = await get(api, factory, "l1", "downtime", **over)
    assert (stops["total_stop_s"], stops["stop_count"]) == (5001, 5001)


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(("params", "field"), BAD_RANGES)
async def test_a_bad_range_is_422_naming_the_field(
    api: httpx.AsyncClient, call: str, params: dict[str, str], field: str
) -> None:
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    response = await api.get(url(factory, "l1", call), params=params, headers=AUTH)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(f"{field}:"), error


@pytest.mark.parametrize("call", CALLS)
async def test_an_unknown_line_is_404_and_a_token_is_needed(
    api: httpx.AsyncClient, call: str
) -> None:
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    for where in (url(factory, "nope", call), url(a_factory(), "l1", call)):
        response = await api.get(where, params=RANGE, headers=AUTH)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    anonymous = await api.get(url(factory, "l1", call), params=RANGE)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    bad_name = await api.get(url(factory, "L 1", call), params=RANGE, headers=AUTH)
    assert bad_name.status_code == 422
    assert bad_name.json()["error"]["message"].startswith("line:")
    empty = await get(api, factory, "l1", call, **RANGE)
    assert empty.get("stations", []) == [] and empty.get("stop_count", 0) == 0


async def test_the_openapi_documents_both_calls(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    for call in CALLS:
        operation = spec["paths"][f"/api/v1/factories/{{factory}}/lines/{{line}}/{call}"]["get"]
        assert operation["summary"] and "no_signal" in operation["description"]
        assert {"200", "401", "404", "422"} <= set(operation["responses"])
    schemas = spec["components"]["schemas"]
    assert schemas["LineDowntime"]["examples"][0]["by_reason"][0]["reason"] == "jam"
    assert schemas["LineTimeline"]["examples"][0]["stations"][0]["station"] == "press-2"
