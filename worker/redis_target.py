"""Where Redis is: `REDIS_URL` read as one server or as a master named by Redis Sentinels.

Pure parsing, no I/O; the clients are built from a `RedisTarget` in worker/state/connection.py.

- `redis://[[user]:password@]host[:port][/db]`, `rediss://…` (TLS), `unix:///path.sock`:
  one server, as redis-py and arq read it.
- `redis+sentinel://[[user]:password@]host[:port],host[:port],…/master[/db]` (`rediss+sentinel`
  for TLS to Redis): the current primary of `master`, asked of the Sentinels listed (port
  26379 unless given). The user name and password are Redis's; the Sentinels are reached
  without them.

Error messages never repeat the URL: it may carry a password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

#: Schemes of one server, as redis-py's `from_url` and arq's `from_dsn` take them.
PLAIN_SCHEMES: Final = frozenset({"redis", "rediss", "unix"})
#: Schemes naming a Sentinel set; the `s` asks for TLS to Redis.
SENTINEL_SCHEMES: Final = frozenset({"redis+sentinel", "rediss+sentinel"})
SENTINEL_DEFAULT_PORT: Final = 26379
_MASTER_NAME = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RedisTarget:
    """A parsed `REDIS_URL`: one server (`url`) or a Sentinel set (`sentinels`, `master`)."""

    url: str = field(repr=False)
    """The configured value (it may hold a password: log `redacted()` instead)."""
    sentinels: tuple[tuple[str, int], ...] = ()
    """Sentinel addresses; empty for one server."""
    master: str = ""
    """The Sentinel master name (Sentinel only)."""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl: bool = False
    """TLS to Redis (Sentinel only; a plain URL says it with `rediss://`)."""

    @property
    def is_sentinel(self) -> bool:
        """Whether the primary is found through Sentinels."""
        return bool(self.sentinels)

    def redacted(self) -> str:
        """The URL with its password replaced by `***`, for logs and messages."""
        return redact_url(self.url)


def parse_redis_url(url: str) -> RedisTarget:
    """Read `url`; raise ValueError with a one-line message (never the URL) when it is bad."""
    url = url.strip()
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in PLAIN_SCHEMES | SENTINEL_SCHEMES:
        raise ValueError(
            "must start with redis://, rediss://, unix://, redis+sentinel:// or rediss+sentinel://"
        )
    if scheme in PLAIN_SCHEMES:
        return _plain(url, scheme)
    return _sentinel(url, scheme)


def _plain(url: str, scheme: str) -> RedisTarget:
    parts = urlsplit(url)
    if scheme != "unix":
        if not parts.hostname:
            raise ValueError("names no host")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError("the port must be a number from 0 to 65535") from None
        path = parts.path.strip("/")
        if path and not path.isdigit():
            raise ValueError("the database (the path) must be a number")
    return RedisTarget(url=url)


def _sentinel(url: str, scheme: str) -> RedisTarget:
    rest = url.split("://", 1)[1]
    if "?" in rest or "#" in rest:
        raise ValueError("a redis+sentinel URL takes no query or fragment")
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        userinfo, hostpart = "", rest
    hosts, _, path = hostpart.partition("/")
    sentinels = tuple(_address(item) for item in hosts.split(","))
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        raise ValueError("names no Sentinel master: redis+sentinel://host:26379,.../MASTER[/DB]")
    if len(segments) > 2:
        raise ValueError("the path must be /MASTER or /MASTER/DB")
    master = unquote(segments[0])
    if not _MASTER_NAME.fullmatch(master):
        raise ValueError("the Sentinel master name may hold letters, digits, '.', '_' and '-'")
    db = 0
    if len(segments) == 2:
        if not segments[1].isdigit():
            raise ValueError("the database (after the master name) must be a number")
        db = int(segments[1])
    username: str | None = None
    password: str | None = None
    if userinfo:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    return RedisTarget(
        url=url,
        sentinels=sentinels,
        master=master,
        db=db,
        username=username,
        password=password,
        ssl=scheme == "rediss+sentinel",
    )


def _address(item: str) -> tuple[str, int]:
    """One `host[:port]` of the Sentinel list (IPv6 in brackets)."""
    item = item.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?|([^:\[\]\s]+)(?::(\d+))?", item)
    if not match:
        raise ValueError("each Sentinel must be HOST or HOST:PORT, separated by commas")
    host = match[1] or match[3]
    port = int(match[2] or match[4] or SENTINEL_DEFAULT_PORT)
    if not 0 < port <= 65535:
        raise ValueError("a Sentinel port must be a number from 1 to 65535")
    return host, port


def unreachable(url: str, exc: BaseException, *, verb: str = "reach") -> str:
    """One line: the Redis of REDIS_URL (`url`, password hidden) could not be reached, and
    the first line of why."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"cannot {verb} Redis at {redact_url(url)} (REDIS_URL): {reason}"


def redact_url(url: str) -> str:
    """`url` without its password (REDIS_URL may carry one), for any of the schemes above."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, at, hostpart = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{hostpart}"
