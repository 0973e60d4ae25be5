"""Bench plumbing: uvicorn apps as child processes and HTTP load generators (wrk or Python).

Both generators replay a list of pre-built requests over keep-alive connections on loopback
for a fixed time and report requests/s, latency percentiles and non-2xx answers.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from worker.dev.redis_server import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class HttpRequest:
    """One POST to replay: path, headers and body."""

    path: str
    headers: dict[str, str]
    body: bytes

    def raw(self, host: str) -> bytes:
        """The request as HTTP/1.1 bytes with keep-alive."""
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured."""

    requests: int
    non_2xx: int
    duration_s: float
    p50_ms: float
    p99_ms: float

    @property
    def requests_per_s(self) -> float:
        """Completed requests per second."""
        return self.requests / self.duration_s if self.duration_s else 0.0


def cpu_pinning_available() -> bool:
    """Whether server and load generator can be put on separate CPUs."""
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(argv: Sequence[str], cpus: str | None) -> list[str]:
    """`argv` run on the given CPU list (taskset), or unchanged when `cpus` is None."""
    return ["taskset", "-c", cpus, *argv] if cpus else list(argv)


def wait_http_ok(port: int, path: str, timeout_s: float) -> None:
    """Poll `GET path` on 127.0.0.1:port until it answers 200; RuntimeError at the deadline."""
    deadline = time.monotonic() + timeout_s
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(request)
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered 200 on 127.0.0.1:{port}{path} in {timeout_s} s")


@contextlib.contextmanager
def uvicorn_app(
    factory: str, *, env: dict[str, str], cpus: str | None = None, ready_path: str = "/healthz"
) -> Iterator[int]:
    """Run `uvicorn <factory> --factory` (uvloop, httptools, no access log); yield its port."""
    port = free_port()
    argv = [
        sys.executable, "-m", "uvicorn", factory, "--factory",
        "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(pinned(argv, cpus), cwd=REPO_ROOT, env={**os.environ, **env})
    try:
        wait_http_ok(port, ready_path, timeout_s=15)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- wrk ------------------------------------------------------------------------------------

_WRK_SCRIPT = r"""
local requests = {}
local i = 0
init = function(args)
  local headers = {}
  for line in io.lines(args[1]) do
    local kind, rest = line:match("^(%S+) (.*)$")
    if kind == "H" then
      local name, value = rest:match("^([^:]+): (.*)$")
      headers[name] = value
    elseif kind == "B" then
      local path, body = rest:match("^(%S+) (.*)$")
      requests[#requests + 1] = wrk.format("POST", path, headers, body)
      headers = {}
    end
  end
end
request = function()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end
"""

_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk_available() -> bool:
    """Whether `wrk` is on PATH."""
    return shutil.which("wrk") is not None


def _wrk_ms(text: str, label: str) -> float:
    match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s|m)\s*$", text, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no {label} latency")
    return float(match[1]) * _WRK_UNITS[match[2]]


def run_wrk(
    port: int,
    requests: Sequence[HttpRequest],
    *,
    duration_s: float,
    connections: int,
    cpus: str | None = None,
) -> LoadResult:
    """Replay `requests` (cycling) with wrk, one thread, for `duration_s` seconds."""
    with tempfile.TemporaryDirectory(prefix="autorec-bench-") as tmp:
        script, data = Path(tmp, "replay.lua"), Path(tmp, "requests.txt")
        script.write_text(_WRK_SCRIPT)
        with data.open("w", encoding="latin-1") as out:
            for req in requests:
                if b"\n" in req.body:
                    raise ValueError("wrk replay needs single-line bodies")
                for name, value in req.headers.items():
                    out.write(f"H {name}: {value}\n")
                out.write(f"B {req.path} {req.body.decode('latin-1')}\n")
        argv = [
            "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration_s))}s", "--latency",
            "-s", str(script), f"http://127.0.0.1:{port}", "--", str(data),
        ]  # fmt: skip
        output = subprocess.run(
            pinned(argv, cpus), capture_output=True, text=True, check=True
        ).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if not total:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return LoadResult(
        requests=int(total[1]),
        non_2xx=(int(non_2xx[1]) if non_2xx else 0)
        + (sum(int(n) for n in errors.groups()) if errors else 0),
        duration_s=float(total[2]) * _WRK_UNITS[total[3]] / 1e3,
        p50_ms=_wrk_ms(output, "50%"),
        p99_ms=_wrk_ms(output, "99%"),
    )


# --- Python generator -----------------------------------------------------------------------


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def _python_worker(
    port: int,
    payloads: list[bytes],
    connections: int,
    duration_s: float,
    results: multiprocessing.Queue[tuple[list[float], int, float]],
) -> None:
    """One process: `connections` keep-alive sockets, each with one request in flight."""
    selector = selectors.DefaultSelector()
    buffers: dict[socket.socket, bytearray] = {}
    sent_at: dict[socket.socket, float] = {}
    latencies: list[float] = []
    non_2xx = 0
    index = 0

    def send_next(sock: socket.socket) -> None:
        nonlocal index
        sock.sendall(payloads[index % len(payloads)])
        index += 1
        sent_at[sock] = time.perf_counter()

    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffers[sock] = bytearray()
        selector.register(sock, selectors.EVENT_READ)
    started = time.perf_counter()
    deadline = started + duration_s
    for sock in buffers:
        send_next(sock)
    while time.perf_counter() < deadline:
        for key, _ in selector.select(timeout=0.1):
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            buffer = buffers[ready]
            buffer += ready.recv(65536)
            while (end := buffer.find(b"\r\n\r\n")) >= 0:
                head = bytes(buffer[:end]).lower()
                length_at = head.find(b"content-length:")
                length = int(head[length_at + 15 :].split(b"\r\n", 1)[0]) if length_at >= 0 else 0
                if len(buffer) < end + 4 + length:
                    break
                del buffer[: end + 4 + length]
                latencies.append(time.perf_counter() - sent_at[ready])
                if not head.startswith(b"http/1.1 2"):
                    non_2xx += 1
                send_next(ready)
    elapsed = time.perf_counter() - started
    for sock in buffers:
        sock.close()
    results.put((latencies, non_2xx, elapsed))


def run_python_load(
    port: int,
    requests: Sequence[HttpRequest],
    *,
    duration_s: float,
    connections: int,
    processes: int = 2,
    cpus: str | None = None,
) -> LoadResult:
    """Replay `requests` from `processes` processes of raw keep-alive sockets (no wrk)."""
    payloads = [req.raw(f"127.0.0.1:{port}") for req in requests]
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    share = max(1, connections // processes)
    workers = [
        context.Process(
            target=_python_worker,
            args=(port, payloads[n::processes] or payloads, share, duration_s, results),
        )
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
        if cpus and worker.pid is not None:
            os.sched_setaffinity(worker.pid, {int(cpu) for cpu in cpus.split(",")})
    collected = [results.get(timeout=duration_s + 30) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(lat for lats, _, _ in collected for lat in lats)
    return LoadResult(
        requests=len(latencies),
        non_2xx=sum(bad for _, bad, _ in collected),
        duration_s=max(elapsed for _, _, elapsed in collected),
        p50_ms=_percentile(latencies, 0.50) * 1e3,
        p99_ms=_percentile(latencies, 0.99) * 1e3,
    )
