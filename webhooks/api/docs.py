"""`GET /api/v1/docs`: Swagger UI over `./openapi.json`, its assets served from the package.

The page, its script and its assets (`/api/v1/docs/assets/…`, the static files of the
`swagger-ui-py` package: Swagger UI 5, which renders OpenAPI 3.1) come from this service, so
the page works offline and names no other host; the schema validator badge, which would call
out, is off. Every URL in the page is relative, so it also works behind a path prefix.

No token is needed for the page, its assets or the OpenAPI document: they hold no secret
(the API's answers need a token, which the page's "Authorize" button sends).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Final

from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from webhooks.api.operation import ApiCall, Operation

#: The Python package whose `static/` folder holds Swagger UI's files.
ASSETS_PACKAGE: Final = "swagger_ui"
ASSETS_PATH: Final = "/docs/assets"

_PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>autorec API</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
"""

# `url` is resolved against the page (/api/v1/docs), not this script.
_INIT: Final = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "./openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
"""


def assets_directory() -> Path:
    """Swagger UI's static files, found without importing their package (it imports Jinja)."""
    spec = importlib.util.find_spec(ASSETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {ASSETS_PACKAGE} package (swagger-ui-py) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


async def docs_page(call: ApiCall) -> Response:
    """The Swagger UI page of this API."""
    return HTMLResponse(_PAGE)


async def docs_script(call: ApiCall) -> Response:
    """The script that starts Swagger UI on `./openapi.json`."""
    return Response(_INIT, media_type="text/javascript")


OPERATIONS: Final = (
    Operation(
        "GET", "/docs", docs_page, summary="API docs", responses={200: None},
        public=True, in_schema=False,
    ),
    Operation(
        "GET", "/docs/init.js", docs_script, summary="API docs script", responses={200: None},
        public=True, in_schema=False,
    ),
)  # fmt: skip


def assets_mount() -> Mount:
    """`/docs/assets`: Swagger UI's files (fails at start if the package is missing)."""
    return Mount(ASSETS_PATH, app=StaticFiles(directory=assets_directory()), name="api_docs_assets")
