"""The lines the caller may see."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from floorstream.services.api.auth import Caller

router = APIRouter(tags=["lines"])


class LineSummary(BaseModel):
    factory: str
    line: str
    name: str | None


class LinePage(BaseModel):
    items: list[LineSummary]


@router.get("/lines", summary="The lines the caller may see")
async def list_lines(request: Request, caller: Caller) -> LinePage:
    rows = await request.app.state.pool.fetch(
        "SELECT factory, line, settings->>'name' AS name FROM line ORDER BY factory, line"
    )
    return LinePage(items=[LineSummary(**dict(row)) for row in rows])
