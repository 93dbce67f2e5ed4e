"""Every simulated message keeps docs/contract.md §3, checked by hand and by `schemas`."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from schemas import LineSettings, validate_message
from services.simulator.layout import line_settings_for
from tests.unit.simulator.floor import Record

TOPIC = re.compile(
    r"floor/v1/([a-z0-9_-]{1,64})/([a-z0-9_-]{1,64})/([a-z0-9_-]{1,64})/"
    r"(machine|production|people|material|order)"
)
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)")
STATES = {"running", "idle", "starved", "blocked", "down", "setup", "planned_stop", "offline"}
MATERIAL_ACTIONS = {"loaded", "consumed", "level", "shortage", "replenished"}

# kind: (required fields and their types, optional fields and their types)
FIELDS: dict[str, tuple[dict[str, type], dict[str, type]]] = {
    "machine": ({"state": str}, {"reason": str}),
    "production": ({"good": int, "scrap": int}, {}),
    "people": ({"action": str, "operator_id": str, "role": str}, {}),
    "material": ({"action": str, "material_id": str, "quantity": float, "unit": str}, {}),
    "order": (
        {
            "action": str,
            "order_id": str,
            "product_id": str,
            "target_quantity": int,
            "ideal_cycle_time_s": float,
        },
        {},
    ),
}


def _check_common(raw: bytes, payload: dict[str, Any]) -> None:
    assert len(raw) <= 64 * 1024
    assert json.loads(raw.decode("utf-8")) == payload
    assert isinstance(payload["event_id"], str) and 1 <= len(payload["event_id"]) <= 128
    assert RFC3339.fullmatch(payload["ts"]), payload["ts"]
    assert datetime.fromisoformat(payload["ts"]).tzinfo is not None


def _check_fields(kind: str, payload: dict[str, Any]) -> None:
    required, optional = FIELDS[kind]
    assert set(payload) - {"event_id", "ts"} - set(optional) == set(required), payload
    for name, kind_type in (required | optional).items():
        if name in payload:
            value = payload[name]
            assert type(value) is kind_type, (name, value)  # bool is no int here
    if kind == "machine":
        assert payload["state"] in STATES
    elif kind == "production":
        assert payload["good"] >= 0 and payload["scrap"] >= 0
    elif kind == "people":
        assert payload["action"] in {"check_in", "check_out"}
    elif kind == "material":
        assert payload["action"] in MATERIAL_ACTIONS and payload["quantity"] >= 0.0
    else:
        assert payload["action"] in {"start", "end"}
        assert payload["target_quantity"] > 0 and payload["ideal_cycle_time_s"] > 0.0


def test_topics_and_payloads_keep_the_contract(day: list[Record]) -> None:
    for record in day:
        match = TOPIC.fullmatch(record.event.topic)
        assert match, record.event.topic
        raw = record.event.encode()
        _check_common(raw, record.payload)
        _check_fields(match.group(4), record.payload)


def test_the_gateway_validation_accepts_every_message(day: list[Record]) -> None:
    for record in day:
        event = validate_message(record.event.topic, record.event.encode())
        assert event.kind == record.kind
        assert event.station == record.station


def test_the_line_settings_keep_the_contract() -> None:
    settings = line_settings_for("f1", "l1")
    assert set(settings) == {
        "name",
        "timezone",
        "ideal_cycle_time_s",
        "constraint_station",
        "shifts",
        "small_stop_threshold_s",
        "materials",
    }
    assert settings["timezone"] == "Asia/Shanghai"
    assert settings["shifts"] == [
        {
            "name": "A",
            "start": "06:00",
            "end": "14:00",
            "breaks": [{"start": "09:00", "end": "09:15"}, {"start": "11:30", "end": "12:00"}],
        },
        {
            "name": "B",
            "start": "14:00",
            "end": "22:00",
            "breaks": [{"start": "17:00", "end": "17:15"}, {"start": "19:30", "end": "20:00"}],
        },
    ]
    json.dumps(settings)  # plain JSON, ready for PUT /api/v1/factories/f1/lines/l1
    for factory, line in [("f1", "l1"), ("f5", "l9"), ("f12", "l3")]:
        LineSettings.model_validate(line_settings_for(factory, line))
