"""One error shape for every failure: ``{"error": {"message": ..., "type": ...}}`` with a 4xx/5xx status.

Messages say what to fix; a stack trace never reaches a client (unexpected errors are logged, then answered 500).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatbot.conversation import InputError

log = logging.getLogger(__name__)

INTERNAL_ERROR = "The assistant hit an internal problem; please try again."
UNKNOWN_SESSION = (
    "Unknown or expired session_id: this server does not hold that conversation (it may have restarted, or "
    "forgotten it to make room). To start a new conversation, send the message without session_id; the reply "
    "carries the new conversation's session_id."
)
_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    422: "invalid_request_error",
}
_EXPECTED = {
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "model_attributes_type": "a JSON object",
    "dict_type": "a JSON object",
}


class APIError(Exception):
    """An error with a status, a type and a patient- or developer-readable message."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_


def error_body(message: str, type_: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, **extra}}


def error_response(status: int, message: str, type_: str, headers: dict[str, str] | None = None, **extra: Any):
    return JSONResponse(error_body(message, type_, **extra), status_code=status, headers=headers)


def _describe_one(err: dict[str, Any]) -> str:
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    where = ".".join(loc) or "body"
    kind = err.get("type", "")
    if kind == "missing":
        return f"'{where}' is required"
    if kind == "extra_forbidden":
        return f"'{where}' is not a known field"
    if kind in _EXPECTED:
        return f"'{where}' must be {_EXPECTED[kind]}"
    return f"'{where}': {err.get('msg', 'invalid value')}"


def describe_validation(errors: list[dict[str, Any]]) -> tuple[int, str]:
    """Turn pydantic's error list into one sentence a developer can act on."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "The request body is not valid JSON."
    return 422, "Invalid request: " + "; ".join(_describe_one(e) for e in errors[:5]) + "."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        status, message = describe_validation(list(exc.errors()))
        return error_response(status, message, "invalid_json" if status == 400 else "invalid_request_error")

    @app.exception_handler(InputError)
    async def _input(_request: Request, exc: InputError):
        return error_response(422, str(exc), "invalid_message")

    @app.exception_handler(APIError)
    async def _api(_request: Request, exc: APIError):
        return error_response(exc.status, exc.message, exc.type)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        return error_response(exc.status_code, message, _STATUS_TYPES.get(exc.status_code, "http_error"), exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):
        log.error("unexpected error in the API: %s: %s", type(exc).__name__, exc, exc_info=exc)
        return error_response(500, INTERNAL_ERROR, "server_error")
