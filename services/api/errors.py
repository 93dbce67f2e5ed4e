"""Every error answer is ``{"error": {"code", "message"}}`` with a fitting 4xx status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from services.api.scope import OutOfScope

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    code = _CODES.get(exc.status_code, "error")
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    problems = []
    for error in exc.errors():
        where = ".".join(
            str(part) for part in error["loc"] if part not in ("body", "query", "path")
        )
        problems.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return JSONResponse(error_body("invalid_request", "; ".join(problems)), 422)


async def _out_of_scope(request: Request, exc: Exception) -> JSONResponse:
    # The data layer refused a factory the route let through: the same 404 as the routes'.
    assert isinstance(exc, OutOfScope)  # noqa: S101
    message = f"no factory {exc.factory!r} among this token's factories"
    return JSONResponse(error_body("not_found", message), 404)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(OutOfScope, _out_of_scope)
    app.add_exception_handler(RequestValidationError, _validation_error)
