"""The trading page the exchange serves itself: static HTML, CSS and ES modules, no build step.

Everything the browser needs ships inside the package (`static/`, included in the wheel as
package data) and nothing is fetched from elsewhere at run time, so the page works offline.
The page speaks only the public wire API (Backpack's REST and websocket, plus the project's
own sign-up and faucet routes), exactly as any other client would; the server holds no
page-specific endpoints. `ROUTES` is what the composition root mounts:

- `/` and `/trade/{symbol}`: the same `index.html`; the page reads the market from its URL.
- `/static/...`: the files under `static/`.

The websocket endpoint shares `/` with the page; Starlette tells them apart by the scope
type (HTTP route here, websocket route in the streams), so both can live at the root as
Backpack's clients expect.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
INDEX = STATIC / "index.html"


async def page(request: Request) -> Response:
    """GET / and /trade/{symbol}: the single-page trading app."""
    return FileResponse(INDEX, media_type="text/html", headers={"Cache-Control": "no-cache"})


async def favicon(request: Request) -> Response:
    """GET /favicon.ico: browsers ask for it whatever the page links."""
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


ROUTES: list[BaseRoute] = [
    Route("/", page, methods=["GET"]),
    Route("/trade/{symbol}", page, methods=["GET"]),
    Route("/favicon.ico", favicon, methods=["GET"]),
    Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
]
