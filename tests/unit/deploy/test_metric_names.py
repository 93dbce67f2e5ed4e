"""The Grafana dashboard, the alert rules and docs/operations.md query only metrics that exist.

Every name comes from the code: the bundles `GatewayMetrics`, `ProcessorMetrics` and
`ApiMetrics`, each created on a fresh registry.
"""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import CollectorRegistry

from ingest.metrics import GatewayMetrics
from services.api.metrics import ApiMetrics
from services.runtime.consumer_metrics import ProcessorMetrics

from . import artifacts

SERIES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
}
"""The series names prometheus_client exposes for a family of each type."""

METRIC = re.compile(r"\bfloorstream_[a-z0-9_]+")


def _families() -> dict[str, str]:
    registry = CollectorRegistry()
    GatewayMetrics.create(registry)
    ProcessorMetrics.create(registry)
    ApiMetrics.create(registry)
    return {family.name: family.type for family in registry.collect()}


def known_series() -> set[str]:
    return {name + suffix for name, kind in _families().items() for suffix in SERIES[kind]}


def _dashboard_panels() -> list[dict[str, Any]]:
    dashboard = artifacts.load_json(artifacts.DASHBOARD)
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def _alert_rules() -> list[dict[str, Any]]:
    (rules,) = artifacts.load_yaml(artifacts.ALERTS)
    return [rule for group in rules["groups"] for rule in group["rules"]]


def test_the_families_are_read_from_the_code() -> None:
    assert "floorstream_gateway_dead_lettered_total" in known_series()
    assert "floorstream_gateway_produce_latency_seconds_bucket" in known_series()
    assert "floorstream_processor_lag" in known_series()
    assert "floorstream_processor_skipped_total" in known_series()
    assert "floorstream_api_request_seconds_bucket" in known_series()
    assert "floorstream_api_screens" in known_series()


def test_the_dashboard_queries_only_known_metrics() -> None:
    queried = {
        name
        for panel in _dashboard_panels()
        for target in panel["targets"]
        for name in METRIC.findall(target["expr"])
    }
    assert queried
    assert queried - known_series() == set()


def test_the_dashboard_covers_every_gateway_processor_and_api_area() -> None:
    text = " ".join(t["expr"] for panel in _dashboard_panels() for t in panel["targets"])
    for family in _families():
        assert family in text, f"no panel shows {family}"


def test_dashboard_panels_have_unique_ids_and_the_datasource_variable() -> None:
    dashboard = artifacts.load_json(artifacts.DASHBOARD)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    for panel in _dashboard_panels():
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]


def test_the_alert_rules_query_only_known_metrics() -> None:
    rules = _alert_rules()
    assert rules
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= rule.keys()
        assert set(METRIC.findall(rule["expr"])) - known_series() == set(), rule["alert"]


def test_the_operations_page_names_only_known_metrics() -> None:
    text = artifacts.OPERATIONS.read_text(encoding="utf-8")
    assert set(METRIC.findall(text)) - known_series() == set()
