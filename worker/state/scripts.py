"""Lua scripts: each a `.lua` file beside its owner module, run by SHA1, reloaded if Redis lost it.

    _RESERVE: Final = LuaScript("worker.state", "ratelimit.lua")
    reply = await _RESERVE.run(redis, keys=[...], args=[...])

A run is one EVALSHA round trip. When Redis answers NOSCRIPT (it restarted, or its script
cache was flushed) the script did not run, so the run is sent again, as EVAL, which also puts
the script back into the cache for the next EVALSHA. Batches share one pipelined round trip:
`queue` adds an EVALSHA to a pipeline, and `run_pipelined` sends a batch and sends the runs
that met NOSCRIPT once more, behind a SCRIPT LOAD, in a second round trip. Callers that pack
their own commands (the webhook edge's enqueue) take `sha` and `source` from here and `load`
the script when Redis answers NOSCRIPT.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError, RedisError
from redis.typing import EncodableT, KeyT

#: One run of a script: its keys and its arguments.
Run = tuple[Sequence[KeyT], Sequence[EncodableT]]


class _ScriptCommands(Protocol):
    """The script commands of `redis.asyncio.Redis`, typed (redis-py's stubs leave them bare)."""

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: EncodableT) -> Any: ...

    async def eval(self, script: bytes, numkeys: int, *keys_and_args: EncodableT) -> Any: ...

    async def script_load(self, script: bytes) -> Any: ...


def _text(value: object) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


class LuaScript:
    """One Lua script shipped as package data beside the module that owns it."""

    __slots__ = ("name", "sha", "source")

    name: str
    """Where the script lives (`package/file.lua`), for messages."""
    source: bytes
    """The Lua source, as sent to Redis."""
    sha: str
    """SHA1 of the source: the name EVALSHA runs it by."""

    def __init__(self, package: str, filename: str) -> None:
        # Read when the owner module is imported, so a package missing a script fails at start.
        self.name = f"{package}/{filename}"
        self.source = resources.files(package).joinpath(filename).read_bytes()
        self.sha = hashlib.sha1(self.source, usedforsecurity=False).hexdigest()

    def __repr__(self) -> str:
        return f"LuaScript({self.name!r}, sha={self.sha[:12]})"

    async def run(
        self,
        redis: aioredis.Redis[Any],
        keys: Sequence[KeyT] = (),
        args: Sequence[EncodableT] = (),
    ) -> Any:
        """Run the script once and return its reply as redis-py decodes it.

        One EVALSHA; after a NOSCRIPT answer, one EVAL (which caches the script again).
        """
        client: _ScriptCommands = redis
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.source, len(keys), *keys, *args)

    def queue(
        self, pipe: Pipeline[Any], keys: Sequence[KeyT] = (), args: Sequence[EncodableT] = ()
    ) -> None:
        """Add one run (EVALSHA) to `pipe`; its reply is NoScriptError if Redis lost the script."""
        pipe.evalsha(self.sha, len(keys), *keys, *args)

    async def load(self, redis: aioredis.Redis[Any]) -> None:
        """Put the script into Redis' script cache (at start, or after a NOSCRIPT answer)."""
        client: _ScriptCommands = redis
        self._check_sha(await client.script_load(self.source))

    async def run_pipelined(
        self,
        redis: aioredis.Redis[Any],
        runs: Sequence[Run],
        *,
        queue_after: Callable[[Pipeline[Any]], None] | None = None,
    ) -> list[Any]:
        """Run `runs` in order in one pipelined round trip (not a transaction).

        `queue_after` adds further commands behind the runs in that round trip; their replies
        are not returned. Runs that met NOSCRIPT go again in a second round trip, behind a
        SCRIPT LOAD. Returns one reply per run, the RedisError as the reply of a run that
        failed; raises RedisError only when a round trip failed as a whole (or the script
        could not be loaded).
        """
        replies: list[Any] = [None] * len(runs)
        missing: list[int] = []
        async with redis.pipeline(transaction=False) as pipe:
            for keys, args in runs:
                self.queue(pipe, keys, args)
            if queue_after is not None:
                queue_after(pipe)
            first = await pipe.execute(raise_on_error=False)
        for index, reply in enumerate(first[: len(runs)]):
            if isinstance(reply, NoScriptError):
                missing.append(index)
            else:
                replies[index] = reply
        if missing:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.script_load(self.source)
                for index in missing:
                    self.queue(pipe, *runs[index])
                loaded, *again = await pipe.execute(raise_on_error=False)
            if isinstance(loaded, RedisError):
                raise loaded
            self._check_sha(loaded)
            for index, reply in zip(missing, again, strict=True):
                replies[index] = reply
        return replies

    def _check_sha(self, reply: object) -> None:
        if _text(reply) != self.sha:
            raise RuntimeError(f"Redis computed another SHA1 for {self.name}")
