"""Health, readiness, metrics and auth of the API, with a real PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from floorstream.services.api.app import create_app
from floorstream.services.runtime.embedded.stack import Endpoints
from floorstream.services.runtime.settings import ApiSettings
from tests.integration.api.support import TOKEN

pytestmark = pytest.mark.integration


async def test_health_readiness_and_metrics_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and "process_cpu_seconds_total" in metrics.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
    ],
)
async def test_a_missing_or_wrong_token_gets_401_in_json(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/lines", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_the_token_is_taken_as_a_header_or_a_board_link(
    empty_client: httpx.AsyncClient,
) -> None:
    by_header = await empty_client.get(
        "/api/v1/lines", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    by_link = await empty_client.get(f"/api/v1/lines?token={TOKEN}")
    assert by_header.status_code == by_link.status_code == 200
    assert by_header.json() == by_link.json() == {"items": [], "next": None}


async def test_an_unknown_path_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_readiness_names_the_failing_dependency(stack: Endpoints) -> None:
    settings = ApiSettings(database_url=stack.database_url, bootstrap_token=SecretStr(TOKEN))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.pool.close()  # the database "goes away"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unavailable")
