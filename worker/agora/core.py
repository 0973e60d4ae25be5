"""Construction and request plumbing of the Agora client: credentials, URLs, paths, redaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from worker.agora.requester import RateLimiter, Requester, no_rate_limit
from worker.agora.retry import RetryPolicy
from worker.agora.wire import PATH_ID_CHARS


class ClientCore:
    """What every Agora call needs: the requester, the App ID, timeouts and REST paths."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        app_id: str,
        customer_id: str,
        customer_secret: SecretStr,
        base_urls: Sequence[str],
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter = no_rate_limit,
        timeout_s: float = 10.0,
        stop_timeout_s: float = 30.0,
    ) -> None:
        if not app_id or set(app_id) - PATH_ID_CHARS:
            raise ValueError("app_id must be a non-empty App ID (letters and digits)")
        if not customer_id:
            raise ValueError("customer_id must not be empty")
        if not customer_secret.get_secret_value():
            raise ValueError("customer_secret must not be empty")
        for url in base_urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"base URL {url!r} is not an http(s) URL")
        if timeout_s <= 0 or stop_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        self._app_id = app_id
        self._timeout_s = timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._requester = Requester(
            http,
            base_urls=base_urls,
            customer_id=customer_id,
            customer_secret=customer_secret,
            retry=retry if retry is not None else RetryPolicy(),
            rate_limiter=rate_limiter,
        )

    @property
    def app_id(self) -> str:
        """The App ID in every path."""
        return self._app_id

    @property
    def preferred_base_url(self) -> str:
        """The base URL the next call tries first (the last one that answered)."""
        return self._requester.preferred_base_url

    def _redactor(self, secrets: Sequence[str]) -> Callable[[str], str]:
        return lambda text: self._requester.redact(text, secrets)

    def _recording_path(self) -> str:
        return f"/v1/apps/{quote(self._app_id, safe='')}/cloud_recording"

    def _resource_path(self, resource_id: str) -> str:
        return f"{self._recording_path()}/resourceid/{quote(resource_id, safe='')}"

    def _session_path(self, resource_id: str, sid: str) -> str:
        return f"{self._resource_path(resource_id)}/sid/{quote(sid, safe='')}"
