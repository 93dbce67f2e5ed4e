"""The exported JSON Schema files: well-formed, identified, and in agreement with the models.

No JSON Schema library is a dependency, so `conforms` below checks the keywords these files use;
it is a test aid, not a validator.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from schemas import MODEL_BY_KIND, Kind, LineSettings, export_json_schemas
from schemas.validation import DeadLetter
from tests.unit.schemas.examples import CONTRACT_EXAMPLES

NAMES = [kind.value for kind in Kind] + ["line-settings", "dead-letter"]
TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}


def conforms(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    if "$ref" in schema:
        return conforms(value, root["$defs"][schema["$ref"].rsplit("/", 1)[1]], root)
    if "anyOf" in schema and not any(conforms(value, s, root) for s in schema["anyOf"]):
        return False
    if "type" in schema and not _has_type(value, schema["type"]):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "const" in schema and value != schema["const"]:
        return False
    if isinstance(value, str) and not _string_conforms(value, schema):
        return False
    if isinstance(value, int | float) and not _number_conforms(value, schema):
        return False
    if isinstance(value, list) and "items" in schema:
        return all(conforms(item, schema["items"], root) for item in value)
    if isinstance(value, dict):
        return _object_conforms(value, schema, root)
    return True


def _has_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, TYPES[name])


def _string_conforms(value: str, schema: dict[str, Any]) -> bool:
    if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 10**9):
        return False
    return "pattern" not in schema or re.search(schema["pattern"], value) is not None


def _number_conforms(value: float, schema: dict[str, Any]) -> bool:
    return (
        value >= schema.get("minimum", value)
        and value <= schema.get("maximum", value)
        and ("exclusiveMinimum" not in schema or value > schema["exclusiveMinimum"])
    )


def _object_conforms(value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any]) -> bool:
    if any(name not in value for name in schema.get("required", [])):
        return False
    properties = schema.get("properties", {})
    if schema.get("additionalProperties") is False and set(value) - set(properties):
        return False
    if not all(conforms(value[k], s, root) for k, s in properties.items() if k in value):
        return False
    if "if" in schema and conforms(value, schema["if"], root):
        return conforms(value, schema["then"], root)
    return True


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("schemas") / "new" / "folder"
    paths = export_json_schemas(directory)
    assert [path.parent for path in paths] == [directory] * len(paths)
    return {path.name.removesuffix(".schema.json"): json.loads(path.read_text()) for path in paths}


def test_one_file_per_kind_plus_settings_and_dead_letters(exported: dict[str, Any]) -> None:
    assert list(exported) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_each_file_is_a_2020_12_schema_with_id_and_title(
    exported: dict[str, Any], name: str
) -> None:
    schema = exported[name]

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:floorstream:schema:v1:{name}"
    assert schema["title"] and schema["description"]
    assert schema["type"] == "object"


@pytest.mark.parametrize("kind", list(Kind))
def test_the_envelope_is_required_by_every_kind(exported: dict[str, Any], kind: Kind) -> None:
    assert {"event_id", "ts"} <= set(exported[kind.value]["required"])
    assert exported[kind.value]["additionalProperties"] is True


@pytest.mark.parametrize(
    ("kind", "example"),
    [(kind, example) for kind, examples in CONTRACT_EXAMPLES.items() for example in examples],
)
def test_the_schema_accepts_the_contract_example(
    exported: dict[str, Any], kind: Kind, example: dict[str, Any]
) -> None:
    assert conforms(example, exported[kind.value], exported[kind.value])


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        (Kind.MACHINE, {"state": "runing"}),
        (Kind.MACHINE, {"ts": "2026-11-02T06:00:00"}),
        (Kind.MACHINE, {"ts": 1730000000}),
        (Kind.PRODUCTION, {"good": -1}),
        (Kind.PRODUCTION, {"good": "58"}),
        (Kind.ORDER, {"product_id": None}),
        (Kind.ORDER, {"ideal_cycle_time_s": 0}),
        (Kind.PEOPLE, {"operator_id": ""}),
    ],
)
def test_the_schema_refuses_what_the_model_refuses(
    exported: dict[str, Any], kind: Kind, change: dict[str, Any]
) -> None:
    payload = {**CONTRACT_EXAMPLES[kind][0], **change}

    assert not conforms(payload, exported[kind.value], exported[kind.value])


def test_the_examples_in_the_files_are_valid_for_the_models(exported: dict[str, Any]) -> None:
    models: dict[str, type[BaseModel]] = {kind.value: MODEL_BY_KIND[kind] for kind in Kind}
    models["line-settings"] = LineSettings
    for name, model in models.items():
        for example in exported[name]["examples"]:
            model.model_validate_json(json.dumps(example))
            assert conforms(example, exported[name], exported[name])


def test_a_dead_letter_conforms_to_its_schema(exported: dict[str, Any]) -> None:
    record = {
        "topic": "floor/v1/f1/l1/s1/machine",
        "payload_b64": "e30=",
        "reason": "missing_field",
        "detail": "field 'event_id' is missing",
        "received_at": "2026-11-02T06:00:01Z",
        "payload_size": 2,
    }

    DeadLetter.model_validate_json(json.dumps(record))
    assert conforms(record, exported["dead-letter"], exported["dead-letter"])


def test_export_replaces_existing_files(tmp_path: Path) -> None:
    (tmp_path / "machine.schema.json").write_text("old")

    export_json_schemas(tmp_path)

    assert json.loads((tmp_path / "machine.schema.json").read_text())["$id"].endswith("machine")
