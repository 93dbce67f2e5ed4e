"""The API's one wiring point: settings and resources in, a FastAPI app out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from services.api.errors import install_error_handlers
from services.api.feeds import FeedLimit
from services.api.limits import BodyLimit
from services.api.live import LiveHub
from services.api.metrics import ApiMetrics, RequestMetrics
from services.api.routes import (
    boards,
    downtime,
    efficiency,
    factory,
    health,
    kanban,
    lines,
    live,
    orders,
    status,
)
from services.runtime.database import open_database
from services.runtime.settings import ApiSettings


def create_app(
    settings: ApiSettings,
    *,
    registry: CollectorRegistry | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The app; it opens the database pool (migrated) on start-up and closes it on shutdown.

    ``clock`` is "now" for live figures (``app.state.clock``); tests pin it.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database_url = settings.database_url.get_secret_value()
        async with open_database(database_url) as pool:
            app.state.pool = pool
            hub = LiveHub.for_database(database_url)
            app.state.live = hub
            app.state.metrics.count_screens(hub.subscriber_count)
            await hub.start()
            try:
                yield
            finally:
                await hub.stop()

    app = FastAPI(
        title="floorstream",
        version=version("floorstream"),
        lifespan=lifespan,
        description="Line efficiency (OEE) and live floor state of factory lines.",
        docs_url=None,  # served by `_install_docs`, from the package
        redoc_url=None,
    )
    app.state.settings = settings
    if registry is None:
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
    app.state.registry = registry
    app.state.metrics = metrics = ApiMetrics.create(registry)
    app.state.clock = clock if clock is not None else _utc_now
    app.state.feeds = FeedLimit(settings.board_max_feeds_per_token)
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: times a 413 too
    app.include_router(health.router)
    app.include_router(lines.router, prefix="/api/v1")
    app.include_router(efficiency.router, prefix="/api/v1")
    app.include_router(factory.router, prefix="/api/v1")
    app.include_router(status.router, prefix="/api/v1")
    app.include_router(downtime.router, prefix="/api/v1")
    app.include_router(live.router, prefix="/api/v1")
    app.include_router(kanban.router, prefix="/api/v1")
    app.include_router(orders.router, prefix="/api/v1")
    app.include_router(boards.router)
    app.mount(boards.STATIC_PATH, boards.static_files(), name="static")
    _install_docs(app)
    return app


_SWAGGER_UI = f"{boards.STATIC_PATH}/swagger-ui"


def _install_docs(app: FastAPI) -> None:
    """``/docs`` with Swagger UI's script and style from the package (``kanban/static/
    swagger-ui``), not from a CDN: factory networks are often offline, and the page must work
    there. No ReDoc: it would need a CDN and web fonts too, for the same document."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=f"{_SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{_SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def _utc_now() -> datetime:
    return datetime.now(UTC)
