"""Listening ports: whether the service can listen where a command-line flag asks."""

from __future__ import annotations

import socket

from worker.settings import ConfigError


def check_port_free(host: str, port: int, flag: str) -> None:
    """ConfigError naming `flag` when nothing could listen on host:port now (IPv4 or IPv6,
    as the host says)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:  # socket.gaierror included
        raise ConfigError(f"{flag}: cannot listen on {host}:{port} ({exc.strerror})") from None
