"""One JSON error shape for every error the web app returns.

Every error body is `{"error": {"status", "code", "parameter", "message"}}` with a one-line
message and no traceback:

| status | code | when |
|---|---|---|
| 400 | `bad_parameter` | a query parameter is missing, malformed or impossible (`parameter` names it) |
| 401 | `unauthorized` | a token is configured and the request carries none or a wrong one |
| 404 | `unknown_metric` | a `metric`/`metrics` parameter names no metric of the spec |
| 404 | `not_found` | no such route, or nothing to show (`no_target`: the spec sets no target) |
| 405 | `method_not_allowed` | the API is read-only: GET only |
| 500 | `spec_error` | the spec file (edited while serving) is invalid: its problems on one line |
| 500 | `data_error` | the data behind a source cannot be read: the server's data, not the request, is wrong |
| 500 | `internal_error` | anything else; the traceback goes to the server log only |
| 503 | `busy` | every engine stayed busy with other computations for 10 minutes; try again |

FastAPI's own 422 shape never leaks: request validation errors become 400 `bad_parameter`.

An unexpected exception is answered by `InternalErrors`, a middleware inside the app, and
not by Starlette's outermost error handler: that one always re-raises after answering, and
the server then closes the connection, so the next request a browser sent on the same
keep-alive connection was reset.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from northstar.errors import DataError, QueryError, SpecError
from northstar.web.engines import EnginesBusy

log = logging.getLogger("northstar.web")

# How northstar's QueryError messages name a parameter: `--period: ...`, `--from X is after ...`.
_FLAG = re.compile(r"^--([a-z_]+)\b:?\s*")
_HINTS = (("unknown grain", "grain"), ("dimension '", "by"), ("a dimension is listed twice", "by"),
          ("name at least one metric", "metrics"), ("metric '", "metric"))


class ApiError(Exception):
    """An error with its status, code and (for bad input) the parameter at fault."""

    def __init__(self, status: int, code: str, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.parameter = status, code, message, parameter


def bad_parameter(parameter: str, message: str) -> ApiError:
    """400 naming the parameter; the message starts with it (`grain: 'yearly' is not ...`)."""
    return ApiError(400, "bad_parameter", f"{parameter}: {message}", parameter)


MAX_MESSAGE = 1_000  # characters of an error message; a 20,000-character value is not echoed whole


def short(line: str, limit: int = MAX_MESSAGE) -> str:
    """`line` with its middle cut when longer than `limit`: the start names the parameter and the
    value, the end keeps the hint (the metrics or dimensions declared)."""
    if len(line) <= limit:
        return line
    head, tail = limit * 6 // 10, limit * 3 // 10
    return f"{line[:head]} [... {len(line) - head - tail:,} characters ...] {line[-tail:]}"


def error_body(status: int, code: str, message: str, parameter: str | None = None) -> dict[str, Any]:
    """The one error shape."""
    line = short(" ".join(str(message).split()) or code)  # one line, whatever the cause
    return {"error": {"status": status, "code": code, "parameter": parameter, "message": line}}


def error_response(status: int, code: str, message: str, parameter: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, parameter), status_code=status)


def from_query_error(exc: QueryError, parameter: str | None = None) -> ApiError:
    """Map a QueryError to 400 (404 for an unknown metric), naming the parameter where we can."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else "bad request"
    flag = _FLAG.match(text)
    if flag:  # the CLI's `--period: 'x' ...` becomes `period: 'x' ...`; `--from A is after --to B` too
        parameter = parameter or flag.group(1)
        text = text[flag.end():]
    text = text.replace("--", "")
    if text.startswith("unknown metric"):
        return ApiError(404, "unknown_metric", f"{parameter or 'metric'}: {text}", parameter or "metric")
    for hint, name in _HINTS:
        if parameter is None and text.startswith(hint):
            parameter = name
    message = f"{parameter}: {text}" if parameter and not text.startswith(f"{parameter}:") else text
    return ApiError(400, "bad_parameter", message, parameter)


def _validation_message(exc: RequestValidationError) -> tuple[str | None, str]:
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "header", "cookie", "body")]
    parameter = loc[-1] if loc else None
    if first.get("type") == "missing":
        detail = "is required"
    else:
        detail = f"'{first.get('input')}': {str(first.get('msg', 'is not valid')).lower()}"
    return parameter, f"{parameter}: {detail}" if parameter else detail


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception to the one error shape; tracebacks only reach the server log."""

    @app.exception_handler(ApiError)
    async def _api(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.parameter)

    @app.exception_handler(QueryError)
    async def _query(_request: Request, exc: QueryError) -> JSONResponse:
        mapped = from_query_error(exc)
        return error_response(mapped.status, mapped.code, mapped.message, mapped.parameter)

    @app.exception_handler(SpecError)
    async def _spec(_request: Request, exc: SpecError) -> JSONResponse:
        problems = "; ".join(str(p) for p in exc.problems) or "the spec is invalid"
        return error_response(500, "spec_error", f"the spec is invalid: {problems}")

    @app.exception_handler(DataError)
    async def _data(_request: Request, exc: DataError) -> JSONResponse:
        return error_response(500, "data_error", str(exc) or "the data cannot be read")

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parameter, message = _validation_message(exc)
        return error_response(400, "bad_parameter", message, parameter)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(404, "not_found", f"no route {request.method} {request.url.path}")
        if exc.status_code == 405:
            return error_response(405, "method_not_allowed", f"{request.method} is not allowed here: use GET")
        return error_response(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(EnginesBusy)
    async def _busy(_request: Request, exc: EnginesBusy) -> JSONResponse:
        response = error_response(503, "busy", str(exc))
        response.headers["retry-after"] = "30"
        return response

    app.add_middleware(InternalErrors)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class InternalErrors:
    """ASGI middleware: any exception the routes' handlers did not turn into an answer becomes a
    500 `internal_error` in the error shape, logged with its traceback, and is *not* re-raised,
    so the server keeps the connection open for the client's next request."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:  # noqa: BLE001 - the last resort: one line to the client, the rest to the log
            log.error("internal error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            if started:  # half an answer went out: only closing the connection can tell the client
                raise
            response = error_response(500, "internal_error",
                                      f"internal error ({type(exc).__name__}); the server log has the details")
            await response(scope, receive, send)
