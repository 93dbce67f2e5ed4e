"""The kanban board pages for shop-floor screens, and their static assets.

The pages are plain HTML, CSS and ES modules shipped in `kanban` (``static/``):
no build step, nothing fetched from the internet. A page is served for a valid token only, as
every call but health, readiness and metrics (a kiosk's board link carries it as ``?token=``);
a board of a factory outside the token's is a 404, as in the API. The page holds no data: its
scripts read ``?token=`` from the page's address and send it with every data call and with the
live feed (docs/contract.md §5). The static assets (code and style, no data) need no token.

Every asset is answered with ``Cache-Control: no-cache``: a kiosk screen runs for weeks, and
after an upgrade it must revalidate (cheaply, by ETag) rather than keep running old scripts.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template
from typing import Final

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from services.api.auth import FloorReader, LineLister
from services.api.deps import FactoryPath, LinePath

__all__ = ["STATIC_PATH", "router", "static_files"]

STATIC_PATH: Final = "/static"
_PACKAGE: Final = ("kanban", "static")
_NO_CACHE: Final = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


class _RevalidatedStaticFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_NO_CACHE)
        return response


def static_files() -> StaticFiles:
    """The assets, to mount at `STATIC_PATH`."""
    return _RevalidatedStaticFiles(packages=[_PACKAGE])


_TITLES: Final = {
    "index": "floorstream",
    "factory": "Factory board",
    "kanban": "Kanban",
    "line": "Line board",
}


@cache
def _page_html(page: str) -> str:
    """The one page shell (``page.html``) with the page's title, script and body class."""
    shell = (resources.files(_PACKAGE[0]) / _PACKAGE[1] / "page.html").read_text("utf-8")
    return Template(shell).substitute(title=_TITLES[page], page=page)


def _page(page: str) -> HTMLResponse:
    return HTMLResponse(_page_html(page), headers=_NO_CACHE)


@router.get("/favicon.ico")
async def favicon() -> Response:
    """The boards' icon, for browsers that ask for it before reading the page's ``<link>``."""
    icon = (resources.files(_PACKAGE[0]) / _PACKAGE[1] / "favicon.svg").read_bytes()
    return Response(icon, media_type="image/svg+xml", headers=_NO_CACHE)


@router.get("/")
async def index_page(caller: LineLister) -> HTMLResponse:
    """The factories and lines the viewer may see (the list comes from ``/api/v1/lines``)."""
    return _page("index")


@router.get("/boards/{factory}")
async def factory_page(factory: FactoryPath, caller: FloorReader) -> HTMLResponse:
    """Every line of the factory as a tile."""
    return _page("factory")


# Before the line board: a line named "kanban" has no board page of its own.
@router.get("/boards/{factory}/kanban")
async def kanban_page(factory: FactoryPath, caller: FloorReader) -> HTMLResponse:
    """The factory's material kanban, for the warehouse: open cards by status."""
    return _page("kanban")


@router.get("/boards/{factory}/{line}")
async def line_page(factory: FactoryPath, line: LinePath, caller: FloorReader) -> HTMLResponse:
    """The line board, for the screen beside the line."""
    return _page("line")
