"""Any other ``/v1`` path or method: a JSON 404 or 405 that names the right method, never the page's HTML.

Without this catch-all such requests would fall through to the browser page mounted at ``/``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute

from chatbot.interfaces.http.errors import APIError
from chatbot.interfaces.http.guard import API_PREFIX

router = APIRouter(prefix=API_PREFIX)


def route_methods(routers: list[APIRouter]) -> dict[str, set[str]]:
    """{path: methods} of the feature routers, kept on ``app.state.api_methods`` for the 405 answers."""
    found: dict[str, set[str]] = {}
    for feature in routers:
        for route in feature.routes:
            if isinstance(route, APIRoute):
                found.setdefault(route.path, set()).update(route.methods - {"HEAD"})
    return found


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str, request: Request):
    path = f"{API_PREFIX}/{rest}"
    methods = sorted(request.app.state.api_methods.get(path, ()))
    if methods:
        raise APIError(405, f"Use {' or '.join(methods)} for {path} (not {request.method}).", "method_not_allowed")
    raise APIError(404, f"No such API route: {path}.", "not_found")
