"""The processor's operations port on the session's servers: /metrics, /readyz, /healthz."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest

from schemas import Event, validate_message
from services.processor import command
from services.runtime.settings import ProcessorSettings
from services.stack.embedded.process import free_port
from services.stack.embedded.stack import Endpoints
from tests.support.database import fresh_database
from tests.support.kafka import publish_to_events_topic

pytestmark = pytest.mark.integration


def _events(factory: str, count: int) -> list[Event]:
    return [
        validate_message(
            f"floor/v1/{factory}/l1/s1/production",
            json.dumps(
                {"event_id": f"p{n}", "ts": f"2026-11-30T06:{n:02d}:00+00:00", "good": 1}
            ).encode(),
        )
        for n in range(count)
    ]


@asynccontextmanager
async def _processor(settings: ProcessorSettings) -> AsyncIterator[httpx.AsyncClient]:
    """`serve` running in this loop, and a client of its operations port."""
    stop = asyncio.Event()
    serving = asyncio.create_task(command.serve(settings, stop))
    base = f"http://127.0.0.1:{settings.metrics_port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            async with asyncio.timeout(30):
                while True:
                    if serving.done():
                        serving.result()
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
            yield http
    finally:
        stop.set()
        await asyncio.wait_for(serving, 30)


def _settings(stack: Endpoints, database_url: str, tag: str, **changes: str) -> ProcessorSettings:
    values = {
        "kafka_bootstrap": stack.kafka_bootstrap,
        "database_url": database_url,
        "processor_group": f"e-{tag}",
        "floor_group": f"f-{tag}",
        "processor_batch_ms": 50,
        "metrics_port": free_port(),
    }
    return ProcessorSettings(**(values | changes))  # type: ignore[arg-type]


def _value(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_metrics_and_readiness_of_a_running_processor(stack: Endpoints) -> None:
    tag = uuid.uuid4().hex[:8]
    factory = f"o{tag}"
    await publish_to_events_topic(stack.kafka_bootstrap, _events(factory, 5))
    async with fresh_database(stack.database_url, "ops") as url:
        settings = _settings(stack, url, tag)
        async with _processor(settings) as http:
            group = settings.processor_group
            async with asyncio.timeout(120):
                while True:
                    text = (await http.get("/metrics")).text
                    lag = _value(text, "floorstream_processor_lag", group=group)
                    applied = _value(text, "floorstream_processor_events_total", group=group)
                    floor = _value(
                        text, "floorstream_processor_events_total", group=settings.floor_group
                    )
                    # The two processors consume on their own; wait for both to apply.
                    if lag is not None and (applied or 0) >= 5 and (floor or 0) >= 5:
                        break
                    await asyncio.sleep(0.2)
            assert _value(text, "floorstream_processor_batches_total", group=group)
            assert re.search(r'floorstream_processor_lag\{group="[^"]+",partition="\d+",', text)
            assert "process_cpu_seconds_total" in text
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {
                "status": "ready",
                "checks": {"database": "ok", "kafka": "ok"},
            }
            assert (await http.get("/healthz")).json() == {"status": "ok"}


async def test_an_unreachable_kafka_is_named_by_readyz(stack: Endpoints) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    settings = _settings(stack, stack.database_url, uuid.uuid4().hex[:8], kafka_bootstrap=nowhere)
    async with _processor(settings) as http:
        async with asyncio.timeout(30):
            while True:
                ready = await http.get("/readyz")
                if ready.json()["checks"]["database"] == "ok":
                    break
                await asyncio.sleep(0.1)
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not_ready",
        "checks": {"database": "ok", "kafka": f"unavailable: not reachable yet at {nowhere}"},
    }


async def test_an_unreachable_database_fails_the_processor_clearly(stack: Endpoints) -> None:
    nowhere = f"postgresql://floorstream:secret@127.0.0.1:{free_port()}/floorstream"
    settings = _settings(stack, nowhere, uuid.uuid4().hex[:8])
    with pytest.raises((OSError, asyncpg.PostgresError)):
        await asyncio.wait_for(command.serve(settings, asyncio.Event()), 30)
