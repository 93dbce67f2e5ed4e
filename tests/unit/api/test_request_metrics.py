"""`RequestMetrics`: request latency labelled by route template, method and status."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from prometheus_client import CollectorRegistry

from services.api.metrics import ApiMetrics, RequestMetrics


class Ticks:
    """A clock that moves 0.25 s at each reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def http(registry: CollectorRegistry) -> AsyncIterator[httpx.AsyncClient]:
    router = APIRouter()

    @router.get("/factories/{factory}/lines/{line}")
    async def line(factory: str, line: str) -> dict[str, str]:
        if line == "missing":
            raise HTTPException(404, "no such line")
        return {"factory": factory, "line": line}

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    app.add_middleware(RequestMetrics, metrics=ApiMetrics.create(registry), clock=Ticks())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


def _count(registry: CollectorRegistry, route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    value = registry.get_sample_value("floorstream_api_request_seconds_count", labels)
    return 0.0 if value is None else value


def _routes(registry: CollectorRegistry) -> set[str]:
    return {
        sample.labels["route"]
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "floorstream_api_request_seconds_count"
    }


async def test_requests_are_labelled_by_route_template_not_raw_path(
    http: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    for line in ("l1", "l2", "l3"):
        assert (await http.get(f"/api/v1/factories/f1/lines/{line}")).status_code == 200
    assert (await http.get("/api/v1/factories/f1/lines/missing")).status_code == 404
    template = "/api/v1/factories/{factory}/lines/{line}"
    assert _count(registry, template, "GET", "200") == 3
    assert _count(registry, template, "GET", "404") == 1
    assert _routes(registry) == {template}
    seconds = registry.get_sample_value(
        "floorstream_api_request_seconds_sum",
        {"route": template, "method": "GET", "status": "200"},
    )
    assert seconds == pytest.approx(0.75)  # one clock tick per request


async def test_an_unknown_path_is_unmatched(
    http: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    for path in ("/nothing", "/api/v1/x/y/z", "/api/v1/factories/f1/lines/l1/more"):
        assert (await http.get(path)).status_code == 404
    assert _count(registry, "unmatched", "GET", "404") == 3
    assert _routes(registry) == {"unmatched"}


async def test_a_wrong_method_keeps_the_template_and_odd_methods_are_other(
    http: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    assert (await http.post("/api/v1/factories/f1/lines/l1")).status_code == 405
    assert _count(registry, "/api/v1/factories/{factory}/lines/{line}", "POST", "405") == 1
    await http.request("BREW", "/nothing")
    assert _count(registry, "unmatched", "other", "404") == 1


async def test_an_unhandled_error_counts_as_500(
    http: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    assert (await http.get("/api/v1/boom")).status_code == 500
    assert _count(registry, "/api/v1/boom", "GET", "500") == 1
