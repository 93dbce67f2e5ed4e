"""Session fixtures: real servers on free ports, started once, stopped at the end.

Unit tests use none of these. Integration and end-to-end tests ask for ``stack`` (the three
servers of the embedded stack, from the same module `floorstream up` uses).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.stack.embedded.stack import EmbeddedStack, Endpoints, StackPlan


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def embedded_stack(stack_dir: Path) -> Iterator[EmbeddedStack]:
    stack = EmbeddedStack(StackPlan(stack_dir, durable=False))
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def stack(embedded_stack: EmbeddedStack) -> Endpoints:
    """Where the session's real MQTT broker, Kafka broker and PostgreSQL answer."""
    mqtt, kafka, postgres = embedded_stack.mqtt, embedded_stack.kafka, embedded_stack.postgres
    assert mqtt is not None and kafka is not None and postgres is not None
    return Endpoints(mqtt.url, kafka.bootstrap, postgres.url, mqtt.flavour)
