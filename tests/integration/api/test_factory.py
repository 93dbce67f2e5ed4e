"""GET /api/v1/factories/{factory}/efficiency with a real PostgreSQL.

Rows are written as the processor writes them (`support.store_station`); each test uses a
factory of its own, as the session's database is shared.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.manager import FACTORY_EXAMPLE
from tests.integration.api.support import (
    AUTH,
    BAD_RANGES,
    QUIET_S,
    a_factory,
    put_line,
    store_station,
)
from tests.unit.efficiency.builders import SHIFT_A, at, contract_shift, machine, produced

pytestmark = pytest.mark.integration

DAY = {"start": "2026-11-02T00:00:00+08:00", "end": "2026-11-03T00:00:00+08:00"}
FIGURES = [
    "availability", "performance", "quality", "oee", "planned_time_s", "run_time_s",
    "downtime_s", "total_count", "good_count", "scrap_count", "losses",
]  # fmt: skip


def url(factory: str) -> str:
    return f"/api/v1/factories/{factory}/efficiency"


async def get(api: httpx.AsyncClient, factory: str, **params: str) -> dict[str, Any]:
    response = await api.get(url(factory), params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def two_lines(api: httpx.AsyncClient, db: asyncpg.Connection) -> str:
    """The example's factory: the contract's shift on "l1" (7 h planned, OEE .7479), and
    "l2" with 1 h planned, half of it down (OEE .4167); added in the other order."""
    factory = a_factory()
    begin = at("2026-11-02 01:00")
    await put_line(
        api, factory, "l2", stale_after_s=QUIET_S, name="Weld line 2", ideal_cycle_time_s=1.0
    )
    await store_station(
        db,
        factory,
        "l2",
        "weld-1",
        changes=[
            machine(begin, "running"),
            machine(begin + timedelta(minutes=30), "down"),
            machine(begin + timedelta(minutes=60), "planned_stop"),
        ],
        production=[produced(begin + timedelta(minutes=10), 1500)],
        window=(begin - timedelta(hours=1), begin + timedelta(hours=2)),
    )
    await put_line(
        api,
        factory,
        "l1",
        stale_after_s=QUIET_S,
        name="Press line 1",
        timezone="Asia/Shanghai",
        ideal_cycle_time_s=1.0,
        shifts=[SHIFT_A],
    )
    changes, production = contract_shift()
    window = (at("2026-11-01 16:00"), at("2026-11-02 16:00"))
    await store_station(
        db, factory, "l1", "press-2", changes=changes, production=production, window=window
    )
    return factory


async def test_the_whole_is_weighted_by_planned_time(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = await two_lines(api, db)
    body = await get(api, factory, **DAY)
    assert (body["factory"], body["start"], body["end"]) == (factory, DAY["start"], DAY["end"])
    lines = body["lines"]
    assert [(x["line"], x["name"], x["station"]) for x in lines] == [
        ("l1", "Press line 1", "press-2"),
        ("l2", "Weld line 2", "weld-1"),
    ]
    assert [(x["planned_time_s"], x["oee"]) for x in lines] == [(25200, 0.7479), (3600, 0.4167)]
    # 28 800 s planned; OEE = 20 348 good × 1 s / 28 800 s, not the mean of .7479 and .4167.
    assert body["oee"] == 0.7065
    assert body["oee"] != round((0.7479 + 0.4167) / 2, 4)
    assert (body["planned_time_s"], body["run_time_s"], body["good_count"]) == (28800, 24180, 20348)
    assert body["losses"]["slow_cycles_s"] == 3109 + 300
    # The documented example is this very answer.
    assert {k: body[k] for k in FIGURES} == {k: FACTORY_EXAMPLE[k] for k in FIGURES}
    for got, example in zip(lines, FACTORY_EXAMPLE["lines"], strict=True):
        assert {k: got[k] for k in FIGURES} == {k: example[k] for k in FIGURES}


async def test_a_line_without_settings_stays_out_of_the_whole_while_others_have_some(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Issue 14, 4: one `down` on a line never set up (all its time scheduled) would weigh a
    whole day of downtime against the others' shift; it is answered, marked, and left out."""
    factory = await two_lines(api, db)
    before = await get(api, factory, **DAY)
    await store_station(
        db, factory, "l3", "press", changes=[machine(at("2026-11-01 22:00"), "down", "jam")],
        window=(at("2026-11-01 21:00"), at("2026-11-02 08:00")),
    )  # fmt: skip
    await db.execute("INSERT INTO line (factory, line) VALUES ($1, 'l3')", factory)
    after = await get(api, factory, **DAY)
    l3 = after["lines"][-1]
    assert (l3["line"], l3["in_whole"], l3["availability"]) == ("l3", False, 0)
    assert l3["downtime_s"] > 0
    assert [x["in_whole"] for x in after["lines"][:2]] == [True, True]
    assert {k: after[k] for k in FIGURES} == {k: before[k] for k in FIGURES}


async def test_each_line_reads_as_the_line_call(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    factory = await two_lines(api, db)
    await put_line(api, factory, "l3", stale_after_s=QUIET_S, name="Not started")  # no station yet
    await db.execute("INSERT INTO line (factory, line) VALUES ($1, 'l0-seen')", factory)
    hour = {"start": "2026-11-02T01:00:00Z", "end": "2026-11-02T02:30:00Z"}
    for params in (DAY, hour):
        body = await get(api, factory, **params)
        assert [x["line"] for x in body["lines"]] == ["l0-seen", "l1", "l2", "l3"]
        for item in body["lines"]:
            response = await api.get(
                f"/api/v1/factories/{factory}/lines/{item['line']}/efficiency",
                params=params,
                headers=AUTH,
            )
            line = response.json()
            assert {k: item[k] for k in [*FIGURES, "station"]} == {
                k: line[k] for k in [*FIGURES, "station"]
            }
        seen, *_, empty = body["lines"]
        assert (seen["name"], seen["station"], seen["oee"]) == (None, None, 0)
        assert (empty["name"], empty["planned_time_s"]) == ("Not started", 0)
    # 01:00–02:30 UTC is 09:00–10:30 in Shanghai: a break, then l1 running; l2's hour.
    whole = await get(api, factory, **hour)
    assert whole["planned_time_s"] == sum(x["planned_time_s"] for x in whole["lines"])


async def test_a_factory_with_no_line_is_404_and_a_token_is_needed(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get(url(a_factory()), params=DAY, headers=AUTH)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    anonymous = await api.get(url(a_factory()), params=DAY)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("params", "field"), BAD_RANGES)
async def test_a_bad_range_is_422_naming_the_field(
    api: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    factory = a_factory()
    await put_line(api, factory, "l1", stale_after_s=QUIET_S, name="Line 1")
    response = await api.get(url(factory), params=params, headers=AUTH)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(f"{field}:"), error


async def test_a_bad_factory_name_is_422(api: httpx.AsyncClient) -> None:
    response = await api.get(url("Not_A_Name"), params=DAY, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith("factory:")


async def test_the_openapi_documents_the_call(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    call = spec["paths"]["/api/v1/factories/{factory}/efficiency"]["get"]
    assert "weighted by planned time" in call["description"]
    assert {"200", "401", "404", "422"} <= set(call["responses"])
    example = spec["components"]["schemas"]["FactoryEfficiency"]["examples"][0]
    assert (example["oee"], len(example["lines"])) == (0.7065, 2)
