"""The API's one wiring point: settings and resources in, a FastAPI app out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

import floorstream
from floorstream.services.api.errors import install_error_handlers
from floorstream.services.api.feeds import FeedLimit
from floorstream.services.api.limits import BodyLimit
from floorstream.services.api.live import LiveHub
from floorstream.services.api.metrics import ApiMetrics, RequestMetrics
from floorstream.services.api.routes import (
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
from floorstream.services.runtime.database import open_database
from floorstream.services.runtime.settings import ApiSettings


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
        async with open_database(settings.require_database()) as pool:
            app.state.pool = pool
            hub = LiveHub.for_database(settings.require_database())
            app.state.live = hub
            app.state.metrics.count_screens(hub.subscriber_count)
            await hub.start()
            try:
                yield
            finally:
                await hub.stop()

    app = FastAPI(
        title="floorstream",
        version=floorstream.__version__,
        lifespan=lifespan,
        description="Line efficiency (OEE) and live floor state of factory lines.",
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
    return app


def _utc_now() -> datetime:
    return datetime.now(UTC)
