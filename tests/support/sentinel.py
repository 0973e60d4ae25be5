"""A real Redis Sentinel set on loopback: a primary, a replica and three Sentinels, each a
`redis-server` process with its own directory and a free port.

The Sentinels watch master `MASTER` with quorum 2, call a silent primary down after
`DOWN_AFTER_MS` and give up a failover after `FAILOVER_TIMEOUT_MS`, so a killed primary is
replaced within a few seconds.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import redis.asyncio as aioredis

from tests.support.waiting import eventually
from worker.dev.orphan_guard import guarded
from worker.dev.redis_server import find_redis_server, free_port

MASTER: Final = "autorec-primary"
QUORUM: Final = 2
DOWN_AFTER_MS: Final = 1000
FAILOVER_TIMEOUT_MS: Final = 3000
LOOPBACK: Final = "127.0.0.1"
#: Startup: the replica's first sync and the Sentinels' discovery of each other (hello
#: messages every 2 s) and of the replica.
READY_TIMEOUT_S: Final = 20.0


@dataclass
class Node:
    """One redis-server process (a data node or a Sentinel)."""

    name: str
    port: int
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                guarded(self.argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to hand anything over."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=5)

    def freeze(self) -> None:
        """SIGSTOP: the node holds its connections but answers nothing (a hung host)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after `freeze()`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def client(self) -> aioredis.Redis[bytes]:
        """A client of this node (close it)."""
        return aioredis.Redis(host=LOOPBACK, port=self.port, socket_timeout=2.0)


@dataclass
class SentinelSet:
    """The running set; `url` is the REDIS_URL that names it."""

    primary: Node
    replica: Node
    sentinels: list[Node]
    directory: Path
    db: int = 0
    _nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"{LOOPBACK}:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER}/{self.db}"

    async def master_address(self) -> tuple[str, int] | None:
        """The primary a majority of Sentinels names now (None while they disagree)."""
        votes: dict[tuple[str, int], int] = {}
        for sentinel in self.sentinels:
            client = sentinel.client()
            try:
                host, port = await client.execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER
                )
                address = (host.decode(), int(port))
                votes[address] = votes.get(address, 0) + 1
            except (OSError, aioredis.RedisError):
                continue
            finally:
                await client.aclose()
        best = max(votes.items(), key=lambda item: item[1], default=None)
        return best[0] if best is not None and best[1] >= QUORUM else None

    def start(self, node: Node) -> None:
        node.start()
        self._nodes.append(node)

    def logs(self) -> str:
        """Every node's output, each headed by its name (for a failing test's message)."""
        return "\n".join(
            f"===== {node.name}\n{node.log_path.read_text(errors='replace')}"
            for node in self._nodes
            if node.log_path.exists()
        )

    async def wait_in_sync(self) -> None:
        """Until the replica has made its first sync with the primary."""

        async def replica_in_sync() -> bool:
            if await _info_field(self.replica, "master_link_status") != "up":
                return False
            # Right after its sync a replica acknowledges writes only after a while: ready
            # once it confirms one (WAIT covers this connection's writes).
            client = self.primary.client()
            try:
                await client.set("autorec-test:replica-ready", "1")
                acked = await client.execute_command("WAIT", 1, 100)
            except (OSError, aioredis.RedisError):
                return False
            finally:
                await client.aclose()
            return int(acked) >= 1

        await eventually(
            replica_in_sync, what="the replica's first sync", timeout_s=READY_TIMEOUT_S
        )

    async def wait_ready(self) -> None:
        """Until every Sentinel knows the replica and enough of the other Sentinels."""

        async def sentinels_agree() -> bool:
            for sentinel in self.sentinels:
                client = sentinel.client()
                try:
                    state = await client.execute_command("SENTINEL", "MASTER", MASTER)
                except (OSError, aioredis.RedisError):
                    return False
                finally:
                    await client.aclose()
                fields = _pairs(state)
                # Enough peers to call the primary down and elect a leader (quorum 2 of 3).
                if int(fields.get("num-other-sentinels", "0")) < QUORUM - 1:
                    return False
                if fields.get("num-slaves") != "1":
                    return False
            return True

        await eventually(
            sentinels_agree, what="the Sentinels to find each other", timeout_s=READY_TIMEOUT_S
        )

    async def wait_failover(self, *, timeout_s: float = 20.0) -> tuple[str, int]:
        """Until a majority of Sentinels names the replica as the primary; its address."""
        expected = (LOOPBACK, self.replica.port)

        async def promoted() -> bool:
            return await self.master_address() == expected and (
                await _info_field(self.replica, "role") == "master"
            )

        await eventually(promoted, what="the replica's promotion", timeout_s=timeout_s)
        return expected

    async def switchover(self) -> None:
        """A failover the Sentinels run on request (`SENTINEL FAILOVER`), awaited until the
        old primary follows the new one: before that it still takes writes, which its
        resync then discards (Sentinel does not pause it)."""
        client = self.sentinels[0].client()
        try:
            await client.execute_command("SENTINEL", "FAILOVER", MASTER)
        finally:
            await client.aclose()
        host, port = await self.wait_failover()
        # The Sentinels reconfigure the old primary once they read its INFO again (up to
        # 10 s); doing it now keeps the test short and changes nothing else.
        old = self.primary.client()
        try:
            await old.execute_command("REPLICAOF", host, str(port))
        finally:
            await old.aclose()

    def stop(self) -> None:
        for node in reversed(self._nodes):
            node.stop()


async def _info_field(node: Node, name: str) -> str | None:
    client = node.client()
    try:
        info = await client.info("replication")
    except (OSError, aioredis.RedisError):
        return None
    finally:
        await client.aclose()
    value = info.get(name)
    return None if value is None else str(value)


def _pairs(reply: object) -> dict[str, str]:
    """A flat `[name, value, ...]` reply (or redis-py's dict of it) as text."""
    if isinstance(reply, dict):
        return {_text(k): _text(v) for k, v in reply.items()}
    assert isinstance(reply, list)
    return {_text(reply[i]): _text(reply[i + 1]) for i in range(0, len(reply) - 1, 2)}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _data_node(binary: str, name: str, directory: Path, replica_of: int | None) -> Node:
    port = free_port()
    node_dir = directory / name
    node_dir.mkdir()
    argv = [
        binary,
        "--port", str(port),
        "--bind", LOOPBACK,
        "--save", "",
        "--appendonly", "no",
        "--dir", str(node_dir),
        "--protected-mode", "no",
        "--maxmemory-policy", "noeviction",
        # A replica's full sync starts at once (the default waits 5 s for more replicas).
        "--repl-diskless-sync-delay", "0",
    ]  # fmt: skip
    if replica_of is not None:
        argv += ["--replicaof", LOOPBACK, str(replica_of)]
    return Node(name, port, argv, directory / f"{name}.log")


def _sentinel_node(binary: str, name: str, directory: Path, primary_port: int) -> Node:
    port = free_port()
    node_dir = directory / name
    node_dir.mkdir()
    config = node_dir / "sentinel.conf"
    # Sentinel rewrites its configuration file as it learns: it must be its own and writable.
    config.write_text(
        "\n".join(
            [
                f"port {port}",
                f"bind {LOOPBACK}",
                "protected-mode no",
                f"dir {node_dir}",
                f"sentinel monitor {MASTER} {LOOPBACK} {primary_port} {QUORUM}",
                f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {MASTER} 1",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return Node(name, port, [binary, str(config), "--sentinel"], directory / f"{name}.log")


@contextlib.asynccontextmanager
async def sentinel_set() -> AsyncIterator[SentinelSet]:
    """Start the five processes and wait until the set is ready; stop them all at exit."""
    binary = find_redis_server()
    with tempfile.TemporaryDirectory(prefix="autorec-sentinel-") as tmp:
        directory = Path(tmp)
        primary = _data_node(binary, "primary", directory, None)
        replica = _data_node(binary, "replica", directory, primary.port)
        sentinels = [
            _sentinel_node(binary, f"sentinel-{n}", directory, primary.port) for n in (1, 2, 3)
        ]
        cluster = SentinelSet(primary, replica, sentinels, directory)
        try:
            # The Sentinels see the replica in the primary's INFO, which they read at once
            # and then only every 10 s: the replica is in sync before they start.
            for node in (primary, replica):
                cluster.start(node)
            await cluster.wait_in_sync()
            for node in sentinels:
                cluster.start(node)
            await cluster.wait_ready()
            yield cluster
        finally:
            cluster.stop()


@contextlib.asynccontextmanager
async def replicated_pair() -> AsyncIterator[SentinelSet]:
    """A primary and its replica in sync, without Sentinels (`sentinels` is empty)."""
    binary = find_redis_server()
    with tempfile.TemporaryDirectory(prefix="autorec-replicas-") as tmp:
        directory = Path(tmp)
        primary = _data_node(binary, "primary", directory, None)
        replica = _data_node(binary, "replica", directory, primary.port)
        pair = SentinelSet(primary, replica, [], directory)
        try:
            pair.start(primary)
            pair.start(replica)
            await pair.wait_in_sync()
            yield pair
        finally:
            pair.stop()
