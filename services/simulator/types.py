"""The simulator's vocabulary: event kinds, machine states, the simulated event.

Errors::

    SimulatorError          root of the simulator's errors
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, NamedTuple

Kind = Literal["machine", "production", "people", "material", "order"]
MachineState = Literal[
    "running", "idle", "starved", "blocked", "down", "setup", "planned_stop", "offline"
]
JsonScalar = str | int | float | bool | None
Payload = Mapping[str, JsonScalar]

TOPIC_PREFIX: Final = "floor/v1"


class SimulatorError(Exception):
    """Root of the simulator's errors."""


def topic_for(factory: str, line: str, station: str, kind: Kind) -> str:
    """The contract's topic ``floor/v1/{factory}/{line}/{station}/{kind}``."""
    return f"{TOPIC_PREFIX}/{factory}/{line}/{station}/{kind}"


class Draft(NamedTuple):
    """An event of one line before it gets its ``event_id`` and ``ts``: ``t`` in POSIX seconds."""

    t: float
    station: str
    kind: Kind
    body: dict[str, JsonScalar]


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One message of the simulated factory: where it goes, what it says, and when it happened.

    ``time`` is the event time (timezone-aware, in the factory's zone); ``payload["ts"]`` is the
    same instant as RFC 3339 text with millisecond precision.
    """

    time: datetime
    topic: str
    payload: Payload

    def encode(self) -> bytes:
        """The payload as compact UTF-8 JSON, byte-for-byte stable for equal payloads."""
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode()
