"""Gateway throughput: valid events/s from MQTT QoS 1 onto Kafka, one gateway and then two,
as a ratio against a bare paho-mqtt QoS 1 receive loop measured in the same run.

Method, the same for each contender: its persistent session is created, the broker is loaded
with N messages queued for it, then it is started and timed from the first message received to
the last one done (for a gateway: acknowledged by Kafka, read from its /metrics, sparingly).
Each contender runs in its own process. Real servers: the embedded Mosquitto and Tansu brokers.
The three contenders take turns, ``--rounds`` times; each figure is the median of its rounds
(one run of each on this 2-core machine varied by up to a third from the next).

    python bench/bench_gateway.py [--events 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from common import conditions, cpu_seconds_by_program, cpu_share, record, say, table
from services.runtime.mqtt_url import parse_mqtt_url
from services.stack.embedded.process import free_port
from services.stack.embedded.stack import EmbeddedStack, Endpoints, StackPlan

HERE = Path(__file__).parent
PRELOAD_WINDOW = 20_000


def preload(url: str, count: int) -> None:
    """Publish ``count`` valid machine events over 200 lines, every PUBACK awaited."""
    address = parse_mqtt_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(address.host, address.port)
    client.loop_start()
    infos: list[mqtt.MQTTMessageInfo] = []
    for i in range(count):
        if len(infos) == PRELOAD_WINDOW:  # packet ids are 16 bits: let the broker catch up
            for info in infos:
                info.wait_for_publish(600)
            infos.clear()
        payload = json.dumps(
            {
                "event_id": f"e{i}",
                "ts": "2026-11-02T06:00:00+08:00",
                "state": "running" if i % 2 else "idle",
            }
        ).encode()
        infos.append(client.publish(f"floor/v1/bench/l{i % 200}/press/machine", payload, qos=1))
    for info in infos:
        info.wait_for_publish(600)
    client.disconnect()
    client.loop_stop()


def bare_loop(stack: Endpoints, count: int) -> float:
    client_id, group = f"bare-{uuid.uuid4().hex[:6]}", f"b{uuid.uuid4().hex[:6]}"
    argv = [
        sys.executable,
        str(HERE / "bare_receiver.py"),
        stack.mqtt_url,
        client_id,
        group,
        str(count),
    ]
    subprocess.run([*argv, "--prepare"], check=True, capture_output=True)
    preload(stack.mqtt_url, count)
    result = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
    assert result["received"] >= count, result
    return count / float(result["seconds"])


def _metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:  # noqa: S310
        text = response.read().decode()
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match[1]) if match else 0.0


def _start_gateways(
    stack: Endpoints, ids: list[str], group: str, ports: list[int], log: Path
) -> list[subprocess.Popen[bytes]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLOORSTREAM_")}
    processes = []
    for client_id, port in zip(ids, ports, strict=True):
        env = base | {
            "FLOORSTREAM_MQTT_URL": stack.mqtt_url,
            "FLOORSTREAM_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
            "FLOORSTREAM_GATEWAY_CLIENT_ID": client_id,
            "FLOORSTREAM_GATEWAY_SHARED_GROUP": group,
            "FLOORSTREAM_METRICS_PORT": str(port),
        }
        with log.open("ab") as output:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "floorstream", "gateway"],
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            )
    return processes


def _wait(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():  # type: ignore[operator]
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        time.sleep(0.01)


def _wait_produced(ports: list[int], count: int, first: float) -> None:
    """Until the gateways have produced ``count``. Each look at /metrics costs a gateway CPU
    (a request, a scrape of every collector), which the bare loop does not pay: look again
    when about half the rest should be done at the rate so far, at most every 0.2 s and at
    least every 5 ms near the end, which keeps the error under 5 ms."""
    deadline = first + 600
    while True:
        produced = sum(_metric(p, "floorstream_gateway_produced_total") for p in ports)
        if produced >= count:
            return
        now = time.perf_counter()
        if now > deadline:
            raise TimeoutError("benchmark step timed out")
        rate = produced / (now - first) if produced else 0.0
        rest = (count - produced) / rate if rate else 0.2
        time.sleep(min(0.2, max(0.005, rest / 2)))


def gateways(
    stack: Endpoints, count: int, how_many: int, log: Path
) -> tuple[float, dict[str, float]]:
    """Events/s of ``how_many`` gateways draining ``count`` queued events, and the cores each
    program kept busy meanwhile (the gateways, Mosquitto, Tansu: is there a core to spare?)."""
    ids = [f"gw-bench-{uuid.uuid4().hex[:6]}" for _ in range(how_many)]
    group, ports = f"g{uuid.uuid4().hex[:6]}", [free_port() for _ in range(how_many)]
    processes = _start_gateways(stack, ids, group, ports, log)  # 1. sessions to queue into
    _wait(lambda: all(_metric(p, "floorstream_gateway_mqtt_connected") == 1 for p in ports), 60)
    time.sleep(0.5)
    for process in processes:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    preload(stack.mqtt_url, count)  # 2. the load, queued by the broker
    processes = _start_gateways(stack, ids, group, ports, log)  # 3. drain it, timed
    try:
        _wait(lambda: sum(_metric(p, "floorstream_gateway_received_total") for p in ports) > 0, 120)
        first, before = time.perf_counter(), cpu_seconds_by_program()
        _wait_produced(ports, count, first)
        elapsed = time.perf_counter() - first
        return count / elapsed, cpu_share(before, cpu_seconds_by_program(), elapsed)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="events per run (50,000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender (3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with EmbeddedStack(StackPlan(Path(folder), durable=False)) as stack:
            log = Path(folder) / "gateway.log"
            cores = os.cpu_count()
            where = conditions(stack, events=args.events, lines=200, rounds=args.rounds)
            runs: dict[str, list[float]] = {"bare": [], "one": [], "two": []}
            for _ in range(args.rounds):
                runs["bare"].append(bare_loop(stack, args.events))
                rate, one_cores = gateways(stack, args.events, 1, log)
                runs["one"].append(rate)
                rate, two_cores = gateways(stack, args.events, 2, log)
                runs["two"].append(rate)
                say(f"  round: { ({k: round(v[-1]) for k, v in runs.items()}) }")
            bare, one, two = (statistics.median(runs[k]) for k in ("bare", "one", "two"))
            where["rounds_events_per_s"] = {k: [round(r) for r in v] for k, v in runs.items()}
    table(
        f"gateway benchmark: {args.events:,} events, {cores} cores, mqtt {stack.mqtt_flavour}",
        ["", "events/s", "x baseline", "cores busy"],
        [
            ("bare paho QoS 1 receive loop (baseline)", bare, 1.0, None),
            ("one gateway, MQTT -> Kafka acked", one, one / bare, sum(one_cores.values())),
            ("two gateways, shared subscription", two, two / bare, sum(two_cores.values())),
            ("two gateways / one gateway", None, two / one, None),
        ],
    )
    say(f"  cores busy in the last round, one gateway: {one_cores}")
    say(f"  cores busy in the last round, two gateways: {two_cores}")
    record("gateway", "one gateway", one, "events/s", baseline=bare, ratio=one / bare,
           conditions=where | {"cores_by_program": one_cores},
           target=">= 0.8x the bare loop")  # fmt: skip
    record("gateway", "two gateways", two, "events/s", baseline=one, ratio=two / one,
           conditions=where | {"cores_by_program": two_cores},
           target=">= 1.6x one gateway (baseline: one gateway)")  # fmt: skip


if __name__ == "__main__":
    main()
