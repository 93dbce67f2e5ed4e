"""JSON Schema files of the contract, for integrators who validate payloads before sending.

One file per kind of MQTT payload (the envelope fields included), one for the line settings
of the HTTP API and one for the dead-letter record. The files use JSON Schema 2020-12 and
contain only standard keywords, so any validator reads them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

from schemas.events import MODEL_BY_KIND
from schemas.line_settings import LineSettings
from schemas.topics import DLQ_TOPIC, MQTT_TOPIC_PREFIX
from schemas.types import MAX_PAYLOAD_BYTES
from schemas.validation import DeadLetter

__all__ = ["SCHEMA_DIALECT", "SCHEMA_ID_PREFIX", "export_json_schemas", "json_schemas"]

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_PREFIX: Final = "urn:floorstream:schema:v1:"
"""A URN rather than a web address: the schemas are files shipped with the package."""


def json_schemas() -> dict[str, dict[str, Any]]:
    """Every schema of the contract by file stem: the kinds, ``line-settings``, ``dead-letter``."""
    schemas: dict[str, dict[str, Any]] = {}
    for kind, model in MODEL_BY_KIND.items():
        schemas[kind.value] = _document(
            kind.value,
            model,
            title=f"floorstream {kind.value} event",
            description=(
                f"Payload of MQTT topic {MQTT_TOPIC_PREFIX}/{{factory}}/{{line}}/{{station}}/"
                f"{kind.value}: one JSON object (UTF-8), at most {MAX_PAYLOAD_BYTES} bytes. "
                f"{_first_line(model)} Further fields are kept but not interpreted; "
                "factory, line, station and kind come from the topic."
            ),
        )
    schemas["line-settings"] = _document(
        "line-settings",
        LineSettings,
        title="floorstream line settings",
        description="Body of PUT /api/v1/factories/{factory}/lines/{line}.",
    )
    schemas["dead-letter"] = _document(
        "dead-letter",
        DeadLetter,
        title="floorstream dead letter",
        description=f"Value of Kafka topic {DLQ_TOPIC}: a message that broke the contract.",
    )
    return schemas


def export_json_schemas(directory: Path) -> list[Path]:
    """Write ``{name}.schema.json`` for each schema into `directory`, creating it if needed.

    Returns:
        The paths written, in a stable order.

    Raises:
        OSError: the directory cannot be created or a file cannot be written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, schema in json_schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _document(name: str, model: type[BaseModel], *, title: str, description: str) -> dict[str, Any]:
    body = model.model_json_schema(mode="validation")
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"{SCHEMA_ID_PREFIX}{name}",
        "title": title,
        "description": description,
        **body,
    }


def _first_line(model: type[BaseModel]) -> str:
    return (model.__doc__ or "").strip().split("\n", 1)[0]
