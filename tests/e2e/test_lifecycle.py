"""The whole stack's lifecycle as a user lives it: `floorstream up` stopped and started again on
its data directory, stopped mid-burst, and its embedded Kafka killed -9 under load. Every count
published is counted exactly once in the figures afterwards."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.mqtt import Publisher
from tests.support.processes import command_line, descendants, wait_until
from tests.support.up import RunningUp, endpoint, get_json, start_up

pytestmark = pytest.mark.e2e

FACTORY = "flife"
LINES = 20
# Event time: the last hour, so that the figures of the last hour hold every count.
START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=55)


def _reports(prefix: str, count: int) -> list[tuple[str, bytes]]:
    """``count`` production reports of one good part each, over `LINES` lines."""
    messages = []
    for i in range(count):
        ts = START + timedelta(seconds=(i * 7) % 3000)
        body = {"event_id": f"{prefix}-{i}", "ts": ts.isoformat(), "good": 1, "scrap": 0}
        topic = f"floor/v1/{FACTORY}/l{i % LINES}/press/production"
        messages.append((topic, json.dumps(body).encode()))
    return messages


def _good(up: RunningUp, token: str) -> int | None:
    end = datetime.now(UTC).replace(microsecond=0)
    window = f"start={START - timedelta(minutes=1):%Y-%m-%dT%H:%M:%SZ}&end={end:%Y-%m-%dT%H:%M:%SZ}"
    try:
        status, body = get_json(f"{up.api}/api/v1/factories/{FACTORY}/efficiency?{window}", token)
    except (urllib.error.URLError, OSError):
        return None
    return int(body["good_count"]) if status == 200 else None  # type: ignore[call-overload]


def _counted(up: RunningUp, token: str, expected: int, timeout: float, what: str) -> None:
    seen: list[int | None] = [None]

    def done() -> bool:
        seen[0] = _good(up, token)
        return seen[0] == expected

    wait_until(done, timeout, lambda: f"{what}: {expected} good parts; last seen {seen[0]}")


def _metrics(up: RunningUp, service: str) -> str:
    port = re.search(rf"{service}:\s+metrics http://127\.0\.0\.1:(\d+)/metrics", up.output())
    assert port, up.output()
    with urllib.request.urlopen(f"http://127.0.0.1:{port[1]}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


def _gateway(up: RunningUp, series: str) -> float:
    for line in _metrics(up, "gateway").splitlines():
        if line.startswith(f"floorstream_gateway_{series} "):
            return float(line.split()[1])
    return 0.0


def _on_kafka_unapplied(up: RunningUp) -> float:
    """Events Kafka has acknowledged that the processors have not stored: the gateway holds
    their MQTT acknowledgements (memory mode) or has given them (replicated)."""
    return _gateway(up, "held") + _gateway(up, "produced_total")


def _lag(up: RunningUp) -> dict[tuple[str, str], float]:
    """The processors' lag series, by group and partition."""
    text = _metrics(up, "processor")
    series = {}
    for line in text.splitlines():
        match = re.match(r'floorstream_processor_lag\{group="([^"]+)",partition="(\d+)"', line)
        if match:
            series[match[1], match[2]] = float(line.rsplit(" ", 1)[1])
    return series


def _stop(up: RunningUp) -> None:
    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(90) == 0, up.output()[-3000:]


@pytest.fixture
def started() -> Iterator[list[RunningUp]]:
    running: list[RunningUp] = []
    yield running
    for up in running:
        if up.process.poll() is None:
            up.process.send_signal(signal.SIGKILL)
            up.process.wait(30)


def test_a_restart_on_the_same_data_dir_keeps_every_count_and_adds_the_new_ones(
    tmp_path: Path, started: list[RunningUp]
) -> None:
    """Issue 13, 1 and 2: counts before a restart are kept, counts after are added, an
    ``event_id`` published before and after counts once, and a stop right after a burst
    loses none of it; after the restart every partition is assigned and read to its end."""
    first = start_up(tmp_path)
    started.append(first)
    token = first.token()
    with Publisher(endpoint(first, "mqtt")) as publisher:
        publisher.publish_all(_reports("a", 300))
        _counted(first, token, 300, 60, "before the restart")
        publisher.publish_all(_reports("b", 1000))  # then at once a stop: in flight
    _stop(first)
    assert "stopping: simulator and gateway stopped" in first.output()
    assert "the processors have applied everything Kafka holds" in first.output()

    second = start_up(tmp_path, {"FLOORSTREAM_BOOTSTRAP_TOKEN": token})
    started.append(second)
    with Publisher(endpoint(second, "mqtt")) as publisher:
        publisher.publish_all(_reports("c", 300) + _reports("a", 50))  # 50 counted already
    _counted(second, token, 1600, 90, "after the restart")

    lag: dict[tuple[str, str], float] = {}

    def all_read() -> bool:
        lag.update(_lag(second))
        return len(lag) == 24 and not any(lag.values())

    wait_until(all_read, 30, lambda: f"12 partitions per group, read to the end: {lag}")
    _stop(second)
    assert "the log is not the one the stored offset" in second.output()  # a new Kafka log


def _tansu(up: RunningUp) -> int:
    for pid in descendants(up.process.pid):
        if "tansu" in command_line(pid) and " broker " in command_line(pid):
            return pid
    raise AssertionError("no tansu broker under up")


def test_the_embedded_kafka_killed_mid_load_loses_no_count_and_counts_none_twice(
    tmp_path: Path, started: list[RunningUp]
) -> None:
    """Issue 13, 3: 20,000 counts to 20 lines over MQTT QoS 1 while the memory-only Kafka is
    killed -9 and restarted under them: every count appears exactly once."""
    up = start_up(tmp_path)
    started.append(up)
    token = up.token()
    messages = _reports("k", 20_000)
    published = threading.Event()

    def publish() -> None:  # about 1,000 a second, so that the broker dies mid-load
        with Publisher(endpoint(up, "mqtt"), max_in_flight=100) as publisher:
            for start in range(0, len(messages), 200):
                publisher.publish_all(messages[start : start + 200])
                time.sleep(0.2)  # pacing the load, not waiting for anything
        published.set()

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    wait_until(lambda: (_good(up, token) or 0) >= 2_000, 120, "a first share counted")
    # The processors fall behind (as on a slow database): Kafka holds records they have not
    # read when it dies, records the gateway had acknowledged to MQTT in "replicated" mode.
    processor = up.service_pid("processor")
    os.kill(processor, signal.SIGSTOP)
    try:
        behind = _on_kafka_unapplied(up) + 1_000
        wait_until(
            lambda: _on_kafka_unapplied(up) >= behind, 60, "records on Kafka not yet applied"
        )
        assert not published.is_set()
        broker = _tansu(up)
        os.kill(broker, signal.SIGKILL)
    finally:
        os.kill(processor, signal.SIGCONT)
    wait_until(lambda: "embedded Kafka broker is back" in up.output(), 60, "the broker restarted")
    assert broker not in descendants(up.process.pid)
    wait_until(published.is_set, 300, "every message published")
    _counted(up, token, 20_000, 240, "after the broker's death")
    assert "the log is not the one the stored offset" in up.output()  # the loss was seen
    _stop(up)
    assert up.output().count("embedded Kafka broker exited") == 1
