"""The arguments of `autorec record|stop|auto|recordings` and what they ask for (parsing only;
the commands run in `worker.cli.manual`, imported when one runs)."""

from __future__ import annotations

import argparse
from typing import Any, Final

from worker.cli import argtypes

#: `--wait` without a number.
DEFAULT_WAIT_S: Final = 30.0
DEFAULT_LIMIT: Final = 20
#: `autorec record` options that are per-recording policy fields, by their field names.
RECORD_FIELDS: Final = ("mode", "streams", "web_url", "max_duration_s")

_WAIT_HELP: Final = (
    "wait up to SECONDS (default 30, at most 30) for {what}; exit status 1 if it has not by "
    "then (the override stays)"
)


def add_manual_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Add `record`, `stop`, `auto` and `recordings` to the `autorec` sub-commands."""
    record = commands.add_parser(
        "record",
        help="record CHANNEL now, whoever is in it, until `autorec stop` or `autorec auto`",
        usage="%(prog)s CHANNEL [--mode MODE] [--streams STREAMS] [--web-url URL] "
        "[--max-duration-s N] [--expires-in-s N] [--wait [SECONDS]]",
        description="Record CHANNEL now: set its override to `always` (it records whatever its "
        "occupancy), with the recording's mode, streams and other fields validated against "
        "the channel's policy (AUTOREC_POLICY_FILE). The worker starts the recording under "
        "the recording limit (AUTOREC_MAX_RECORDINGS) and the queue of waiting channels. "
        "Prints the channel: its state, place in line and sid once known. Needs REDIS_URL, "
        "no Agora credentials.",
        epilog="Example: autorec record room-1 --mode individual --streams audio --wait",
    )
    record.add_argument("channel", type=argtypes.channel, metavar="CHANNEL", help="channel name")
    record.add_argument(
        "--mode", choices=("mix", "individual", "web"),
        help="recording mode (default: the channel's policy)",
    )  # fmt: skip
    record.add_argument(
        "--streams", choices=("audio", "video", "both"),
        help="media to record (default: the channel's policy)",
    )  # fmt: skip
    record.add_argument(
        "--web-url", metavar="URL", help="page to record in web mode ({channel} allowed)"
    )
    record.add_argument(
        "--max-duration-s", type=argtypes.positive_int, metavar="N",
        help="split the recording into segments of at most N seconds",
    )  # fmt: skip
    record.add_argument(
        "--expires-in-s", type=argtypes.positive_int, metavar="N",
        help="back to automatic after N seconds (default: until `autorec auto`)",
    )  # fmt: skip
    _add_wait(record, "the recording to run with a sid (put it after CHANNEL)")
    record.set_defaults(handler=_record, parser=record)

    stop = commands.add_parser(
        "stop",
        help="stop CHANNEL's recording now; the next meeting records automatically",
        usage="%(prog)s CHANNEL [--expires-in-s N] [--wait [SECONDS]]",
        description="Stop CHANNEL's recording now, without the empty-channel grace: set its "
        "override to `never` until the channel is next empty, so the next meeting records "
        "as usual. With --wait, print the finished recording: outcome, stop reason, files "
        "and upload status. Needs REDIS_URL, no Agora credentials.",
        epilog="Example: autorec stop room-1 --wait",
    )
    stop.add_argument("channel", type=argtypes.channel, metavar="CHANNEL", help="channel name")
    stop.add_argument(
        "--expires-in-s", type=argtypes.positive_int, metavar="N",
        help="back to automatic after N seconds even if the channel never empties",
    )  # fmt: skip
    _add_wait(stop, "the recording to end (put it after CHANNEL)")
    stop.set_defaults(handler=_stop, parser=stop)

    auto = commands.add_parser(
        "auto",
        help="put CHANNEL back to automatic recording (remove its override)",
        description="Put CHANNEL back to automatic: remove its override (set by `autorec "
        "record` or `autorec stop`), so it records when its policy says so. Needs REDIS_URL.",
        epilog="Example: autorec auto room-1",
    )
    auto.add_argument("channel", type=argtypes.channel, metavar="CHANNEL", help="channel name")
    auto.set_defaults(handler=_auto, parser=auto)

    recordings = commands.add_parser(
        "recordings",
        help="list finished recordings, newest first (the catalog)",
        description="List finished recordings from Redis (REDIS_URL), newest first: id (the "
        "Agora sid), channel, mode, streams, start, duration, outcome, stop reason, files "
        "and upload status. Kept AUTOREC_SESSION_HISTORY_DAYS days.",
        epilog="Example: autorec recordings --channel room-1 --limit 5 --json",
    )
    recordings.add_argument(
        "--channel", type=argtypes.channel, default=None, help="only this channel's recordings"
    )
    recordings.add_argument(
        "--limit", type=_limit, default=DEFAULT_LIMIT, metavar="N",
        help=f"at most N recordings (default {DEFAULT_LIMIT}, at most 1000)",
    )  # fmt: skip
    output = recordings.add_mutually_exclusive_group()
    output.add_argument(
        "--json", dest="output", action="store_const", const="json", default="table",
        help="print one JSON array of recording objects (times RFC 3339, UTC)",
    )  # fmt: skip
    output.add_argument(
        "--jsonl", dest="output", action="store_const", const="jsonl",
        help="print one recording object per line (JSON lines)",
    )  # fmt: skip
    recordings.set_defaults(handler=_recordings, parser=recordings)


def record_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The per-recording policy fields `autorec record` was given."""
    return {name: getattr(args, name) for name in RECORD_FIELDS if getattr(args, name) is not None}


# --- handlers ---------------------------------------------------------------------------


def _record(args: argparse.Namespace, extra: list[str]) -> int:
    from worker.cli.manual import RecordRequest, run_record

    request = RecordRequest(
        channel=args.channel,
        fields=record_fields(args),
        expires_in_s=args.expires_in_s,
        wait_s=args.wait,
    )
    return run_record(request)


def _stop(args: argparse.Namespace, extra: list[str]) -> int:
    from worker.cli.manual import run_stop

    return run_stop(args.channel, expires_in_s=args.expires_in_s, wait_s=args.wait)


def _auto(args: argparse.Namespace, extra: list[str]) -> int:
    from worker.cli.manual import run_auto

    return run_auto(args.channel)


def _recordings(args: argparse.Namespace, extra: list[str]) -> int:
    from worker.cli.manual import CatalogFormat, run_recordings

    return run_recordings(channel=args.channel, limit=args.limit, output=CatalogFormat(args.output))


# --- argument types -----------------------------------------------------------------------


def _limit(text: str) -> int:
    return argtypes.int_in(text, 1, 1000, "the limit")


def _add_wait(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--wait", type=argtypes.wait_s, nargs="?", const=DEFAULT_WAIT_S, default=None,
        metavar="SECONDS", help=_WAIT_HELP.format(what=what),
    )  # fmt: skip
