"""The dashboard's endpoints under `/dashboard` (design §4 "Dashboard").

    Starlette(routes=[..., *dashboard_routes(settings)])

- `GET|POST /dashboard/login`: the token form; a good token sets the session cookie and
  redirects to the overview. `POST /dashboard/logout` ends the session.
- `GET /dashboard`: the overview; `GET /dashboard/channels/{channel}`: one channel (state,
  override, recording, recordings, timeline).
- `GET /dashboard/fragment/overview`, `GET /dashboard/fragment/channels/{channel}`: the live
  part of a page, fetched again every second by `static/dashboard.js`.
- `POST /dashboard/channels/{channel}/record|stop|auto`: record now, stop now, back to
  automatic, then back to the page (`?next=overview`: to the overview).
- `GET /dashboard/static/...`: the stylesheet and the script.

Without a session, pages redirect (303) to the login form and fragments and actions answer
401; a POST without the session's CSRF token (or from another origin) answers 403, and so
does any action of the read-only login. `AUTOREC_API_TOKEN` unset: every route answers 503
naming it. The buttons act through the same `ManualControl` as the API.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from webhooks.api.auth import NOT_CONFIGURED, ApiAuth
from webhooks.api.params import channel_problem
from webhooks.dashboard.channel_page import read_channel
from webhooks.dashboard.csrf import FIELD, csrf_token, csrf_valid, same_origin
from webhooks.dashboard.data import read_overview
from webhooks.dashboard.pages import SECURITY_HEADERS, Pages, path_part
from webhooks.dashboard.session import Session, Sessions, clear_cookie, set_cookie
from worker.settings import Settings
from worker.state.manual import Conflict, Invalid, ManualControl

logger = logging.getLogger(__name__)

PREFIX: Final = "/dashboard"
LOGIN: Final = f"{PREFIX}/login"
#: A form body is a token or a CSRF token and a word: anything longer is not ours.
MAX_FORM_BYTES: Final = 4096
#: Outcome words an action redirects with (`?done=`), and what the page says for each.
#: Only these fixed texts are shown: nothing of the request is echoed into the page.
NOTICES: Final = {
    "record": "Record now: the channel records as soon as a slot is free.",
    "stop": "Stop now: the channel stays stopped until it is next empty.",
    "auto": "Back to automatic: the channel records when its occupancy says so.",
    "unknown": "Nothing to stop: the channel is not known.",
    "conflict": "Refused: a recording of another mode or streams runs; stop it first.",
    "invalid": "Refused: the channel's policy does not allow it.",
}


#: The buttons: record now, stop now, back to automatic.
ACTIONS: Final = ("record", "stop", "auto")


@dataclass(frozen=True, slots=True)
class Dashboard:
    """The endpoints, over the configured tokens, the settings and the templates."""

    settings: Settings
    sessions: Sessions
    pages: Pages

    # --- helpers ---------------------------------------------------------------------------

    def _off(self) -> Response | None:
        if self.sessions.configured:
            return None
        return self._message(f"The dashboard is off: {NOT_CONFIGURED}.", 503)

    def _message(self, text: str, status_code: int) -> HTMLResponse:
        return self.pages.answer(
            "message.html", {"message": text, "session": None}, status_code=status_code
        )

    def _context(self, request: Request, session: Session, **values: Any) -> dict[str, Any]:
        assert self.sessions.key is not None
        return {
            "session": session,
            "csrf_field": FIELD,
            "csrf": csrf_token(self.sessions.key, session),
            "notice": NOTICES.get(request.query_params.get("done", "")),
            **values,
        }

    @staticmethod
    def _secure(request: Request) -> bool:
        return request.url.scheme == "https"

    @staticmethod
    def _redis(request: Request) -> aioredis.Redis[bytes]:
        redis: aioredis.Redis[bytes] = request.state.redis
        return redis

    @staticmethod
    def _manual(request: Request) -> ManualControl:
        manual: ManualControl = request.state.manual
        return manual

    def _unavailable(self, request: Request, exc: RedisError) -> HTMLResponse:
        logger.warning("dashboard %s: Redis unavailable (%s)", request.url.path, type(exc).__name__)
        return self._message("Redis is unavailable; this page comes back with it.", 503)

    # --- login ------------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        """The token form (already logged in: the overview)."""
        if (off := self._off()) is not None:
            return off
        if self.sessions.read(request) is not None:
            return RedirectResponse(PREFIX, status_code=303)
        return self.pages.answer("login.html", {"session": None, "error": None})

    async def login(self, request: Request) -> Response:
        """Check the typed token; a good one starts a session (cookie) and opens the overview."""
        if (off := self._off()) is not None:
            return off
        if not same_origin(request):
            return self._message("Refused: the form came from another site.", 403)
        form = await _form(request)
        access = self.sessions.check_token(form.get("token", "").strip().encode("utf-8"))
        if access is None:
            context = {"session": None, "error": "That token is not an API token of this service."}
            return self.pages.answer("login.html", context, status_code=401)
        response = RedirectResponse(PREFIX, status_code=303)
        set_cookie(response, self.sessions.issue(access), secure=self._secure(request))
        return response

    async def logout(self, request: Request) -> Response:
        """End the session (CSRF token required)."""
        if (off := self._off()) is not None:
            return off
        session, refusal = await self._checked_post(request)
        if refusal is not None:
            return refusal
        assert session is not None
        response = RedirectResponse(LOGIN, status_code=303)
        clear_cookie(response, secure=self._secure(request))
        return response

    # --- pages ------------------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        """The overview page."""
        return await self._page(request, "overview.html", self._overview_values)

    async def overview_fragment(self, request: Request) -> Response:
        """The overview's live part."""
        return await self._fragment(request, "_overview.html", self._overview_values)

    async def channel(self, request: Request) -> Response:
        """A channel's page."""
        return await self._page(request, "channel.html", self._channel_values)

    async def channel_fragment(self, request: Request) -> Response:
        """A channel page's live part."""
        return await self._fragment(request, "_channel.html", self._channel_values)

    async def _overview_values(self, request: Request) -> dict[str, Any] | None:
        manual = self._manual(request)
        overview = await read_overview(self._redis(request), self.settings, manual.reader.history)
        return {"overview": overview, "fragment": f"{PREFIX}/fragment/overview"}

    async def _channel_values(self, request: Request) -> dict[str, Any] | None:
        name: str = request.path_params["channel"]
        if channel_problem(name) is not None:
            return None
        page = await read_channel(self._redis(request), self._manual(request).reader, name)
        if page is None:
            return None
        return {
            "page": page,
            "fragment": f"{PREFIX}/fragment/channels/{path_part(name)}",
        }

    async def _page(
        self,
        request: Request,
        template: str,
        values: Callable[[Request], Awaitable[dict[str, Any] | None]],
    ) -> Response:
        if (off := self._off()) is not None:
            return off
        session = self.sessions.read(request)
        if session is None:
            return RedirectResponse(LOGIN, status_code=303)
        try:
            found = await values(request)
        except RedisError as exc:
            return self._unavailable(request, exc)
        if found is None:
            return self._message("No such channel: it was never seen and has no override.", 404)
        return self.pages.answer(template, self._context(request, session, **found))

    async def _fragment(
        self,
        request: Request,
        template: str,
        values: Callable[[Request], Awaitable[dict[str, Any] | None]],
    ) -> Response:
        if (off := self._off()) is not None:
            return off
        session = self.sessions.read(request)
        if session is None:
            return Response("log in first", status_code=401, headers=SECURITY_HEADERS)
        try:
            found = await values(request)
        except RedisError:
            return Response("Redis unavailable", status_code=503, headers=SECURITY_HEADERS)
        if found is None:
            return Response("no such channel", status_code=404, headers=SECURITY_HEADERS)
        return self.pages.answer(template, self._context(request, session, **found))

    # --- actions ----------------------------------------------------------------------------

    async def _checked_post(self, request: Request) -> tuple[Session | None, Response | None]:
        """The session of a POST with a valid CSRF token, or the refusal to answer."""
        session = self.sessions.read(request)
        if session is None:
            return None, Response("log in first", status_code=401, headers=SECURITY_HEADERS)
        form = await _form(request)
        assert self.sessions.key is not None
        if not same_origin(request) or not csrf_valid(self.sessions.key, session, form.get(FIELD)):
            return None, Response(
                "missing or wrong CSRF token", status_code=403, headers=SECURITY_HEADERS
            )
        return session, None

    async def act(self, request: Request) -> Response:
        """Record now, stop now or back to automatic, then back to the page it came from."""
        if (off := self._off()) is not None:
            return off
        session, refusal = await self._checked_post(request)
        if refusal is not None:
            return refusal
        assert session is not None
        if not session.can_act:
            return Response(
                "the read-only login may only look", status_code=403, headers=SECURITY_HEADERS
            )
        name: str = request.path_params["channel"]
        if channel_problem(name) is not None:
            return self._message("That is not a channel name.", 400)
        action: str = request.path_params["action"]
        if action not in ACTIONS:
            return self._message("No such action.", 404)
        manual = self._manual(request)
        try:
            done = await _perform(manual, name, action)
        except RedisError as exc:
            return self._unavailable(request, exc)
        back = (
            PREFIX
            if request.query_params.get("next") == "overview"
            else (f"{PREFIX}/channels/{path_part(name)}")
        )
        return RedirectResponse(f"{back}?done={done}", status_code=303)


async def _perform(manual: ManualControl, channel: str, action: str) -> str:
    """Do the action; its outcome word (a key of NOTICES)."""
    try:
        if action == "record":
            await manual.record(channel)
        elif action == "stop":
            if await manual.stop(channel) is None:
                return "unknown"
        else:
            await manual.automatic(channel)
    except Conflict:
        return "conflict"
    except Invalid:
        return "invalid"
    return action


async def _form(request: Request) -> dict[str, str]:
    """An url-encoded form body (first value of each field); empty if it is not one."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
    return {name: values[0] for name, values in fields.items() if values}


def dashboard_routes(settings: Settings) -> list[BaseRoute]:
    """The dashboard's routes (absolute paths under `/dashboard`)."""
    board = Dashboard(
        settings=settings, sessions=Sessions(ApiAuth.from_settings(settings)), pages=Pages()
    )
    channel = f"{PREFIX}/channels/{{channel}}"
    return [
        Route(PREFIX, board.overview, methods=["GET"], name="dashboard"),
        Route(LOGIN, board.login_form, methods=["GET"]),
        Route(LOGIN, board.login, methods=["POST"]),
        Route(f"{PREFIX}/logout", board.logout, methods=["POST"]),
        Route(f"{PREFIX}/fragment/overview", board.overview_fragment, methods=["GET"]),
        Route(f"{PREFIX}/fragment/channels/{{channel}}", board.channel_fragment, methods=["GET"]),
        Route(channel, board.channel, methods=["GET"]),
        Route(f"{channel}/{{action:str}}", board.act, methods=["POST"]),
        Mount(
            f"{PREFIX}/static",
            app=StaticFiles(packages=[("webhooks.dashboard", "static")]),
            name="dashboard_static",
        ),
    ]
