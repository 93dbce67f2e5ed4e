"""Turn pydantic's validation errors into a reason code and a sentence an integrator understands.

Only the failure path comes here, so clarity wins over speed. The first problem decides the
reason; the detail lists up to three problems, each naming its field, what was wrong and what
was expected, e.g. ``field 'state': 'runing' is not one of running, idle, …``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from schemas.errors import InvalidMessage
from schemas.types import DeadLetterReason, Kind

__all__ = ["describe", "explain_validation_error"]

_R = DeadLetterReason
_SHOWN_PROBLEMS: Final = 3
_SHOWN_CHARS: Final = 60
_KIND_TAGS: Final = frozenset(kind.value for kind in Kind)
_QUOTED: Final = re.compile(r"'([^']*)'")

# pydantic's type errors, and the expectation to state for each.
_EXPECTED: Final = {
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "an object",
    "list_type": "an array",
    "tuple_type": "an array",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "datetime_type": "an RFC 3339 timestamp",
}


def explain_validation_error(error: ValidationError, *, tagged: bool = False) -> InvalidMessage:
    """Map a pydantic `ValidationError` to an `InvalidMessage` with a distinct reason.

    Args:
        error: from validating one message or record.
        tagged: the model was a union discriminated by ``kind``, whose tag pydantic puts
            first in each error's location.
    """
    problems = [_explain(details, tagged=tagged) for details in error.errors(include_url=False)]
    reason = problems[0][0]
    detail = "; ".join(text for _, text in problems[:_SHOWN_PROBLEMS])
    if len(problems) > _SHOWN_PROBLEMS:
        detail += f"; and {len(problems) - _SHOWN_PROBLEMS} more"
    return InvalidMessage(reason, detail)


def describe(value: Any) -> str:
    """A short description of a JSON value for an error detail; long values are cut."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {_cut(repr(value))}"
    if isinstance(value, str):
        return f"the string {_cut(value)!r}"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _explain(details: ErrorDetails, *, tagged: bool) -> tuple[DeadLetterReason, str]:
    loc = details["loc"]
    if tagged and loc and loc[0] in _KIND_TAGS:
        loc = loc[1:]
    if not loc:
        return _explain_root(details)
    field = ".".join(str(part) for part in loc)
    error_type = details["type"]
    if error_type == "missing":
        return _R.MISSING_FIELD, f"field '{field}' is missing"
    if loc[0] == "ts" and details["type"] == "rfc3339_range":
        return _R.OUT_OF_RANGE, f"field 'ts': {details['msg']}"
    if loc[0] == "ts":
        return _R.BAD_TIMESTAMP, f"field 'ts': {details['msg']}; got {describe(details['input'])}"
    return _explain_value(f"field '{field}'", details)


def _explain_root(details: ErrorDetails) -> tuple[DeadLetterReason, str]:
    error_type, value, ctx = details["type"], details["input"], details.get("ctx", {})
    if error_type == "json_invalid":
        return _R.NOT_JSON, f"payload is not valid JSON: {ctx.get('error', details['msg'])}"
    if error_type in ("model_type", "model_attributes_type", "dict_type"):
        return _R.NOT_OBJECT, f"payload is {_json_type(value)}; expected one JSON object"
    if error_type == "missing_for_action":
        return _R.MISSING_FIELD, details["msg"]
    if error_type == "union_tag_not_found":
        return _R.MISSING_FIELD, "field 'kind' is missing"
    if error_type == "union_tag_invalid":
        kinds = ", ".join(Kind)
        return _R.UNKNOWN_KIND, f"field 'kind': {_cut(str(ctx.get('tag')))!r} is not one of {kinds}"
    return _R.INVALID_FIELD, f"payload: {details['msg']}"


def _explain_value(where: str, details: ErrorDetails) -> tuple[DeadLetterReason, str]:
    error_type, value, ctx = details["type"], details["input"], details.get("ctx", {})
    if error_type in ("enum", "literal_error"):
        if not isinstance(value, str):
            return _R.WRONG_TYPE, f"{where}: expected a string, got {describe(value)}"
        choices = ", ".join(_QUOTED.findall(str(ctx.get("expected", ""))))
        return _R.UNKNOWN_VALUE, f"{where}: {_cut(value)!r} is not one of {choices}"
    if error_type in _EXPECTED:
        return _R.WRONG_TYPE, f"{where}: expected {_EXPECTED[error_type]}, got {describe(value)}"
    if error_type == "greater_than_equal" and ctx.get("ge") == 0:
        return _R.NEGATIVE_COUNT, f"{where}: {describe(value)} is negative; it must be 0 or more"
    return _explain_range(where, details)


def _explain_range(where: str, details: ErrorDetails) -> tuple[DeadLetterReason, str]:
    error_type, value, ctx = details["type"], details["input"], details.get("ctx", {})
    if error_type == "string_too_short":
        return (
            _R.OUT_OF_RANGE,
            f"{where} must not be empty",
        )
    if error_type == "string_too_long":
        length = len(value) if isinstance(value, str) else "too many"
        limit = ctx["max_length"]
        return _R.OUT_OF_RANGE, f"{where} is {length} characters long; at most {limit} are allowed"
    bounds = {
        "greater_than": "greater than {gt}",
        "greater_than_equal": "at least {ge}",
        "less_than": "less than {lt}",
        "less_than_equal": "at most {le}",
    }
    if error_type in bounds:
        limits = {name: _number(limit) for name, limit in ctx.items()}
        return (
            _R.OUT_OF_RANGE,
            f"{where}: {describe(value)} must be {bounds[error_type].format(**limits)}",
        )
    if error_type == "finite_number":
        return _R.OUT_OF_RANGE, f"{where}: {describe(value)} must be a finite number"
    if error_type == "string_pattern_mismatch":
        return _R.OUT_OF_RANGE, f"{where}: {describe(value)} must match {ctx['pattern']}"
    return _R.INVALID_FIELD, f"{where}: {details['msg']}; got {describe(value)}"


def _json_type(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "a JSON array"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, bool) or value is None:
        return f"JSON {describe(value)}"
    return "a JSON number"


def _number(value: Any) -> str:
    # pydantic reports the bound of a float field as 0.0; say 0.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"
