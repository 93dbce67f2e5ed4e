"""Response models of the API's lines and errors; the figures' are in ``schemas``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from schemas.line_settings import LineSettings

SETTINGS_EXAMPLE: Final[dict[str, Any]] = LineSettings.model_json_schema()["examples"][0]
"""The example of ``LineSettings``, shown in the API documentation."""


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid_request"])
    message: str = Field(examples=["timezone: Value error, unknown time zone 'Mars/Base'"])


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


class Line(BaseModel):
    """A line and its settings; ``settings`` is null for a line known only from its events."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "factory": "f1",
                    "line": "l1",
                    "settings": SETTINGS_EXAMPLE,
                    "updated_at": "2025-03-01T08:00:00Z",
                }
            ]
        }
    )

    factory: str
    line: str
    settings: LineSettings | None
    updated_at: datetime = Field(description="When the settings were last stored.")


class LineSummary(BaseModel):
    factory: str
    line: str
    name: str | None = Field(description="The line's name from its settings; null if none.")


class LinePage(BaseModel):
    """One page of lines in (factory, line) order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [{"factory": "f1", "line": "l1", "name": "Press line 1"}],
                    "next": "ZjEvbDE",
                }
            ]
        }
    )

    items: list[LineSummary]
    next: str | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )


ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": ErrorBody, "description": "No token, or not a valid one."},
    403: {"model": ErrorBody, "description": "The token's role may not make this call."},
    422: {"model": ErrorBody, "description": "A path segment, query or body field is invalid."},
}
"""Error answers every call with parameters documents."""
