"""The package's promises as a whole: pure imports, a picklable error."""

from __future__ import annotations

import pickle
import subprocess
import sys

from schemas import DeadLetterReason, InvalidMessage

# itself, pydantic and the packages it is built on; everything else must be the standard library.
ALLOWED = {"schemas", "pydantic", "pydantic_core", "annotated_types", "typing_extensions",
           "typing_inspection"}  # fmt: skip
FORBIDDEN = {"asyncio", "aiokafka", "paho", "amqtt", "asyncpg", "fastapi", "argparse"}


def test_importing_the_package_pulls_in_only_the_stdlib_and_pydantic() -> None:
    script = (
        "import sys; before = set(sys.modules); import schemas; "
        "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    loaded = set(subprocess.check_output([sys.executable, "-c", script], text=True).split())

    third_party = {m for m in loaded - set(sys.stdlib_module_names) if not m.startswith("_")}
    assert third_party <= ALLOWED
    assert not loaded & FORBIDDEN


def test_invalid_message_pickles_and_prints_its_reason() -> None:
    error = InvalidMessage(DeadLetterReason.NOT_JSON, "payload is not valid JSON")

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert (copy.reason, copy.detail) == (error.reason, error.detail)
    assert str(copy) == "not_json: payload is not valid JSON"
