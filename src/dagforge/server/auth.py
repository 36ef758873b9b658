"""The bearer scheme of the gateway's OpenAPI document (its own module: ``app.py`` and
``dagit_routes.py`` both declare it, and neither imports the other at module level)."""

from __future__ import annotations

from fastapi.security import HTTPBearer

__all__ = ["bearer"]

#: The bearer scheme, declared on every operation that takes the token (Swagger's
#: "Authorize"). ``auto_error=False``: it only documents; the gateway's own check decides
#: (raw bytes, constant time, 401 with ``WWW-Authenticate``), unchanged.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description=(
        "`Authorization: Bearer <token>`, the server's `--token` (or `DAGFORGE_TOKEN`). "
        "Without a token set, nothing needs it; with `--public-reads`, reads do not."
    ),
)
