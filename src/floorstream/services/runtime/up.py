"""`floorstream up`: the whole stack in one process tree.

1. start the servers it is not pointed at (embedded stack), each waited for;
2. start gateway, processor, API and, if asked, the simulator as supervised children;
3. wait for the API's ``/readyz``, then print the board link and the admin token once;
4. on SIGINT or SIGTERM stop the services, then the servers, in reverse order.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from floorstream.services.runtime.embedded.stack import EmbeddedStack, Endpoints, StackPlan
from floorstream.services.runtime.logs import configure_logging
from floorstream.services.runtime.options import add_log_format, settings_with
from floorstream.services.runtime.settings import UpSettings
from floorstream.services.runtime.supervisor import ServiceSpec, Supervisor

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "up",
        help="run the whole stack on one machine",
        description="Run the whole stack in one process tree: the servers not given through "
        "FLOORSTREAM_MQTT_URL / FLOORSTREAM_KAFKA_BOOTSTRAP / FLOORSTREAM_DATABASE_URL are "
        "started embedded, then gateway, processor, API and the simulator. Ready when "
        "GET /readyz answers 200; Ctrl-C (or SIGTERM) stops everything.",
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
        default=Path(".floorstream"),
        help="where the embedded servers keep their data and logs, kept across "
        "restarts (default .floorstream)",
    )
    add_log_format(parser)
    parser.set_defaults(run=run)


def _stop_on_sigterm() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def run(args: argparse.Namespace) -> int:
    settings = settings_with(UpSettings, log_format=args.log_format)
    configure_logging(settings.log_level, settings.log_format, name="up")
    _stop_on_sigterm()
    generated = settings.bootstrap_token is None
    token = (
        secrets.token_urlsafe(24)
        if settings.bootstrap_token is None
        else settings.bootstrap_token.get_secret_value()
    )
    plan = StackPlan(
        args.data_dir,
        mqtt_url=settings.mqtt_url,
        kafka_bootstrap=settings.kafka_bootstrap,
        database_url=settings.database_url,
        mqtt_port=args.mqtt_port,
        kafka_port=args.kafka_port,
    )
    try:
        with EmbeddedStack(plan) as endpoints:
            env = (
                dict(os.environ)
                | endpoints.environment()
                | {
                    "FLOORSTREAM_BOOTSTRAP_TOKEN": token,
                    "FLOORSTREAM_API_PORT": str(args.api_port),
                    "FLOORSTREAM_LOG_FORMAT": settings.log_format,
                }
            )
            supervisor = Supervisor(_services(args.simulate), env=env)
            asyncio.run(_run(supervisor, endpoints, args.api_port, token if generated else None))
    except KeyboardInterrupt:
        pass
    log.info("stopped")
    return 0


def _services(simulate: bool) -> list[ServiceSpec]:
    def command(*argv: str) -> list[str]:
        return [sys.executable, "-m", "floorstream", *argv]

    specs = [
        ServiceSpec("gateway", command("gateway")),
        ServiceSpec("processor", command("processor")),
        ServiceSpec("api", command("api")),
    ]
    if simulate:
        specs.append(ServiceSpec("simulator", command("simulate")))
    return specs


async def _run(
    supervisor: Supervisor, endpoints: Endpoints, api_port: int, generated_token: str | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watch = asyncio.create_task(supervisor.run(stop))
    base = f"http://127.0.0.1:{api_port}"
    if await _wait_ready(f"{base}/readyz", stop):
        _announce(base, endpoints, generated_token)
    await watch


async def _wait_ready(url: str, stop: asyncio.Event) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not stop.is_set():
        if await asyncio.to_thread(_answers_200, url):
            return True
        if time.monotonic() > deadline:
            log.warning("the API did not become ready in %.0fs; still trying", READY_TIMEOUT_S)
            deadline = float("inf")
        await asyncio.sleep(0.25)
    return False


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _announce(base: str, endpoints: Endpoints, generated_token: str | None) -> None:
    token_note = (
        "admin token (shown once, keep it): " + generated_token
        if generated_token
        else "admin token: the one in FLOORSTREAM_BOOTSTRAP_TOKEN"
    )
    link_token = generated_token or "<FLOORSTREAM_BOOTSTRAP_TOKEN>"
    lines = [
        "",
        "floorstream is up.",
        f"  boards:   {base}/?token={link_token}",
        f"  {token_note}",
        f"  api:      {base}/docs   (readiness {base}/readyz, metrics {base}/metrics)",
        f"  mqtt:     {endpoints.mqtt_url} ({endpoints.mqtt_flavour})",
        f"  kafka:    {endpoints.kafka_bootstrap}",
        f"  postgres: {endpoints.database_url}",
        "Press Ctrl-C to stop.",
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
