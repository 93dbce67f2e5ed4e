"""Tenants are walled off (docs/design.md guarantee 5): a token of factory A gets nothing of B.

The walk is generic: every route of the app under ``/api/`` (each path of the OpenAPI
document, and the calls kept out of it, such as the live feed), every method, its path
parameters filled from factory B's resources and its required query parameters and body made
valid. A route added later is walked without a change here; a parameter the walker cannot
fill fails the test, so that it is taught, not skipped.

Then the data layer on its own: every data-access function of the API that names a factory
refuses one outside the caller's scope before it reads anything, whatever the route did.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from types import ModuleType
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from schemas.line_settings import LineSettings
from services.api import (
    figures,
    floor_status,
    intervals,
    store,
)
from services.api.scope import OutOfScope, Scope
from services.api.tokens import Role
from services.efficiency import read as efficiency_read
from services.floor import card_advance
from services.floor import read as floor_read
from services.stack.embedded.stack import Endpoints
from tests.integration.api.support import AUTH, NOW, a_factory
from tests.integration.api.tokens_support import (
    RANGE,
    SETTINGS,
    Seeded,
    a_token,
    bearer,
    client_of,
    seed_factory,
    started_app,
    status_of,
)

pytestmark = pytest.mark.integration

QUERY_VALUES = {"start": RANGE["start"], "end": RANGE["end"]}
"""Values for the required query parameters the walker knows."""


@pytest.fixture
async def app(stack: Endpoints) -> AsyncIterator[FastAPI]:
    async with started_app(stack.database_url) as started:
        yield started


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app) as client:
        yield client


@pytest.fixture
async def two_factories(db: asyncpg.Connection, http: httpx.AsyncClient) -> tuple[Seeded, Seeded]:
    return await seed_factory(db, http, a_factory()), await seed_factory(db, http, a_factory())


def api_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) of every API call, in the schema or not."""
    found = [
        (method, context.path, context.original_route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.path.startswith("/api/")
        for method in sorted(context.methods or ())
    ]
    documented = {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if path.startswith("/api/")
    }
    assert documented <= {(method, path) for method, path, _ in found}
    return found


def request_for(method: str, path: str, route: APIRoute, of: Seeded) -> tuple[str, object]:
    """The URL (and body) of a call on ``of``'s resources; fails on a parameter it cannot fill."""
    values = {"factory": of.factory, "line": of.line, "card_id": str(of.card_id)}
    url = path
    for param in route.dependant.path_params:
        assert param.name in values, f"{method} {path}: no value for path parameter {param.name}"
        url = url.replace("{" + param.name + "}", values[param.name])
    assert "{" not in url, f"{method} {path}: a path parameter is left: {url}"
    query = {}
    for param in _all_query_params(route):
        if param.field_info.is_required():
            assert param.name in QUERY_VALUES, f"{method} {path}: no value for ?{param.name}"
            query[param.name] = QUERY_VALUES[param.name]
    body = SETTINGS if route.body_field is not None else None
    return (f"{url}?{httpx.QueryParams(query)}" if query else url), body


def _all_query_params(route: APIRoute) -> list[Any]:
    found, stack = [], [route.dependant]
    while stack:
        dependant = stack.pop()
        found += dependant.query_params
        stack += dependant.dependencies
    return found


async def test_every_call_of_a_token_of_a_on_the_resources_of_b_is_403_or_404(
    app: FastAPI, db: asyncpg.Connection, two_factories: tuple[Seeded, Seeded]
) -> None:
    a, b = two_factories
    routes = api_routes(app)
    assert len(routes) >= 12
    refused: list[str] = []
    for role in (Role.MANAGER, Role.INTEGRATOR, Role.BOARD):
        token = await a_token(db, role, a.factory)
        for method, path, route in routes:
            url, body = request_for(method, path, route, b)
            if "{" in path or route.dependant.path_params:
                status = await status_of(app, method, url, bearer(token), body)
                if status not in (403, 404):
                    refused.append(f"{role}: {method} {url} -> {status}")
    assert not refused, refused
    # B is untouched: its card still requested, its settings as seeded.
    assert await db.fetchval("SELECT status FROM kanban_card WHERE id = $1", b.card_id) == (
        "requested"
    )


async def test_no_call_answers_without_a_token(
    app: FastAPI, two_factories: tuple[Seeded, Seeded]
) -> None:
    _, b = two_factories
    answers = {}
    for method, path, route in api_routes(app):
        url, body = request_for(method, path, route, b)
        answers[f"{method} {url}"] = await status_of(app, method, url, {}, body)
    assert set(answers.values()) == {401}, answers


async def test_the_walker_reaches_every_call_with_a_token_that_may(
    app: FastAPI, two_factories: tuple[Seeded, Seeded]
) -> None:
    """The control: the admin token gets a 2xx for every call the walker makes on B, so the
    403s and 404s above are the wall, not a walker that fills nothing right."""
    _, b = two_factories
    answers = {}
    for method, path, route in api_routes(app):
        url, body = request_for(method, path, route, b)
        answers[f"{method} {url}"] = await status_of(app, method, url, AUTH, body)
    assert all(200 <= status < 300 for status in answers.values()), answers


async def test_list_calls_hold_nothing_of_another_factory(
    http: httpx.AsyncClient, db: asyncpg.Connection, two_factories: tuple[Seeded, Seeded]
) -> None:
    a, b = two_factories
    for role in Role:
        token = await a_token(db, role, *(() if role is Role.ADMIN else (a.factory,)))
        lines, after = [], None
        while True:  # every page
            params = {"limit": "500", **({"after": after} if after else {})}
            page = await http.get("/api/v1/lines", params=params, headers=bearer(token))
            assert page.status_code == 200, page.text
            lines += [(item["factory"], item["line"]) for item in page.json()["items"]]
            if (after := page.json()["next"]) is None:
                break
        assert (a.factory, a.line) in lines
        if role is Role.ADMIN:
            assert (b.factory, b.line) in lines
        else:
            assert {factory for factory, _ in lines} == {a.factory}, role
    board = bearer(await a_token(db, Role.BOARD, a.factory))
    cards = await http.get(f"/api/v1/factories/{a.factory}/kanban/cards", headers=board)
    assert [card["id"] for card in cards.json()["cards"]] == [a.card_id]
    whole = await http.get(f"/api/v1/factories/{a.factory}/efficiency", params=RANGE, headers=board)
    assert whole.status_code == 200 and [line["line"] for line in whole.json()["lines"]] == ["l1"]


async def test_a_token_of_several_factories_sees_each_of_them(
    http: httpx.AsyncClient, db: asyncpg.Connection, two_factories: tuple[Seeded, Seeded]
) -> None:
    a, b = two_factories
    both = bearer(await a_token(db, Role.MANAGER, a.factory, b.factory))
    for seeded in (a, b):
        url = f"/api/v1/factories/{seeded.factory}/lines/{seeded.line}/status"
        assert (await http.get(url, headers=both)).status_code == 200


# --- The data layer on its own ----------------------------------------------------------------

DATA_MODULES: list[ModuleType] = [
    store, floor_status, intervals, figures, efficiency_read, floor_read, card_advance
]  # fmt: skip


def data_functions() -> list[tuple[str, Callable[..., Any]]]:
    """Every public coroutine function of the API's data modules that names a factory."""
    found = []
    for module in DATA_MODULES:
        for name, function in vars(module).items():
            if (
                not name.startswith("_")
                and inspect.iscoroutinefunction(function)
                and function.__module__ == module.__name__
                and "factory" in inspect.signature(function).parameters
            ):
                found.append((f"{module.__name__.rsplit('.', 1)[-1]}.{name}", function))
    return found


def test_every_data_function_that_names_a_factory_takes_a_scope() -> None:
    functions = data_functions()
    assert len(functions) >= 15
    assert not [name for name, f in functions if "scope" not in inspect.signature(f).parameters]


async def test_every_data_function_refuses_a_factory_outside_the_scope_before_reading(
    db: asyncpg.Connection, two_factories: tuple[Seeded, Seeded]
) -> None:
    a, b = two_factories
    start, end = NOW - timedelta(days=1), NOW
    values: dict[str, Any] = {
        "scope": Scope.of([a.factory]), "factory": b.factory, "line": b.line, "station": "s1",
        "card_id": b.card_id, "now": NOW, "start": start, "end": end, "before": end,
        "window": (start, end), "stations": ["s1"], "groups": [[(start, end)]], "limit": 10,
        "open_only": False, "settings": LineSettings(name="x"), "granularity": None,
        "lines": [], "targets": [], "small_stop_threshold_s": 0, "stale_after_s": 300,
        "since": start, "until": end, "upto": end,
    }  # fmt: skip
    leaked = []
    for name, function in data_functions():
        parameters = inspect.signature(function).parameters
        first = next(iter(parameters))
        unknown = [p for p in parameters if p != first and p not in values]
        assert not unknown, f"{name}: teach the test a value for {unknown}"
        kwargs = {p: values[p] for p in parameters if p != first}
        try:
            await function(db, **kwargs)
        except OutOfScope as refused:
            assert refused.factory == b.factory
        else:
            leaked.append(name)
    assert not leaked, leaked
    assert await db.fetchval("SELECT status FROM kanban_card WHERE id = $1", b.card_id) == (
        "requested"
    )


async def test_the_list_of_lines_is_filtered_in_sql(
    db: asyncpg.Connection, two_factories: tuple[Seeded, Seeded]
) -> None:
    _, b = two_factories
    # One connection answers `fetch` as a pool does.
    listed = await store.list_lines(db, scope=Scope.of([b.factory]), after=None, limit=100_000)
    assert [(line.factory, line.line) for line in listed] == [(b.factory, b.line)]
