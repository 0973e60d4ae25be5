"""The port check refuses a busy port with one line naming the flag."""

from __future__ import annotations

import socket

import pytest

from worker.ports import check_port_free
from worker.settings import ConfigError


def test_a_busy_port_is_refused_naming_the_flag() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=r"^--port: cannot listen on 127.0.0.1:"):
            check_port_free("127.0.0.1", port, "--port")


def test_the_port_check_binds_an_ipv6_host_with_ipv6() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback here")
    check_port_free("::1", port, "--port")
    with socket.socket(socket.AF_INET6) as busy:
        busy.bind(("::1", port))
        busy.listen()
        with pytest.raises(ConfigError, match=r"^--port: cannot listen on ::1:"):
            check_port_free("::1", port, "--port")
