"""Rendering of the dashboard's templates (Jinja2, autoescaped) into HTML answers.

The templates and assets live in this package (`templates/`, `static/`). Every answer
carries a strict Content-Security-Policy (only this origin's script and styles, no inline
script, no framing) and is never cached: pages hold live state and CSRF tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

#: What an unknown value shows.
NONE: Final = "-"
#: How often the page fetches its fragment again (the design asks for ≤ 2 s).
REFRESH_MS: Final = 1000

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def age(seconds: float | None) -> str:
    """A duration as `42s`, `5m 07s`, `2h 03m` or `3d 4h`."""
    if seconds is None:
        return NONE
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def clock(moment: datetime | None) -> str:
    """A UTC time as `HH:MM:SS` (today's events need no date)."""
    return NONE if moment is None else f"{moment:%H:%M:%S}"


def stamp(moment: datetime | None) -> str:
    """A UTC time in full: `YYYY-MM-DD HH:MM:SS UTC`."""
    return NONE if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def path_part(value: str) -> str:
    """A channel name as one URL path segment."""
    return quote(value, safe="")


def build_environment() -> Environment:
    """The template environment (built once per app)."""
    env = Environment(
        loader=PackageLoader("webhooks.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,  # a misspelt name fails the page, not prints nothing
    )
    env.filters.update(age=age, clock=clock, stamp=stamp, path_part=path_part)
    env.globals["refresh_ms"] = REFRESH_MS
    return env


class Pages:
    """Renders the dashboard's templates."""

    def __init__(self) -> None:
        self.env = build_environment()

    def text(self, template: str, context: Mapping[str, Any]) -> str:
        """A template rendered to text."""
        return self.env.get_template(template).render(context)

    def answer(
        self, template: str, context: Mapping[str, Any], *, status_code: int = 200
    ) -> HTMLResponse:
        """A template rendered as an HTML answer with the security headers."""
        return HTMLResponse(
            self.text(template, context), status_code=status_code, headers=SECURITY_HEADERS
        )
