"""GET .../lines/{line}/efficiency with a real PostgreSQL.

Buckets are written as the processor writes them: events folded by the core's `fold_station`
(``open_until=None``) into ``minute_bucket``, the events themselves into ``station_event``.
The session's database is shared, so each test uses a factory name of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.efficiency import rollup
from tests.integration.api.support import (
    AUTH,
    NOW,
    QUIET_S,
    a_factory,
    put_line,
    store_station,
)
from tests.unit.efficiency.builders import SHIFT_A, at, contract_shift, machine, produced

pytestmark = pytest.mark.integration

CONTRACT_LINE = {"name": "Press line 1", "timezone": "Asia/Shanghai", "ideal_cycle_time_s": 1.0}


def url(factory: str, line: str) -> str:
    return f"/api/v1/factories/{factory}/lines/{line}/efficiency"


async def get(api: httpx.AsyncClient, factory: str, line: str, **params: str) -> dict[str, Any]:
    response = await api.get(url(factory, line), params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def contract_day() -> dict[str, Any]:
    """The contract's example shift as a station's events (see the core's unit test)."""
    changes, production = contract_shift()
    window = (at("2026-11-01 16:00"), at("2026-11-02 16:00"))  # the local day, in UTC
    return {"changes": changes, "production": production, "window": window}


DAY = {"start": "2026-11-02T00:00:00+08:00", "end": "2026-11-03T00:00:00+08:00"}


async def contract_line(api: httpx.AsyncClient, db: asyncpg.Connection) -> str:
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, **CONTRACT_LINE, shifts=[SHIFT_A])
    await store_station(db, factory, "l1", "press-2", **contract_day())
    return factory


FIGURES = [
    "availability", "performance", "quality", "oee", "planned_time_s", "run_time_s",
    "downtime_s", "total_count", "good_count", "scrap_count", "losses",
]  # fmt: skip


async def test_the_contract_example(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    factory = await contract_line(api, db)
    body = await get(api, factory, "l1", **DAY)
    assert body == {
        "factory": factory,
        "line": "l1",
        "start": "2026-11-02T00:00:00+08:00",
        "end": "2026-11-03T00:00:00+08:00",
        "station": "press-2",
        "availability": 0.8881,
        "performance": 0.8611,
        "quality": 0.978,
        "oee": 0.7479,
        "planned_time_s": 25200,
        "run_time_s": 22380,
        "downtime_s": 2820,
        "total_count": 19271,
        "good_count": 18848,
        "scrap_count": 423,
        "losses": {
            "breakdowns_s": 2820,
            "setup_s": 0,
            "small_stops_s": 0,
            "slow_cycles_s": 3109,
            "startup_rejects": 0,
            "production_rejects": 423,
        },
    }
    # The range cuts the figures: only 06:00–07:00 local, all running.
    hour = await get(
        api, factory, "l1", start="2026-11-02T06:00:00+08:00", end="2026-11-02T07:00:00+08:00"
    )
    assert (hour["planned_time_s"], hour["run_time_s"], hour["total_count"]) == (3600, 3600, 0)


async def test_granularity_cuts_the_range(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    factory = await contract_line(api, db)
    total = await get(api, factory, "l1", **DAY)

    hours = (await get(api, factory, "l1", **DAY, granularity="hour"))["buckets"]
    assert len(hours) == 24
    assert hours[0]["start"] == "2026-11-01T16:00:00Z"
    assert hours[0]["name"] is None
    for key in ("total_count", "good_count", "scrap_count", "planned_time_s", "run_time_s"):
        assert sum(h[key] for h in hours) == total[key]
    assert hours[7]["downtime_s"] == 47 * 60  # 07:00–08:00 local: down 07:12–07:59
    assert hours[13]["total_count"] == 19271  # produced at 13:00 local, in the 13:00 hour

    shifts = (await get(api, factory, "l1", **DAY, granularity="shift"))["buckets"]
    assert [(s["name"], s["start"], s["end"]) for s in shifts] == [
        ("A", "2026-11-01T22:00:00Z", "2026-11-02T06:00:00Z")
    ]
    assert {k: shifts[0][k] for k in FIGURES} == {k: total[k] for k in FIGURES}

    days = (await get(api, factory, "l1", **DAY, granularity="day"))["buckets"]
    assert len(days) == 1
    assert {k: days[0][k] for k in FIGURES} == {k: total[k] for k in FIGURES}


async def test_a_state_still_in_force_counts_up_to_now(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    # Down for 30 minutes, then running from 30 minutes before now, nothing since: the
    # processor stores the down minutes; the running ones are unknown to it, their end open.
    changes = [
        machine(NOW - timedelta(minutes=60), "down"),
        machine(NOW - timedelta(minutes=30), "running"),
    ]
    await store_station(
        db, factory, "l1", "s1", changes=changes, window=(NOW - timedelta(hours=2), NOW)
    )
    params = {"start": "2026-11-02T22:00:00Z", "end": "2026-11-03T01:00:00Z"}
    body = await get(api, factory, "l1", **params)
    assert body["station"] == "s1"
    assert (body["run_time_s"], body["downtime_s"], body["planned_time_s"]) == (1800, 1800, 3600)
    assert body["availability"] == 0.5
    assert "buckets" not in body

    # A station with one change and no buckets at all is still the line's station.
    await put_line(api, factory, "l2", stale_after_s=QUIET_S, name="Line 2")
    await store_station(
        db,
        factory,
        "l2",
        "s9",
        changes=[machine(NOW - timedelta(minutes=30), "running")],
        window=(NOW - timedelta(hours=1), NOW),
    )
    alone = await get(api, factory, "l2", **params, granularity="hour")
    assert (alone["station"], alone["run_time_s"], alone["availability"]) == ("s9", 1800, 1.0)
    assert [b["run_time_s"] for b in alone["buckets"]] == [0, 1800, 0]


async def test_a_range_after_now_answers_what_is_known_not_a_500(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A state in force now, asked for a range that starts after now (issue 14, 2): 200, with
    nothing counted yet, for the line and for the factory."""
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    changes = [machine(NOW - timedelta(minutes=30), "running")]
    await store_station(
        db, factory, "l1", "s1", changes=changes, window=(NOW - timedelta(hours=1), NOW)
    )
    later = {
        "start": f"{NOW + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
        "end": f"{NOW + timedelta(hours=3):%Y-%m-%dT%H:%M:%SZ}",
    }
    body = await get(api, factory, "l1", **later, granularity="hour")
    assert (body["run_time_s"], body["downtime_s"], body["good_count"]) == (0, 0, 0)
    assert [b["run_time_s"] for b in body["buckets"]] == [0, 0]
    around = {"start": f"{NOW - timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}", "end": later["end"]}
    assert (await get(api, factory, "l1", **around))["run_time_s"] == 1800  # up to now only
    for path in ("efficiency", "lines/l1/downtime", "lines/l1/timeline"):
        response = await api.get(f"/api/v1/factories/{factory}/{path}", params=later, headers=AUTH)
        assert response.status_code == 200, (path, response.text)


async def test_the_tail_stops_at_the_end_of_the_range(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    changes = [machine(NOW - timedelta(minutes=90, seconds=30), "idle")]
    await store_station(
        db, factory, "l1", "s1", changes=changes, window=(NOW - timedelta(hours=2), NOW)
    )
    body = await get(api, factory, "l1", start="2026-11-02T22:00:00Z", end="2026-11-02T23:00:00Z")
    assert (body["downtime_s"], body["run_time_s"]) == (1830, 0)


async def test_the_station_with_most_parts_unless_one_is_named(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    start, end = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    for station, good in (("a-few", 10), ("b-many", 500)):
        await store_station(
            db,
            factory,
            "l1",
            station,
            changes=[machine(start, "running"), machine(end, "idle")],
            production=[produced(start + timedelta(minutes=30), good)],
            window=(start, end),
        )
    params = {"start": "2026-11-02T00:00:00Z", "end": "2026-11-03T00:00:00Z"}
    chosen = await get(api, factory, "l1", **params)
    assert (chosen["station"], chosen["good_count"]) == ("b-many", 500)

    await put_line(
        api, factory, "l1", stale_after_s=QUIET_S, name="Line 1", constraint_station="a-few"
    )
    named = await get(api, factory, "l1", **params)
    assert (named["station"], named["good_count"]) == ("a-few", 10)

    # A line known but with no station yet: all zeros, station null.
    await put_line(api, factory, "empty", stale_after_s=QUIET_S, name="Empty")
    empty = await get(api, factory, "empty", **params, granularity="day")
    assert (empty["station"], empty["oee"], empty["planned_time_s"]) == (None, 0, 0)
    assert len(empty["buckets"]) == 1


async def test_a_month_of_minutes_sums_exactly(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1", ideal_cycle_time_s=0.5)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    minutes = 30 * 24 * 60
    records = [
        (factory, "l1", "s1", start + timedelta(minutes=i), 60_000, 0, 0, 0, 0, 0, 0, 0, 0, 0,
         100, 99, 1, 0, 0.0, 100, "{}")
        for i in range(minutes)
    ]  # fmt: skip
    await db.copy_records_to_table("minute_bucket", records=records)
    end = start + timedelta(minutes=minutes)
    await rollup.refresh_hours(db, windows=[(factory, "l1", "s1", start, end)])
    params = {"start": "2026-09-01T00:00:00Z", "end": "2026-10-01T00:00:00Z"}
    body = await get(api, factory, "l1", **params)  # speed is measured in bench/, not here
    assert body["total_count"] == 100 * minutes
    assert (body["availability"], body["performance"], body["quality"]) == (1.0, 0.8333, 0.99)
    days = await get(api, factory, "l1", **params, granularity="day")
    assert [d["total_count"] for d in days["buckets"]] == [144_000] * 30


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "yesterday", "end": "2026-11-03T00:00:00Z"}, "start"),
        ({"start": "2026-11-02T00:00:00", "end": "2026-11-03T00:00:00Z"}, "start"),
        ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-03T00:00:00"}, "end"),
        ({"start": "1700000000", "end": "2026-11-03T00:00:00Z"}, "start"),
        ({"end": "2026-11-03T00:00:00Z"}, "start"),
        ({"start": "2026-11-03T00:00:00Z", "end": "2026-11-02T00:00:00Z"}, "end"),
        ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-02T00:00:00Z"}, "end"),
        ({"start": "2025-09-01T00:00:00Z", "end": "2026-10-06T00:00:01Z"}, "end"),
        ({**DAY, "granularity": "week"}, "granularity"),
        ({"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T23:59:59-05:00"}, "start"),
    ],
)
async def test_a_bad_range_is_422_naming_the_field(
    api: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    response = await api.get(url(factory, "l1"), params=params, headers=AUTH)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(f"{field}:"), error


async def test_an_unencoded_plus_and_400_days_are_accepted(api: httpx.AsyncClient) -> None:
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    spaced = "?start=2026-11-02T00:00:00 08:00&end=2026-11-03T00:00:00%2B08:00"
    response = await api.get(url(factory, "l1") + spaced, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["start"] == "2026-11-02T00:00:00+08:00"
    longest = {"start": "2025-09-01T00:00:00Z", "end": "2026-10-06T00:00:00Z"}
    assert (await api.get(url(factory, "l1"), params=longest, headers=AUTH)).status_code == 200


async def test_an_unknown_line_is_404_and_a_token_is_needed(api: httpx.AsyncClient) -> None:
    response = await api.get(url(a_factory(), "nope"), params=DAY, headers=AUTH)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    anonymous = await api.get(url(a_factory(), "nope"), params=DAY)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"


async def test_the_openapi_example_is_the_contracts(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    call = spec["paths"]["/api/v1/factories/{factory}/lines/{line}/efficiency"]["get"]
    assert "constraint_station" in call["description"]
    example = spec["components"]["schemas"]["LineEfficiency"]["examples"][0]
    assert (example["oee"], example["planned_time_s"], example["station"]) == (
        0.7479,
        25200,
        "press-2",
    )


async def test_a_change_of_settings_applies_as_documented(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The schedule and the line's cycle time apply when read, so to past figures too; the
    small-stop threshold applies when computed, so not to minutes computed before."""
    factory = await contract_line(api, db)
    before = await get(api, factory, "l1", **DAY)
    assert (before["planned_time_s"], before["downtime_s"]) == (25200, 2820)

    # No breaks: 8 h scheduled − 15 min planned stop = 27 900 s planned; run 27 900 − 2 820.
    no_breaks = {**SHIFT_A, "breaks": []}
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, **CONTRACT_LINE, shifts=[no_breaks])
    after = await get(api, factory, "l1", **DAY)
    assert (after["planned_time_s"], after["run_time_s"]) == (27900, 25080)

    # Twice the cycle time: ideal time 19 271 × 2 = 38 542 s over a run of 22 380 s.
    await put_line(
        api, factory, "l1", **{**CONTRACT_LINE, "ideal_cycle_time_s": 2.0}, shifts=[SHIFT_A]
    )
    slower = await get(api, factory, "l1", **DAY)
    assert slower["performance"] == round(38542 / 22380, 4)

    # A threshold above the 47-minute breakdown: the stored minutes keep it as downtime.
    await put_line(
        api, factory, "l1", **{**CONTRACT_LINE, "small_stop_threshold_s": 3600}, shifts=[SHIFT_A]
    )
    kept = await get(api, factory, "l1", **DAY)
    assert (kept["downtime_s"], kept["losses"]["small_stops_s"]) == (2820, 0)
