"""`floorstream up`: the whole stack in one process tree.

1. start the servers it is not pointed at (embedded stack), each waited for; where MQTT
   credentials exist in the data directory (``floorstream mqtt credentials``), the embedded
   Mosquitto enforces them, the gateway logs in with its account and the simulator with its own
   (made here, publishing for the simulated factories only);
2. start gateway, processor, API and, if asked, the simulator as supervised children; with the
   embedded Kafka, which keeps its log in memory only, the gateway acknowledges an event to MQTT
   only once the processors have stored it (``FLOORSTREAM_KAFKA_DURABILITY=memory``:
   `ingest.processed_gate`);
3. wait for the API's ``/readyz``, register the board token, then print the board link, the
   admin token at its first start and the commands to paste (`_announce`); both tokens are
   kept in the data directory, owner-only (`services.api.token_command`);
4. while running, watch the embedded Kafka: when it dies, its log dies with it; stop the gateway
   and the processors (whose positions belong to the lost log), start the broker again with
   its topics, then the processors (they find the new log and read it from its start) and the
   gateway (the MQTT broker delivers again what it had not acknowledged): `_keep_kafka`;
5. on SIGINT or SIGTERM stop in the order of the data flow (`_stop_in_order`): the simulator,
   the gateway (what it has not acknowledged stays in its MQTT session), then, once the
   processors have applied everything Kafka holds (waited for at most `DRAIN_S`), the
   processors and the API; then the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from services.api.token_command import (
    ADMIN_TOKEN_FILE,
    DATA_DIR,
    UpTokens,
    data_dir_option,
    print_admin_token,
    register_board_token,
)
from services.cli import program
from services.runtime.errors import ServerStartError
from services.runtime.logs import configure_logging
from services.runtime.mqtt_credentials import LocalLogins, local_logins
from services.runtime.mqtt_url import with_login
from services.runtime.options import add_log_format, settings_with
from services.runtime.redact import masked_url
from services.runtime.settings import UpSettings
from services.stack.embedded.kafka import EmbeddedKafka
from services.stack.embedded.process import free_port
from services.stack.embedded.stack import EmbeddedStack, Endpoints, StackPlan
from services.stack.supervisor import ServiceSpec, Supervisor

log = logging.getLogger(f"floorstream.{__name__}")

READY_TIMEOUT_S = 60.0
DRAIN_S = 30.0
"""How long a stop waits for the processors to apply what Kafka holds."""
KAFKA_RESTART_DELAY_S = 2.0
SIMULATED_FACTORIES = 1
SIMULATED_LINES = 2


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "up",
        help="run the whole stack on one machine",
        description="Run the whole stack in one process tree: the servers not given through "
        "FLOORSTREAM_MQTT_URL / FLOORSTREAM_KAFKA_BOOTSTRAP / FLOORSTREAM_DATABASE_URL are "
        "started embedded, then gateway, processor, API and the simulator. Ready when "
        "GET /readyz answers 200; Ctrl-C (or SIGTERM) stops everything. The admin token and the "
        "board links' token (role board) are made once per --data-dir and kept there, "
        "owner-only (admin.token, board.token); --print-admin-token prints the admin token.",
    )
    parser.add_argument(
        "--simulate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run a simulated factory publishing over MQTT (default: on)",
    )
    parser.add_argument(
        "--api-port",
        type=int,
        default=8000,
        help="port of the HTTP API and board pages (default 8000)",
    )
    parser.add_argument(
        "--mqtt-port",
        type=int,
        default=1883,
        help="port of the embedded MQTT broker (default 1883; 0 = any free port)",
    )
    parser.add_argument(
        "--kafka-port",
        type=int,
        default=9092,
        help="port of the embedded Kafka broker (default 9092; 0 = any free port)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        help="where the embedded servers keep their data and logs, and the admin and board "
        "tokens their owner alone may read, kept across restarts (default .floorstream)",
    )
    parser.add_argument(
        "--print-admin-token",
        action="store_true",
        help="print the admin token and exit, starting nothing: FLOORSTREAM_BOOTSTRAP_TOKEN "
        "where set, else the one kept in the data directory since the first start",
    )
    add_log_format(parser)
    parser.set_defaults(run=run)


def _stop_on_sigterm() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def run(args: argparse.Namespace) -> int:
    settings = settings_with(UpSettings, log_format=args.log_format)
    if args.print_admin_token:
        return print_admin_token(settings.bootstrap_token, args.data_dir)
    configure_logging(settings.log_level, settings.log_format, name="up")
    _stop_on_sigterm()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    tokens = UpTokens.load(  # a token file not owner-only is refused here, before any start
        settings.bootstrap_token,
        args.data_dir,
        _simulated_factories() if args.simulate else [],
        embedded_database=settings.database_url is None,
    )
    logins = None
    if settings.mqtt_url is None:  # credentials apply to the embedded broker only
        simulated = _simulated_factories() if args.simulate else []
        logins = local_logins(args.data_dir, simulated_factories=simulated)
        if logins is not None:
            log.info(
                "MQTT credentials found in %s: the embedded broker will refuse anonymous clients "
                "(`floorstream mqtt list --data-dir %s` shows the accounts)",
                logins.files.password_file.parent,
                args.data_dir,
            )
    stack = EmbeddedStack(_plan(args, settings, logins))
    try:
        with stack as endpoints:
            env = (
                dict(os.environ)
                | endpoints.environment()
                | {
                    "FLOORSTREAM_BOOTSTRAP_TOKEN": tokens.admin,
                    "FLOORSTREAM_API_PORT": str(args.api_port),
                    "FLOORSTREAM_LOG_FORMAT": settings.log_format,
                }
            )
            if stack.kafka is not None:  # its log is in memory: see step 2
                env["FLOORSTREAM_KAFKA_DURABILITY"] = "memory"
            gateway_metrics, processor_metrics = free_port(), free_port()
            gateway_env, simulator_env = _mqtt_logins(endpoints.mqtt_url, logins)
            supervisor = Supervisor(
                _services(gateway_metrics, processor_metrics, gateway_env), env=env
            )
            asyncio.run(
                _run(
                    supervisor,
                    endpoints,
                    args.api_port,
                    tokens,
                    simulator=_simulator(simulator_env) if args.simulate else None,
                    gateway_metrics=gateway_metrics,
                    processor_metrics=processor_metrics,
                    kafka=stack.kafka,
                )
            )
    except KeyboardInterrupt:
        pass
    log.info("stopped")
    return 0


def _plan(args: argparse.Namespace, settings: UpSettings, logins: LocalLogins | None) -> StackPlan:
    """The servers to start: those ``settings`` do not point at (each of those passed on to the
    services as its variable)."""
    mqtt, kafka, database = settings.mqtt_url, settings.kafka_bootstrap, settings.database_url
    return StackPlan(
        args.data_dir,
        mqtt_url=None if mqtt is None else mqtt.url(),
        kafka_bootstrap=None if kafka is None else ",".join(kafka),
        database_url=None if database is None else database.get_secret_value(),
        mqtt_port=args.mqtt_port,
        kafka_port=args.kafka_port,
        mqtt_auth=logins.files if logins is not None else None,
    )


def _command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "floorstream", *argv]


def _simulated_factories() -> list[str]:
    """The factories `floorstream simulate --factories N` publishes for: f1..fN."""
    return [f"f{n}" for n in range(1, SIMULATED_FACTORIES + 1)]


def _mqtt_logins(
    mqtt_url: str, logins: LocalLogins | None
) -> tuple[dict[str, str], dict[str, str]]:
    """The MQTT URL with its login, for the gateway and for the simulator, where required."""
    if logins is None:
        return {}, {}
    gateway = {
        "FLOORSTREAM_MQTT_URL": with_login(mqtt_url, *logins.gateway),
        # Secret names: Mosquitto's ACLs cannot keep a factory account out of the gateway's
        # shared group or off its client id (`mqtt_credentials.gateway_secrets`).
        "FLOORSTREAM_GATEWAY_CLIENT_ID": logins.gateway_client_id,
        "FLOORSTREAM_GATEWAY_SHARED_GROUP": logins.gateway_group,
    }
    simulator = {}
    if logins.simulator is not None:
        simulator = {"FLOORSTREAM_MQTT_URL": with_login(mqtt_url, *logins.simulator)}
    return gateway, simulator


def _simulator(env: dict[str, str]) -> ServiceSpec:
    size = ["--factories", str(SIMULATED_FACTORIES), "--lines", str(SIMULATED_LINES)]
    return ServiceSpec("simulator", _command("simulate", *size), env)


def _services(
    gateway_metrics: int, processor_metrics: int, gateway_env: dict[str, str]
) -> list[ServiceSpec]:
    command = _command
    metrics = ["--metrics-port", str(gateway_metrics)]
    processor = ["--metrics-port", str(processor_metrics)]
    specs = [
        ServiceSpec("gateway", command("gateway", *metrics), gateway_env),
        ServiceSpec("processor", command("processor", *processor)),
        ServiceSpec("api", command("api")),
    ]
    return specs


async def _run(
    supervisor: Supervisor,
    endpoints: Endpoints,
    api_port: int,
    tokens: UpTokens,
    *,
    simulator: ServiceSpec | None,
    gateway_metrics: int,
    processor_metrics: int,
    kafka: EmbeddedKafka | None = None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    services_stop = asyncio.Event()  # set once `_stop_in_order` has stopped them
    watch = asyncio.create_task(supervisor.run(services_stop))
    keeper = asyncio.create_task(_keep_kafka(kafka, supervisor, stop)) if kafka else None
    try:
        base, admin = f"http://127.0.0.1:{api_port}", tokens.admin
        if await _wait_for(lambda: _answers_200(f"{base}/readyz"), stop, "the API to be ready"):
            if simulator is not None:
                await _start_simulator(supervisor, simulator, base, admin, gateway_metrics, stop)
            metrics = {"gateway": gateway_metrics, "processor": processor_metrics}
            board = await register_board_token(
                endpoints.database_url, tokens.data_dir, tokens.board, tokens.factories
            )
            _announce(base, endpoints, metrics, tokens, board)
        await stop.wait()
        if keeper is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        await _stop_in_order(supervisor, processor_metrics)
    finally:
        services_stop.set()
        await watch


async def _stop_in_order(supervisor: Supervisor, processor_metrics: int) -> None:
    """Step 5: stop the services in the order of the data flow."""
    supervisor.pause("simulator")
    supervisor.pause("gateway")
    log.info(
        "stopping: simulator and gateway stopped (what the gateway had not acknowledged stays "
        "with the MQTT broker); waiting up to %.0fs for the processors to apply what Kafka holds",
        DRAIN_S,
    )
    deadline = time.monotonic() + DRAIN_S
    lag = await asyncio.to_thread(_processor_lag, processor_metrics)
    while lag and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        lag = await asyncio.to_thread(_processor_lag, processor_metrics)
    if lag is None:
        log.warning("stopping: the processors' lag is unknown (their metrics do not answer)")
    elif lag:
        log.warning(
            "stopping with %d records on Kafka not yet applied by the processors (the embedded "
            "Kafka loses them; MQTT delivers them again at the next start, as the gateway did "
            "not acknowledge them; a real Kafka keeps them)",
            lag,
        )
    else:
        log.info("stopping: the processors have applied everything Kafka holds")
    supervisor.pause("processor")
    supervisor.pause("api")


def _processor_lag(port: int) -> int | None:
    """The records the processors have yet to apply, summed over groups and partitions, from
    their metrics (None: unknown, as when the processor is not running)."""
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own port
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("floorstream_processor_lag{")
    ]
    return int(sum(values)) if values else None


async def _keep_kafka(kafka: EmbeddedKafka, supervisor: Supervisor, stop: asyncio.Event) -> None:
    """Step 4: restart the embedded Kafka when it dies, and the services that use its log."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
        code = kafka.exit_code()
        if code is None or stop.is_set():
            continue
        log.error(
            "the embedded Kafka broker exited (code %s), and its log, kept in memory, with it: "
            "restarting it, with the gateway and the processors",
            code,
        )
        supervisor.pause("gateway", grace=5)
        supervisor.pause("processor", grace=5)
        kafka.stop()
        while not stop.is_set():
            try:
                kafka.start()  # from this, the main thread: see `embedded.process`
                break
            except ServerStartError as error:
                log.error("could not start the embedded Kafka broker again: %s", error)
                kafka.stop()
                await asyncio.sleep(KAFKA_RESTART_DELAY_S)
        if stop.is_set():
            return
        supervisor.resume("processor")
        supervisor.resume("gateway")
        log.warning(
            "the embedded Kafka broker is back with an empty log: the processors read it from "
            "its start, and the MQTT broker delivers again what the gateway had not acknowledged"
        )


async def _start_simulator(
    supervisor: Supervisor,
    simulator: ServiceSpec,
    base: str,
    token: str,
    gateway_metrics: int,
    stop: asyncio.Event,
) -> None:
    """Once the gateway is subscribed: messages published before any subscription exists are
    delivered to no one (MQTT), and the simulation opens with its lines' first states."""
    if await _wait_for(lambda: _gateway_connected(gateway_metrics), stop, "the gateway"):
        await asyncio.to_thread(_configure_simulated_lines, base, token)
        supervisor.add(simulator)


async def _wait_for(check: Callable[[], bool], stop: asyncio.Event, what: str) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not stop.is_set():
        if await asyncio.to_thread(check):
            return True
        if time.monotonic() > deadline:
            log.warning("still waiting for %s after %.0fs", what, READY_TIMEOUT_S)
            deadline = float("inf")
        await asyncio.sleep(0.25)
    return False


def _gateway_connected(port: int) -> bool:
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own port
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return False
    return "floorstream_gateway_mqtt_connected 1.0" in text


def _http(
    method: str, url: str, *, token: str | None = None, body: object = None
) -> tuple[int, Any]:
    """One request to our own API on 127.0.0.1: the status and the JSON answer."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, headers, method=method)  # noqa: S310 - http
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def _answers_200(url: str) -> bool:
    try:
        return _http("GET", url)[0] == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _configure_simulated_lines(base: str, token: str) -> None:
    """Give the simulated lines their settings (shifts, time zone, constraint station), where
    they have none yet: an operator's own settings are never overwritten."""
    from services.simulator.layout import line_settings_for

    for f in range(1, SIMULATED_FACTORIES + 1):
        for n in range(1, SIMULATED_LINES + 1):
            url = f"{base}/api/v1/factories/f{f}/lines/l{n}"
            status, line = _http("GET", url, token=token)
            if status == 200 and line.get("settings"):
                continue
            status, _ = _http("PUT", url, token=token, body=line_settings_for(f"f{f}", f"l{n}"))
            if status == 200:
                log.info("configured the simulated line f%d/l%d", f, n)
            else:
                log.warning("could not configure the simulated line f%d/l%d: %s", f, n, status)


def _announce(
    base: str, endpoints: Endpoints, metrics: dict[str, int], plan: UpTokens, board: str | None
) -> None:
    cli, here = program(), data_dir_option(plan.data_dir)
    admin_file = plan.data_dir / ADMIN_TOKEN_FILE
    admin_line = {
        "new": f"admin token (shown at this first start only; kept in {admin_file}): {plan.admin}",
        "kept": f"admin token: kept in {admin_file} (`{cli} up --print-admin-token{here}`)",
        "environment": "admin token: the one in FLOORSTREAM_BOOTSTRAP_TOKEN",
    }[plan.admin_source]
    boards = (
        f"{base}/?token={board}   (role board: what a screen may do, no more)"
        if board
        else "none yet: no factory is known; the next start prints a board link once one has "
        "reported (or make a board token, below)"
    )
    factory = (plan.factories or ["F"])[0]
    database = "" if plan.embedded_database else " (with your FLOORSTREAM_DATABASE_URL)"
    kafka = f"FLOORSTREAM_KAFKA_BOOTSTRAP={shlex.quote(endpoints.kafka_bootstrap)}"
    lines = [
        "",
        "floorstream is up.",
        f"  boards:   {boards}",
        f"  {admin_line}",
        f"  api:      {base}/docs   (readiness {base}/readyz, metrics {base}/metrics)",
        *(
            f"  {name + ':':<9} metrics http://127.0.0.1:{port}/metrics   "
            f"(health /healthz, readiness /readyz)"
            for name, port in metrics.items()
        ),
        f"  mqtt:     {masked_url(endpoints.mqtt_url)} ({endpoints.mqtt_flavour})",
        f"  kafka:    {endpoints.kafka_bootstrap}",
        f"  postgres: {masked_url(endpoints.database_url)}",
        f"From this directory, in any shell{database}:",
        f"  {cli} up --print-admin-token{here}   # the admin token",
        f"  {cli} token list{here}   # the API tokens",
        f"  {cli} token create --role board --factory {factory}{here}   # a screen's own token",
        f"  {kafka} {cli} dead-letters --follow   # the events refused, and why",
        "Press Ctrl-C to stop.",
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
