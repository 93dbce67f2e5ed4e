"""The external contract as code: topics, events, line settings and their JSON Schemas.

Pure: imports only the standard library and pydantic. The MQTT gateway calls
`validate_kafka_record` (the key, value and ts of `validate_message`'s event, without building
it) or writes a `DeadLetter`; processors call `parse_kafka_value`; the HTTP API takes
`LineSettings`.
"""

from schemas.errors import InvalidMessage, SchemaError
from schemas.events import (
    EVENT_BY_KIND,
    MODEL_BY_KIND,
    ROUTING_FIELDS,
    Event,
    EventPayload,
    MachineEvent,
    MachinePayload,
    MaterialEvent,
    MaterialPayload,
    OrderEvent,
    OrderPayload,
    PeopleEvent,
    PeoplePayload,
    ProductionEvent,
    ProductionPayload,
    parse_kafka_value,
    route,
)
from schemas.jsonschema import export_json_schemas, json_schemas
from schemas.line_settings import Break, LineSettings, Shift
from schemas.topics import (
    DLQ_TOPIC,
    EVENTS_TOPIC,
    MQTT_SHARED_SUBSCRIPTION,
    MQTT_SUBSCRIPTION,
    MQTT_TOPIC_PREFIX,
    SHARED_SUBSCRIPTION_GROUP,
    TopicAddress,
    parse_topic,
)
from schemas.types import (
    MAX_PAYLOAD_BYTES,
    DeadLetterReason,
    Kind,
    MachineState,
    MaterialAction,
    OrderAction,
    PeopleAction,
)
from schemas.validation import DeadLetter, validate_kafka_record, validate_message

__all__ = [
    "DLQ_TOPIC",
    "EVENTS_TOPIC",
    "EVENT_BY_KIND",
    "MAX_PAYLOAD_BYTES",
    "MODEL_BY_KIND",
    "MQTT_SHARED_SUBSCRIPTION",
    "MQTT_SUBSCRIPTION",
    "MQTT_TOPIC_PREFIX",
    "ROUTING_FIELDS",
    "SHARED_SUBSCRIPTION_GROUP",
    "Break",
    "DeadLetter",
    "DeadLetterReason",
    "Event",
    "EventPayload",
    "InvalidMessage",
    "Kind",
    "LineSettings",
    "MachineEvent",
    "MachinePayload",
    "MachineState",
    "MaterialAction",
    "MaterialEvent",
    "MaterialPayload",
    "OrderAction",
    "OrderEvent",
    "OrderPayload",
    "PeopleAction",
    "PeopleEvent",
    "PeoplePayload",
    "ProductionEvent",
    "ProductionPayload",
    "SchemaError",
    "Shift",
    "TopicAddress",
    "export_json_schemas",
    "json_schemas",
    "parse_kafka_value",
    "parse_topic",
    "route",
    "validate_kafka_record",
    "validate_message",
]
