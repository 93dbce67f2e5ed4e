"""`floorstream processor` runs both processors in one process, and fails if either fails."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest

from schemas import Event, validate_message
from services.floor import processor as floor
from services.processor import command
from services.runtime.consumer import Handler, Records
from services.runtime.poison import RUN_LIMIT, EveryRecordFails
from services.runtime.settings import ProcessorSettings
from services.stack.embedded.stack import Endpoints
from tests.support.database import fresh_database
from tests.support.kafka import publish_to_events_topic

pytestmark = pytest.mark.integration


def _events(factory: str, more_production: int = 0) -> list[Event]:
    payloads: list[tuple[str, dict[str, object]]] = [
        ("machine", {"event_id": "m1", "ts": "2026-11-30T06:00:00+00:00", "state": "running"}),
        ("production", {"event_id": "p1", "ts": "2026-11-30T06:00:30+00:00", "good": 5}),
    ]
    payloads += [
        ("production", {"event_id": f"p{i}", "ts": f"2026-11-30T06:01:{i:02d}+00:00", "good": 1})
        for i in range(2, 2 + more_production)
    ]
    return [
        validate_message(f"floor/v1/{factory}/l1/s1/{kind}", json.dumps(payload).encode())
        for kind, payload in payloads
    ]


def _settings(stack: Endpoints, url: str, tag: str) -> ProcessorSettings:
    return ProcessorSettings(
        kafka_bootstrap=stack.kafka_bootstrap,
        database_url=url,
        processor_group=f"e-{tag}",
        floor_group=f"f-{tag}",
        processor_batch_ms=50,
    )


async def _count(url: str, query: str, factory: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(query, factory))
    except asyncpg.UndefinedTableError:  # not migrated yet
        return 0
    finally:
        await connection.close()


async def test_serve_runs_the_efficiency_and_the_floor_processor(stack: Endpoints) -> None:
    factory = f"c{uuid.uuid4().hex[:8]}"
    await publish_to_events_topic(stack.kafka_bootstrap, _events(factory))
    async with fresh_database(stack.database_url, "processor") as url:
        stop = asyncio.Event()
        serving = asyncio.create_task(command.serve(_settings(stack, url, factory), stop))
        try:
            async with asyncio.timeout(120):
                while not (
                    await _count(
                        url, "SELECT count(*) FROM station_state WHERE factory = $1", factory
                    )
                    and await _count(
                        url, "SELECT count(*) FROM minute_bucket WHERE factory = $1", factory
                    )
                ):
                    assert not serving.done()
                    await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.wait_for(serving, 60)


async def test_serve_fails_when_either_processor_fails(
    stack: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*_: Any) -> Handler:
        async def handle(connection: Any, records: Records) -> None:
            raise RuntimeError("floor handler broke")

        return handle

    monkeypatch.setattr(floor, "retaining", failing)
    factory = f"c{uuid.uuid4().hex[:8]}"
    # a handler that fails on every record stops its processor once more than RUN_LIMIT fail
    # in a row (fewer would be set aside as poison records)
    await publish_to_events_topic(
        stack.kafka_bootstrap, _events(factory, more_production=RUN_LIMIT)
    )
    async with fresh_database(stack.database_url, "processor") as url:
        with pytest.raises(ExceptionGroup) as raised:
            await asyncio.wait_for(
                command.serve(_settings(stack, url, factory), asyncio.Event()), 120
            )
    assert raised.group_contains(EveryRecordFails)
    stopped = raised.value.subgroup(EveryRecordFails)
    assert stopped is not None
    assert "floor handler broke" in str(stopped.exceptions[0].__cause__)
