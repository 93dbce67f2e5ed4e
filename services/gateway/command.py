"""`floorstream gateway`: the MQTT→Kafka ingest gateway, and its one wiring point.

With ``FLOORSTREAM_METRICS_PORT`` set, ``/metrics`` (`GatewayMetrics`), ``/healthz`` and
``/readyz`` (kafka: connected, records acknowledged, a metadata request answered; mqtt:
connected) answer on it from the start, on ``FLOORSTREAM_METRICS_HOST``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from services.runtime.ops_server import NotReady, Readiness, serve_with_ops
from services.runtime.options import add_log_format, settings_with
from services.runtime.outage import Outage
from services.runtime.service import run_service
from services.runtime.settings import GatewaySettings

log = logging.getLogger("floorstream.gateway")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "gateway",
        help="run the MQTT → Kafka ingest gateway",
        description="Subscribe to floor/v1/# (shared subscription $share/floorstream/..., so "
        "several gateways split the load) and put every valid event on floor.events.v1, every "
        "invalid one on floor.events.dlq.v1 with its reason. A message is acknowledged to MQTT "
        "only once Kafka has it. Needs FLOORSTREAM_MQTT_URL and FLOORSTREAM_KAFKA_BOOTSTRAP.",
    )
    parser.add_argument(
        "--client-id",
        help="MQTT client id; each gateway needs its own, kept "
        "across restarts (default floorstream-gateway, env "
        "FLOORSTREAM_GATEWAY_CLIENT_ID)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="serve /metrics, /healthz and /readyz on this port "
        "(default 0 = off, env FLOORSTREAM_METRICS_PORT)",
    )
    add_log_format(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_with(
        GatewaySettings,
        gateway_client_id=args.client_id,
        metrics_port=args.metrics_port,
        log_format=args.log_format,
    )
    return run_service("gateway", settings, lambda stop: serve(settings, stop))


async def serve(
    settings: GatewaySettings, stop: asyncio.Event, *, registry: CollectorRegistry | None = None
) -> None:
    """Open the gateway's resources, run it until ``stop``, close them in reverse."""
    await serve_with_ops(
        settings,
        ("kafka", "mqtt"),
        lambda metrics, readiness: _serve(settings, stop, metrics, readiness),
        registry=registry,
    )


async def _serve(
    settings: GatewaySettings,
    stop: asyncio.Event,
    registry: CollectorRegistry,
    readiness: Readiness,
) -> None:
    from ingest.kafka_sink import KafkaSink
    from ingest.metrics import GatewayMetrics
    from ingest.mqtt_source import MqttSource
    from ingest.pipeline import Gateway
    from services.runtime.kafka_topics import ensure_topics_when_reachable

    metrics = GatewayMetrics.create(registry)
    kafka = ",".join(settings.kafka_bootstrap)
    readiness.pending("kafka", f"not reachable yet at {kafka}")
    if not await ensure_topics_when_reachable(kafka, stop):
        return
    sink = KafkaSink(
        kafka,
        metrics,
        outage=Outage(log, "kafka", detail="holding messages unacknowledged until it returns"),
        linger_ms=settings.gateway_linger_ms,
        idempotence=settings.kafka_idempotence,
    )

    async def kafka_ready() -> None:
        if not sink.started:
            raise NotReady("not connected yet")
        if not sink.acknowledging:
            raise NotReady("records are not being acknowledged")
        await sink.metadata()

    readiness.add("kafka", kafka_ready)
    if not await sink.start(stop):
        return
    address = settings.mqtt_url
    source = MqttSource(
        address.host,
        address.port,
        metrics,
        username=address.username,
        password=address.password,
        tls=address.tls,
        client_id=settings.gateway_client_id,
        shared_group=settings.gateway_shared_group,
        shared=settings.gateway_shared_subscription,
        receive_maximum=settings.gateway_max_in_flight,
        loop=asyncio.get_running_loop(),
        outage=Outage(log, f"mqtt broker {address.host}:{address.port}", detail="reconnecting"),
    )

    async def mqtt_ready() -> None:
        if not source.connected:
            raise NotReady("not connected to the broker")

    readiness.add("mqtt", mqtt_ready)
    gate = None
    if settings.kafka_durability == "memory":
        from ingest.processed_gate import ProcessedGate
        from schemas import EVENTS_TOPIC

        gate = ProcessedGate(kafka, EVENTS_TOPIC, settings.gateway_processed_groups)
        log.info(
            "kafka keeps its log in memory only: an event is acknowledged to MQTT once the "
            "groups %s have stored it",
            ", ".join(settings.gateway_processed_groups),
        )
    log.info("gateway started (client id %s)", settings.gateway_client_id)
    gateway = Gateway(
        source,
        sink,
        metrics,
        batch_max=settings.gateway_batch_size,
        gate=gate,
        future_tolerance=timedelta(seconds=settings.future_tolerance_s),
    )
    await gateway.run(stop)
