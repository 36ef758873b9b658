"""The bearer scheme of the gateway's OpenAPI document (its own module: ``app.py``,
``dagit_routes.py`` and ``api_models.py`` use it, and none imports another at module
level for it).

The scheme is declared in the document only — ``components.securitySchemes`` plus a
``security`` requirement on every operation that reads the ``Authorization`` header —
and costs nothing at request time: no ``Security(HTTPBearer)`` sub-dependency runs per
request (it was ≈ 0.1 ms of the event loop's time per request). The gateway's own check
decides, unchanged (raw bytes, constant time, 401 with ``WWW-Authenticate``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEME_NAME", "document_bearer", "reads_token", "scheme"]

SCHEME_NAME = "bearerAuth"


def scheme() -> dict[str, Any]:
    """The ``securitySchemes`` entry (Swagger's "Authorize")."""
    return {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "`Authorization: Bearer <token>`, the server's `--token` (or `DAGFORGE_TOKEN`). "
            "Without a token set, nothing needs it; with `--public-reads`, reads do not."
        ),
    }


def reads_token(dependant: Any) -> bool:
    """Whether a route (its FastAPI ``Dependant``) or any of its sub-dependencies reads the
    ``Authorization`` header — the routes, and only those, that check the token."""
    stack = [dependant]
    while stack:
        dep = stack.pop()
        if any(p.alias.lower() == "authorization" for p in dep.header_params):
            return True
        stack.extend(dep.dependencies)
    return False


def document_bearer(app: Any, doc: dict[str, Any]) -> None:
    """Declare the scheme in ``doc`` (``app``'s OpenAPI document) and require it on every
    documented operation of a route that reads the token."""
    from fastapi import routing

    doc.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME_NAME] = scheme()
    paths = doc.get("paths", {})
    # included routers' routes as the document sees them (their prefix and dependencies);
    # FastAPIs before route contexts list them in app.routes themselves
    contexts = getattr(routing, "iter_route_contexts", None)
    for route in contexts(app.routes) if contexts else app.routes:
        original = getattr(route, "original_route", route)
        if not isinstance(original, routing.APIRoute) or not route.include_in_schema:
            continue
        if not reads_token(route.dependant):
            continue
        item = paths.get(route.path_format, {})
        for method in route.methods or ():
            operation = item.get(method.lower())
            if isinstance(operation, dict):
                operation["security"] = [{SCHEME_NAME: []}]
