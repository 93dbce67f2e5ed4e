"""The gateway's Prometheus metrics: a typed bundle on an injected registry, set at the edges."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class GatewayMetrics:
    received: Counter
    produced: Counter
    dead_lettered: Counter
    in_flight: Gauge
    held: Gauge
    produce_latency: Histogram
    kafka_up: Gauge
    mqtt_connected: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> GatewayMetrics:
        prefix = "floorstream_gateway"
        return cls(
            received=Counter(f"{prefix}_received", "MQTT messages received", registry=registry),
            produced=Counter(
                f"{prefix}_produced",
                "valid events acknowledged by Kafka on floor.events.v1",
                registry=registry,
            ),
            dead_lettered=Counter(
                f"{prefix}_dead_lettered",
                "invalid messages written to floor.events.dlq.v1, by reason",
                ["reason"],
                registry=registry,
            ),
            in_flight=Gauge(
                f"{prefix}_in_flight",
                "messages received and not yet acknowledged to MQTT",
                registry=registry,
            ),
            held=Gauge(
                f"{prefix}_held",
                "events on Kafka whose MQTT acknowledgement waits for the processors to store "
                "them (FLOORSTREAM_KAFKA_DURABILITY=memory only)",
                registry=registry,
            ),
            produce_latency=Histogram(
                f"{prefix}_produce_latency_seconds",
                "from MQTT arrival to Kafka acknowledgement",
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=registry,
            ),
            kafka_up=Gauge(
                f"{prefix}_kafka_up", "1 while Kafka accepts records, else 0", registry=registry
            ),
            mqtt_connected=Gauge(
                f"{prefix}_mqtt_connected",
                "1 while connected to the MQTT broker with the subscription granted, else 0",
                registry=registry,
            ),
        )
