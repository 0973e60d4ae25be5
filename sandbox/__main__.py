"""`python -m sandbox --port N`: serve the sandbox under uvicorn (options also read SANDBOX_*)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

import uvicorn

from sandbox.app import create_app
from sandbox.config import SandboxConfig


def _env(name: str, default: object) -> object:
    return os.environ.get(f"SANDBOX_{name.upper()}", default)


#: The program name in usage and errors; `autorec sandbox` sets it to its own name.
_PROG_VARIABLE = "SANDBOX_PROG"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _app_id(text: str) -> str:
    """An Agora App ID: 32 hexadecimal characters."""
    if not re.fullmatch(r"[0-9A-Fa-f]{32}", text.strip()):
        raise argparse.ArgumentTypeError("must be 32 hexadecimal characters")
    return text.strip()


def _optional_text(text: str) -> str | None:
    """A string, or None when empty (an unset SANDBOX_* variable may be exported empty)."""
    return text or None


def _optional_int(text: str) -> int | None:
    """An integer, or None when empty."""
    return int(text) if text.strip() else None


def _optional_float(text: str) -> float | None:
    """A float, or None for "" / "none" / "0" (used to disable the QPS limit)."""
    if text.strip().lower() in ("", "none", "0"):
        return None
    return float(text)


def build_parser() -> argparse.ArgumentParser:
    """The command line; every option's default comes from `SANDBOX_<OPTION>` if set."""
    parser = _Parser(
        prog=os.environ.get(_PROG_VARIABLE) or "python -m sandbox",
        description="Serve the sandbox, a local stand-in for Agora's Cloud Recording REST "
        "API, under uvicorn (every option also reads SANDBOX_<OPTION>).",
        epilog="Pass secrets through the environment rather than the command line.",
    )
    defaults = SandboxConfig()
    options: list[tuple[str, Callable[[str], object], object, str]] = [
        ("host", str, "127.0.0.1", "interface to listen on"),
        ("port", int, 8090, "port to listen on"),
        ("app_id", _app_id, defaults.app_id, "App ID the sandbox accepts"),
        ("customer_id", str, defaults.customer_id, "Basic-auth user"),
        ("customer_secret", str, defaults.customer_secret, "Basic-auth password"),
        (
            "app_certificate",
            _optional_text,
            None,
            "32-hex certificate; set: recorder tokens are checked",
        ),
        ("ncs_url", _optional_text, None, "URL that receives NCS events"),
        ("ncs_secret", _optional_text, None, "NCS signing secret"),
        ("max_concurrent", int, defaults.max_concurrent, "running recordings allowed"),
        ("qps_limit", _optional_float, 10.0, "REST requests per second (0 disables)"),
        ("resource_ttl_s", float, defaults.resource_ttl_s, "resource ID validity, Agora s"),
        ("time_scale", float, defaults.time_scale, "multiplier of every Agora duration"),
        ("exit_s", float, defaults.exit_s, "exiting phase after stop/idle, Agora s"),
        ("seed", _optional_int, None, "seed of fault randomness"),
        ("log_level", str, "info", "uvicorn log level"),
    ]
    for name, kind, default, help_text in options:
        env_default = _env(name, default)
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            type=kind,
            default=env_default,  # argparse converts a string default with `type`
            help=f"{help_text} (env SANDBOX_{name.upper()})",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, build the config and serve until interrupted."""
    args = build_parser().parse_args(argv)
    try:
        config = SandboxConfig(
            app_id=args.app_id,
            customer_id=args.customer_id,
            customer_secret=args.customer_secret,
            app_certificate=args.app_certificate,
            ncs_url=args.ncs_url,
            ncs_secret=args.ncs_secret,
            max_concurrent=args.max_concurrent,
            qps_limit=args.qps_limit,
            resource_ttl_s=args.resource_ttl_s,
            time_scale=args.time_scale,
            exit_s=args.exit_s,
            seed=args.seed,
        )
    except ValueError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        ws="none",
        lifespan="on",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
