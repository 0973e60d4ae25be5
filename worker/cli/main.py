"""The `autorec` command line: dev, webhooks, worker, status, sandbox, token, and the manual
control of a channel: record, stop, auto, recordings.

Bad arguments or a bad configuration end a command with one line on stderr and exit
status 2, never a traceback; a command that fails otherwise (Redis unreachable, say) says so
in one line with exit status 1. The commands themselves live in `worker.cli.commands` and,
for manual control, `worker.cli.manual` (their arguments: `worker.cli.manual_args`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from worker.cli import argtypes, commands
from worker.cli.errors import EXIT_USAGE, CommandError
from worker.cli.manual_args import add_manual_commands
from worker.dev.redis_server import RedisServerError
from worker.settings import ConfigError

_DEFAULT_TOKEN_EXPIRE_S = 24 * 3600

Handler = Callable[[argparse.Namespace, list[str]], int]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `autorec` console script; returns the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    handler: Handler = args.handler
    if extra and handler is not _sandbox:
        command: argparse.ArgumentParser = args.parser
        command.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return handler(args, extra)
    except ConfigError as exc:
        print(f"autorec: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"autorec: {exc}", file=sys.stderr)
        return exc.exit_status
    except RedisServerError as exc:
        print(f"autorec: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `autorec` and its sub-commands."""
    parser = _Parser(
        prog="autorec",
        description="Automatic Agora Cloud Recording: channel events start and stop recordings.",
        epilog="Configuration comes from the environment and a .env file (see README.md).",
    )
    parser.add_argument("--version", action="version", version=f"autorec {_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    dev = commands.add_parser(
        "dev",
        help="run everything locally: Redis, the sandbox, the webhook service and a worker",
        description="Run autorec locally. Starts a private redis-server unless REDIS_URL is "
        "set, and the sandbox (a local stand-in for Agora) unless Agora credentials are set; "
        "then the webhook service and a worker, wired together. Ctrl-C stops everything.",
    )
    dev.add_argument(
        "--demo", action="store_true",
        help="also simulate a few sandbox channels that fill and empty, so recordings start "
        "and stop (empty-channel grace 5 s unless AUTOREC_EMPTY_GRACE_S is set)",
    )  # fmt: skip
    dev.add_argument("--host", default="127.0.0.1", help="webhook service address")
    dev.add_argument("--port", type=argtypes.port, default=8000, help="webhook service port")
    choice = dev.add_mutually_exclusive_group()
    choice.add_argument(
        "--sandbox", dest="sandbox", action="store_const", const=True, default=None,
        help="use the sandbox even when Agora credentials are configured",
    )  # fmt: skip
    choice.add_argument(
        "--no-sandbox", dest="sandbox", action="store_const", const=False,
        help="use real Agora (AGORA_APP_ID, AGORA_CUSTOMER_ID/SECRET required)",
    )  # fmt: skip
    dev.add_argument(
        "--sandbox-port", type=argtypes.port_or_any, default=0, help="default: a free port"
    )
    dev.add_argument(
        "--redis-port", type=argtypes.port_or_any, default=0, help="default: a free port"
    )
    dev.add_argument(
        "--metrics-port", type=argtypes.port_or_any, default=0, help="worker metrics; default: free"
    )
    dev.add_argument(
        "--grace-s", type=argtypes.positive_float, default=10.0,
        help="seconds each process gets to stop before it is killed (default 10)",
    )  # fmt: skip
    dev.set_defaults(handler=_dev, parser=dev)

    webhooks = commands.add_parser(
        "webhooks",
        help="run the webhook service (one uvicorn process)",
        description="Serve POST /webhooks/agora, /webhooks/events, /healthz, /readyz, /metrics.",
    )
    webhooks.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    webhooks.add_argument(
        "--port", type=argtypes.port, default=8000, help="bind port (default 8000)"
    )
    webhooks.add_argument(
        "--graceful-shutdown-s", type=argtypes.positive_int, default=5,
        help="seconds open requests get to finish after SIGTERM (default 5)",
    )  # fmt: skip
    webhooks.add_argument(
        "--limit-concurrency", type=argtypes.positive_int, default=None,
        help="answer 503 beyond this many concurrent connections",
    )  # fmt: skip
    webhooks.add_argument(
        "--no-access-log", dest="access_log", action="store_false", help="no access log"
    )
    webhooks.set_defaults(handler=_webhooks, parser=webhooks)

    worker = commands.add_parser(
        "worker",
        help="run a worker (arq): the event consumer and the recording jobs",
        description="Run one worker process; the same as `arq worker.main.WorkerSettings`.",
    )
    worker.add_argument(
        "--burst", action="store_true", help="exit once the queue is empty (batch runs)"
    )
    worker.add_argument(
        "--check", action="store_true",
        help="exit 0 if a worker of this queue reported health recently, else 1",
    )  # fmt: skip
    worker.set_defaults(handler=_worker, parser=worker)

    status = commands.add_parser(
        "status",
        help="show recording slots, waiting channels, recordings and recent failures",
        description="Read autorec's state from Redis (REDIS_URL): recording slots used of "
        "AUTOREC_MAX_RECORDINGS, channels waiting for a slot, channels recording (recorder "
        "uid, sid, mode, duration) and recent failures. It starts or stops nothing.",
    )
    status.add_argument("--json", action="store_true", help="print one JSON document instead")
    status.add_argument(
        "--failures", type=argtypes.count, default=10, metavar="N",
        help="recent failures to show (default 10, 0 hides them)",
    )  # fmt: skip
    status.set_defaults(handler=_status, parser=status)

    sandbox = commands.add_parser(
        "sandbox",
        add_help=False,
        help="run the sandbox, a local stand-in for Agora that accepts the configured "
        "AGORA_* credentials (options: autorec sandbox --help)",
        description="Run `python -m sandbox` with the given arguments.",
    )
    sandbox.set_defaults(handler=_sandbox, parser=sandbox)

    token = commands.add_parser(
        "token",
        help="print an RTC token (AccessToken2) for a recorder uid in a channel",
        description="Print an AccessToken2 RTC token for CHANNEL and UID, signed with "
        "AGORA_APP_ID and AGORA_APP_CERTIFICATE (or --app-id / --app-certificate).",
    )
    token.add_argument("--channel", required=True, type=argtypes.channel, help="channel name")
    token.add_argument(
        "--uid", required=True, type=argtypes.uid, help="integer uid; 0 admits any uid"
    )
    token.add_argument(
        "--role", choices=("publisher", "subscriber"), default="publisher",
        help="publisher (join and publish; default) or subscriber (join only)",
    )  # fmt: skip
    token.add_argument(
        "--expire-s", type=argtypes.uint32_positive, default=_DEFAULT_TOKEN_EXPIRE_S,
        help="validity of the token and its privileges, in seconds (default 86400)",
    )  # fmt: skip
    token.add_argument(
        "--issue-ts",
        type=argtypes.uint32,
        default=None,
        help="issue time, Unix seconds (default: now)",
    )
    token.add_argument(
        "--salt", type=argtypes.salt, default=None, help="salt 1..99999999 (default: random)"
    )
    token.add_argument("--app-id", default=None, help="overrides AGORA_APP_ID")
    token.add_argument(
        "--app-certificate", default=None,
        help="overrides AGORA_APP_CERTIFICATE (prefer the variable: argv is visible to others)",
    )  # fmt: skip
    token.set_defaults(handler=_token, parser=token)

    add_manual_commands(commands)
    return parser


# --- handlers: arguments to commands ------------------------------------------------


def _dev(args: argparse.Namespace, extra: list[str]) -> int:
    from worker.dev.stack import DevOptions

    options = DevOptions(
        host=args.host,
        port=args.port,
        sandbox=args.sandbox,
        sandbox_port=args.sandbox_port,
        redis_port=args.redis_port,
        metrics_port=args.metrics_port,
        demo=args.demo,
    )
    return commands.run_dev(options, grace_s=args.grace_s)


def _webhooks(args: argparse.Namespace, extra: list[str]) -> int:
    return commands.run_webhooks(
        host=args.host,
        port=args.port,
        graceful_shutdown_s=args.graceful_shutdown_s,
        limit_concurrency=args.limit_concurrency,
        access_log=args.access_log,
    )


def _worker(args: argparse.Namespace, extra: list[str]) -> int:
    return commands.run_worker(burst=args.burst, check=args.check)


def _status(args: argparse.Namespace, extra: list[str]) -> int:
    return commands.run_status(as_json=args.json, failures=args.failures)


def _sandbox(args: argparse.Namespace, extra: list[str]) -> NoReturn:
    commands.exec_sandbox(extra)


def _token(args: argparse.Namespace, extra: list[str]) -> int:
    from worker.agora.token import RtcRole

    token = commands.make_token(
        channel=args.channel,
        uid=args.uid,
        role=RtcRole.PUBLISHER if args.role == "publisher" else RtcRole.SUBSCRIBER,
        expire_s=args.expire_s,
        issue_ts=args.issue_ts,
        salt=args.salt,
        app_id=args.app_id,
        app_certificate=args.app_certificate,
    )
    print(token)
    return 0


# --- helpers ---------------------------------------------------------------------------


def _version() -> str:
    try:
        return version("autorec")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
