"""The operations port of gateway and processor: /metrics, /healthz, /readyz."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from services.runtime.ops_server import NotReady, Readiness, ops_app, serve_ops


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("floorstream_test_things", "things", registry=registry).inc(3)
    return registry


@pytest.fixture
def readiness() -> Readiness:
    return Readiness("database", "kafka", timeout_s=0.2)


@pytest.fixture
async def http(
    registry: CollectorRegistry, readiness: Readiness
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=ops_app(registry, readiness))
    async with httpx.AsyncClient(transport=transport, base_url="http://ops") as client:
        yield client


async def _ok() -> None:
    return None


async def test_metrics_show_the_injected_registry(http: httpx.AsyncClient) -> None:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "floorstream_test_things_total 3.0" in response.text


async def test_healthz_answers_while_dependencies_are_down(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_names_what_is_not_connected_yet(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "checks": {
            "database": "unavailable: not connected yet",
            "kafka": "unavailable: not connected yet",
        },
    }


async def test_readyz_is_ready_when_every_check_answers(
    http: httpx.AsyncClient, readiness: Readiness
) -> None:
    readiness.add("database", _ok)
    readiness.add("kafka", _ok)
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "kafka": "ok"}}


async def test_readyz_names_a_failing_or_silent_dependency(
    http: httpx.AsyncClient, readiness: Readiness
) -> None:
    async def refused() -> None:
        raise ConnectionRefusedError("connection refused")

    async def silent() -> None:
        await asyncio.Event().wait()

    async def reason() -> None:
        raise NotReady("records are not being acknowledged")

    readiness.add("database", refused)
    readiness.add("kafka", silent)
    readiness.add("mqtt", reason)
    response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "unavailable: ConnectionRefusedError: connection refused",
        "kafka": "unavailable: no answer within 0.2s",
        "mqtt": "unavailable: records are not being acknowledged",
    }


async def test_the_server_listens_on_a_real_port_and_stops(
    registry: CollectorRegistry, readiness: Readiness
) -> None:
    readiness.add("database", _ok)
    readiness.add("kafka", _ok)
    async with serve_ops(registry, readiness, host="127.0.0.1", port=0) as server:
        assert server is not None
        base = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/readyz")).status_code == 200
            assert "floorstream_test_things_total" in (await client.get("/metrics")).text
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=base) as client:
            await client.get("/healthz")


async def test_port_none_serves_nothing(registry: CollectorRegistry, readiness: Readiness) -> None:
    async with serve_ops(registry, readiness, host="127.0.0.1", port=None) as server:
        assert server is None


async def test_a_port_in_use_fails_at_once(
    registry: CollectorRegistry, readiness: Readiness
) -> None:
    async with serve_ops(registry, readiness, host="127.0.0.1", port=0) as server:
        assert server is not None
        with pytest.raises(OSError):
            async with serve_ops(registry, readiness, host="127.0.0.1", port=server.port):
                pass
