"""Line settings and the paged list of lines, with a real PostgreSQL.

The session's database is shared, so each test uses a factory name of its own.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.stack.embedded.stack import Endpoints
from tests.integration.api.support import AUTH

pytestmark = pytest.mark.integration

SETTINGS: dict[str, Any] = {
    "name": "Press line 1",
    "timezone": "Asia/Shanghai",
    "ideal_cycle_time_s": 1.5,
    "constraint_station": "press-2",
    "shifts": [
        {
            "name": "A",
            "start": "06:00",
            "end": "14:00",
            "breaks": [{"start": "09:00", "end": "09:15"}],
        },
        {"name": "N", "start": "22:00", "end": "06:00", "breaks": []},
    ],
    "small_stop_threshold_s": 120,
}


def a_factory() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def url(factory: str, line: str) -> str:
    return f"/api/v1/factories/{factory}/lines/{line}"


async def every_line(client: httpx.AsyncClient, limit: int) -> list[list[dict[str, Any]]]:
    """All pages of GET /lines, walked through their cursors."""
    pages: list[list[dict[str, Any]]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        response = await client.get("/api/v1/lines", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        if body["next"] is None:
            return pages
        params["after"] = body["next"]


async def test_put_creates_then_replaces_and_get_returns_it(client: httpx.AsyncClient) -> None:
    factory = a_factory()
    created = await client.put(url(factory, "l1"), json=SETTINGS, headers=AUTH)
    assert created.status_code == 200, created.text
    body = created.json()
    assert (body["factory"], body["line"]) == (factory, "l1")
    assert body["settings"] == {
        **SETTINGS,
        "stale_after_s": 300,
        "stop_alert_after_s": 600,
        "slow_below": 0.8,
        "materials": {},
    }
    assert body["updated_at"]

    replacement = {"name": "Press line 1b", "shifts": []}
    replaced = await client.put(url(factory, "l1"), json=replacement, headers=AUTH)
    assert replaced.status_code == 200, replaced.text
    settings = replaced.json()["settings"]
    assert settings["name"] == "Press line 1b"
    # PUT replaces the whole object: what was left out is back to its default.
    assert settings["timezone"] == "UTC"
    assert settings["ideal_cycle_time_s"] is None
    assert settings["constraint_station"] is None
    assert settings["small_stop_threshold_s"] == 0
    assert replaced.json()["updated_at"] >= body["updated_at"]

    fetched = await client.get(url(factory, "l1"), headers=AUTH)
    assert fetched.status_code == 200
    assert fetched.json() == replaced.json()

    listed = [item for page in await every_line(client, 500) for item in page]
    assert {"factory": factory, "line": "l1", "name": "Press line 1b"} in listed


async def test_a_line_known_only_from_events_has_null_settings(
    client: httpx.AsyncClient, stack: Endpoints
) -> None:
    factory = a_factory()
    connection = await asyncpg.connect(stack.database_url)
    try:
        await connection.execute("INSERT INTO line (factory, line) VALUES ($1, 'l1')", factory)
    finally:
        await connection.close()
    response = await client.get(url(factory, "l1"), headers=AUTH)
    assert response.status_code == 200
    assert response.json()["settings"] is None
    listed = [item for page in await every_line(client, 500) for item in page]
    assert {"factory": factory, "line": "l1", "name": None} in listed


async def test_pages_of_100_walk_250_lines_without_duplicates_or_gaps(
    client: httpx.AsyncClient,
) -> None:
    factory = a_factory()
    lines = {f"l{index:03d}" for index in range(250)}
    for line in lines:
        response = await client.put(url(factory, line), json={"name": line}, headers=AUTH)
        assert response.status_code == 200

    pages = await every_line(client, 100)
    assert all(len(page) == 100 for page in pages[:-1]) and 0 < len(pages[-1]) <= 100
    keys = [(item["factory"], item["line"]) for page in pages for item in page]
    assert len(keys) == len(set(keys))
    assert sorted(line for f, line in keys if f == factory) == sorted(lines)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"after": "not a cursor!"}, "after"),
        ({"after": "%%%"}, "after"),
        ({"after": base64.urlsafe_b64encode(b"Bad/line").decode().rstrip("=")}, "after"),
        ({"after": base64.urlsafe_b64encode(b"no-slash").decode().rstrip("=")}, "after"),
        ({"after": "Zg"}, "after"),
    ],
)
async def test_a_bad_page_parameter_is_a_422_naming_it(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/api/v1/lines", params=params, headers=AUTH)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(f"{field}:")


@pytest.mark.parametrize(
    ("factory", "line", "field"),
    [
        ("Factory", "l1", "factory"),
        ("f" * 65, "l1", "factory"),
        ("f1", "line.1", "line"),
        ("f1", "l" * 65, "line"),
        ("f%20", "l1", "factory"),
    ],
)
async def test_a_bad_path_segment_is_a_422_naming_it(
    client: httpx.AsyncClient, factory: str, line: str, field: str
) -> None:
    for method in ("GET", "PUT"):
        response = await client.request(method, url(factory, line), json=SETTINGS, headers=AUTH)
        assert response.status_code == 422, (method, response.text)
        assert response.json()["error"]["message"].startswith(f"{field}:")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        (
            {"shifts": [{"name": "A", "start": "06:00", "end": "14:00",
                         "breaks": [{"start": "15:00", "end": "15:15"}]}]},
            "shifts.0",
        ),
        ({"small_stop_treshold_s": 30}, "small_stop_treshold_s"),
        ({"small_stop_threshold_s": -1}, "small_stop_threshold_s"),
        ({"name": ""}, "name"),
    ],
)  # fmt: skip
async def test_invalid_settings_are_a_422_naming_the_field(
    client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    factory = a_factory()
    response = await client.put(url(factory, "l1"), json={**SETTINGS, **change}, headers=AUTH)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(f"{field}:"), error["message"]
    assert (await client.get(url(factory, "l1"), headers=AUTH)).status_code == 404


async def test_a_body_over_64_kib_is_a_413(client: httpx.AsyncClient) -> None:
    factory = a_factory()
    big = {**SETTINGS, "name": "x" * 70_000}
    response = await client.put(url(factory, "l1"), json=big, headers=AUTH)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"

    async def chunked() -> Any:
        for _ in range(70):
            yield b" " * 1024  # JSON whitespace, sent without a Content-Length

    response = await client.put(
        url(factory, "l1"),
        content=chunked(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert (await client.get(url(factory, "l1"), headers=AUTH)).status_code == 404


async def test_every_call_needs_the_token(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/lines"),
        ("GET", url("f1", "l1")),
        ("PUT", url("f1", "l1")),
    ]:
        response = await client.request(method, path, json=SETTINGS)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "unauthorized"


async def test_an_unknown_line_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get(url(a_factory(), "l1"), headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_the_openapi_documents_the_settings_calls(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    item = spec["paths"]["/api/v1/factories/{factory}/lines/{line}"]
    put = item["put"]
    assert put["summary"] and item["get"]["summary"]
    assert "past and future figures alike" in put["description"]
    examples = put["requestBody"]["content"]["application/json"]["examples"]
    assert next(iter(examples.values()))["value"]["timezone"] == "Asia/Shanghai"
    assert {"401", "413", "422"} <= put["responses"].keys()
    assert "404" in item["get"]["responses"]
