"""End to end: latency from an MQTT publish to the board screen's SSE ``changed``, p50 / p99, at
1,000 and at 5,000 events/s over 200 lines, against the MQTT round trip (publish to a plain
paho subscriber) measured in the same run. Target: p99 <= 250 ms at 5,000 events/s.

Method: the embedded stack and the services as the user runs them: ``python -m floorstream
gateway``, ``processor`` and ``api``, one process each. A load publisher (a process of its own,
paho, QoS 1) sends production reports at a steady rate to the background lines. Tracer lines
(``--traced``, default 20 of the 200) get only tracers: each has a screen (`sse.Screen`) on its
live feed and a loop that publishes one production report, waits for the screen's next
``changed`` and takes the time between, then pauses 50-250 ms. A tracer line hears of nothing
but its tracer, so each ``changed`` is the answer to exactly one publish (notices are
coalesced per batch of the floor processor, which sends them). The load plus the tracers make
the rate. At the end of each phase the backlog is the events the gateway produced that the
floor processor had not committed yet.

    python bench/bench_end_to_end.py [--rates 1000,5000] [--seconds 12] [--traced 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from common import (
    conditions,
    cpu_seconds_by_program,
    cpu_share,
    http_ok,
    percentile,
    raise_open_files,
    record,
    say,
    service_env,
    start_service,
    stop_services,
    table,
    wait_for,
)
from services.runtime.mqtt_url import parse_mqtt_url
from services.stack.embedded.process import free_port
from services.stack.embedded.stack import EmbeddedStack, Endpoints, StackPlan
from sse import Screen

LINES = 200
FACTORY = "bench"
TARGET = "p99 <= 250 ms at 5,000 events/s"


def _client(url: str) -> mqtt.Client:
    address = parse_mqtt_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(address.host, address.port)
    client.loop_start()
    return client


def _production(line: str, tag: str, n: int) -> tuple[str, bytes]:
    payload = {"event_id": f"{tag}-{n}", "ts": datetime.now(UTC).isoformat(), "good": 1, "scrap": 0}
    return f"floor/v1/{FACTORY}/{line}/press/production", json.dumps(payload).encode()


def publisher(url: str, rate: float, seconds: float, first_line: int) -> None:
    """The load (run as ``--publisher``): production reports on lines ``first_line``..199 at
    ``rate`` events/s for ``seconds``; prints what it sent and what the broker acknowledged."""
    acked = 0
    last_ack = 0.0
    lock = threading.Lock()

    def on_publish(*_: object) -> None:
        nonlocal acked, last_ack
        with lock:
            acked += 1
            last_ack = time.perf_counter()

    client = _client(url)
    client.on_publish = on_publish
    tag, lines = uuid.uuid4().hex[:8], [f"l{n}" for n in range(first_line, LINES)]
    began, sent = time.perf_counter(), 0
    while (now := time.perf_counter() - began) < seconds:
        while sent < now * rate:
            client.publish(*_production(lines[sent % len(lines)], tag, sent), qos=1)
            sent += 1
        time.sleep(0.002)
    publishing = time.perf_counter() - began
    deadline = time.perf_counter() + 30
    while acked < sent and time.perf_counter() < deadline:
        time.sleep(0.01)
    client.disconnect()
    client.loop_stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {"sent": sent, "sent_per_s": sent / publishing, "acked": acked}
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["acked_per_s"] = acked / max(last_ack - began, 1e-9)
    print(json.dumps(result))  # noqa: T201


def mqtt_round_trip(url: str, count: int = 300) -> list[float]:
    """The baseline: publish (QoS 1) to a plain subscriber on the same broker, one at a time
    at about 100/s; the delays in seconds."""
    delays: list[float] = []
    arrived = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        delays.append(time.perf_counter() - float(message.payload))
        arrived.set()

    subscriber = _client(url)
    subscriber.on_message = on_message
    subscriber.subscribe("bench/rtt/#", qos=1)
    time.sleep(0.3)
    sender = _client(url)
    for _ in range(count):
        arrived.clear()
        sender.publish("bench/rtt/x", str(time.perf_counter()).encode(), qos=1)
        arrived.wait(5)
        time.sleep(0.01)
    for client in (sender, subscriber):
        client.disconnect()
        client.loop_stop()
    return delays


class Tracers:
    """The tracer lines: a screen each, a publish, the time to the screen's next ``changed``."""

    def __init__(self, url: str, lines: int) -> None:
        self.client = _client(url)
        self.lines = [f"l{n}" for n in range(lines)]
        self.tag = uuid.uuid4().hex[:8]
        self.sent = 0
        self.waiting: dict[str, tuple[float, asyncio.Future[float]]] = {}
        self.screens: list[Screen] = []

    def on_changed(self, screen: Screen, at: float) -> None:
        pending = self.waiting.pop(screen.key, None)
        if pending is not None and not pending[1].done():
            pending[1].set_result(at - pending[0])

    async def open(self, api_port: int, token: str) -> list[asyncio.Task[None]]:
        tasks = []
        for line in self.lines:
            screen = Screen(f"{FACTORY}/{line}", self.on_changed)
            path = f"/api/v1/factories/{FACTORY}/lines/{line}/live?token={token}"
            tasks.append(asyncio.create_task(screen.run("127.0.0.1", api_port, path)))
            self.screens.append(screen)
        await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in self.screens)), 30)
        await asyncio.sleep(0.5)  # the first "changed" of each, on connect
        return tasks

    async def trace(self, seconds: float) -> tuple[list[tuple[float, float]], int]:
        """Trace every line for ``seconds``: (publish time, delay) pairs, and the timeouts."""
        found: list[tuple[float, float]] = []
        lost = 0
        began = time.perf_counter()

        async def one_line(line: str) -> None:
            nonlocal lost
            draw = random.Random(line)
            while time.perf_counter() - began < seconds:
                answer: asyncio.Future[float] = asyncio.get_running_loop().create_future()
                topic, payload = _production(line, self.tag, self.sent)
                self.sent += 1
                at = time.perf_counter()
                self.waiting[f"{FACTORY}/{line}"] = (at, answer)
                self.client.publish(topic, payload, qos=1)
                try:
                    found.append((at - began, await asyncio.wait_for(answer, 10)))
                except TimeoutError:
                    lost += 1
                await asyncio.sleep(draw.uniform(0.05, 0.25))

        await asyncio.gather(*(one_line(line) for line in self.lines))
        return found, lost

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:  # noqa: S310
        text = response.read().decode()
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


async def _backlog(url: str, gateway_port: int) -> int:
    """Events the gateway produced that the floor processor has not committed."""
    connection = await asyncpg.connect(url)
    try:
        done = await connection.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE grp = $1",
            "floorstream-floor",
        )
    finally:
        await connection.close()
    return int(_metric(gateway_port, "floorstream_gateway_produced_total")) - int(done)


async def _known_lines(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM line WHERE factory = $1", FACTORY)
        )
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await connection.close()


def _warm_up(stack: Endpoints) -> None:
    """One event on every line, so that each is known (a feed of an unknown line is 404)."""
    client, tag = _client(stack.mqtt_url), uuid.uuid4().hex[:8]
    infos = [client.publish(*_production(f"l{n}", tag, n), qos=1) for n in range(LINES)]
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    wait_for(lambda: asyncio.run(_known_lines(stack.database_url)) == LINES, 60, "the lines")


def _load(stack: Endpoints, rate: float, seconds: float, traced: int) -> subprocess.Popen[str]:
    argv = [sys.executable, __file__, "--publisher", stack.mqtt_url, str(rate), str(seconds)]
    return subprocess.Popen([*argv, str(traced)], stdout=subprocess.PIPE, text=True)  # noqa: S603


async def _phase(
    stack: Endpoints, tracers: Tracers, rate: int, args: argparse.Namespace, gateway_port: int
) -> dict[str, Any]:
    tracer_rate = len(tracers.lines) / 0.2  # about one tracer per line every 200 ms
    load = _load(stack, max(rate - tracer_rate, 1), args.seconds, len(tracers.lines))
    cpu_before, began = cpu_seconds_by_program(), time.perf_counter()
    found, lost = await tracers.trace(args.seconds)
    cpu_after, elapsed = cpu_seconds_by_program(), time.perf_counter() - began
    out, _ = await asyncio.to_thread(load.communicate, timeout=60)
    backlog = await _backlog(stack.database_url, gateway_port)
    delays = [d * 1000 for _, d in found]
    late = [d * 1000 for t, d in found if t >= args.seconds * 2 / 3]
    published = json.loads(out)
    cpu_after["load publisher"] = published.pop("cpu_s")  # its own count: it has ended
    cores = cpu_share(cpu_before, cpu_after, elapsed)
    phase = {
        "rate": rate,
        "load": published,
        "tracers": len(found),
        "tracers_per_s": len(found) / args.seconds,
        "lost": lost,
        "p50": percentile(delays, 50),
        "p99": percentile(delays, 99),
        "p50_last_third": percentile(late, 50) if len(late) > 1 else None,
        "backlog_at_end": backlog,
        "cores_busy": round(sum(cores.values()), 2),
        "cores_by_program": cores,
    }
    say(f"  {rate:,} events/s: {phase}")
    drained = time.perf_counter()
    while await _backlog(stack.database_url, gateway_port) > 0:
        if time.perf_counter() - drained > 30:
            say("  (the backlog did not drain within 30 s)")
            break
        await asyncio.sleep(0.2)
    phase["drain_s"] = time.perf_counter() - drained
    return phase


async def _measure(
    stack: Endpoints, args: argparse.Namespace, api_port: int, token: str, gateway_port: int
) -> list[dict[str, Any]]:
    tracers = Tracers(stack.mqtt_url, args.traced)
    tasks = await tracers.open(api_port, token)
    try:
        return [
            await _phase(stack, tracers, int(rate), args, gateway_port)
            for rate in args.rates.split(",")
        ]
    finally:
        tracers.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _services(
    stack: Endpoints, folder: Path, token: str, settings: dict[str, str]
) -> tuple[list[Any], int, int]:
    api_port, gateway_port, processor_port = free_port(), free_port(), free_port()
    env = service_env(
        stack,
        FLOORSTREAM_BOOTSTRAP_TOKEN=token,
        FLOORSTREAM_API_PORT=str(api_port),
        FLOORSTREAM_BOARD_MAX_FEEDS_PER_TOKEN="1000",  # noqa: S106 - a limit, not a secret
        FLOORSTREAM_LOG_LEVEL="warning",
        **settings,
    )
    log = folder / "services.log"
    processes = [
        start_service("gateway", env | {"FLOORSTREAM_METRICS_PORT": str(gateway_port)}, log),
        start_service("processor", env | {"FLOORSTREAM_METRICS_PORT": str(processor_port)}, log),
        start_service("api", env, log),
    ]
    try:
        wait_for(lambda: http_ok(f"http://127.0.0.1:{api_port}/readyz"), 60, "the API")
        wait_for(lambda: http_ok(f"http://127.0.0.1:{processor_port}/readyz"), 60, "processor")
        wait_for(lambda: http_ok(f"http://127.0.0.1:{gateway_port}/readyz"), 60, "the gateway")
    except BaseException:
        stop_services(processes)
        say(log.read_text()[-3000:])
        raise
    return processes, api_port, gateway_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="1000,5000", help="events/s per phase (1000,5000)")
    parser.add_argument("--seconds", type=float, default=12.0, help="seconds per phase (12)")
    parser.add_argument("--traced", type=int, default=20, help="tracer lines of the 200 (20)")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a FLOORSTREAM_* setting for the services, e.g. FLOORSTREAM_GATEWAY_LINGER_MS=20",
    )
    parser.add_argument("--publisher", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publisher:
        url, rate, seconds, first = args.publisher
        publisher(url, float(rate), float(seconds), int(first))
        return
    settings = dict(setting.split("=", 1) for setting in args.setting)
    raise_open_files(4096)
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as folder:
        with EmbeddedStack(StackPlan(Path(folder), durable=False)) as stack:
            where = conditions(
                stack,
                lines=LINES,
                traced_lines=args.traced,
                seconds_per_phase=args.seconds,
                settings=settings,
            )
            processes, api_port, gateway_port = _services(stack, Path(folder), token, settings)
            try:
                say(f"end-to-end benchmark: {LINES} lines, {args.traced} traced")
                _warm_up(stack)
                baseline = [d * 1000 for d in mqtt_round_trip(stack.mqtt_url)]
                phases = asyncio.run(_measure(stack, args, api_port, token, gateway_port))
            finally:
                stop_services(processes)
    base50, base99 = percentile(baseline, 50), percentile(baseline, 99)
    rows: list[tuple[object, ...]] = [
        ("MQTT round trip (baseline)", None, None, base50, base99, 1.0, None, None, None)
    ]
    for phase in phases:
        name = f"publish -> SSE changed at {phase['rate']:,}/s"
        achieved = phase["load"]["acked_per_s"] + phase["tracers_per_s"]
        rows.append(
            (name, achieved, phase["tracers"], phase["p50"], phase["p99"], phase["p99"] / base99,
             phase["p50_last_third"], phase["backlog_at_end"], phase["cores_busy"])
        )  # fmt: skip
        detail = where | {"phase": phase}
        for label in ("p50", "p99"):
            record("end_to_end", f"{label} at {phase['rate']} events/s", phase[label], "ms",
                   baseline=base50 if label == "p50" else base99,
                   ratio=phase[label] / (base50 if label == "p50" else base99),
                   conditions=detail, target=TARGET)  # fmt: skip
    table(
        f"end-to-end benchmark: {LINES} lines, {where['cpu_count']} cores, every service and "
        "server and this client on them",
        ["", "events/s acked", "tracers", "p50 ms", "p99 ms", "p99 x base", "p50 last 1/3",
         "backlog", "cores busy"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
