"""`python -m bench.chaos`: run the compound-fault scenario and print its table; the exit
status is 1 when a goal is missed."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from bench.chaos import __doc__ as chaos_doc
from bench.chaos.actors import ChaosOptions
from bench.chaos.figures import goals_met, table
from bench.chaos.run import run_chaos


def main(argv: list[str] | None = None) -> int:
    defaults = ChaosOptions()
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos",
        description=chaos_doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration-s", type=float, default=defaults.duration_s)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of every choice")
    parser.add_argument("--channels", type=int, default=defaults.channels)
    parser.add_argument("--limit", type=int, default=defaults.limit, help="AUTOREC_MAX_RECORDINGS")
    parser.add_argument("--qps", type=float, default=defaults.qps, help="requests/s, both sides")
    parser.add_argument("--grace-s", type=float, default=defaults.grace_s)
    parser.add_argument("--interval-s", type=float, default=defaults.interval_s)
    parser.add_argument("--redis-kills", type=int, default=defaults.redis_kills)
    parser.add_argument(
        "--log-dir", type=Path, default=None, help="where the processes' output goes (kept)"
    )
    args = parser.parse_args(argv)
    options = ChaosOptions(
        duration_s=args.duration_s,
        seed=args.seed,
        channels=args.channels,
        limit=args.limit,
        qps=args.qps,
        grace_s=args.grace_s,
        interval_s=args.interval_s,
        redis_kills=args.redis_kills,
    )
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="autorec-chaos-"))
    report = asyncio.run(run_chaos(options, log_dir))
    print(
        f"chaos run: {options.duration_s:g} s, {options.channels} channels, seed {options.seed}, "
        f"limit {options.limit}, {options.qps:g} requests/s, grace {options.grace_s:g} s, "
        f"reconcile every {options.interval_s:g} s"
    )
    print("disturbances: " + ", ".join(f"{k} {v}" for k, v in report.disturbances.items()))
    print(table(report.figures, report.bounds))
    for line in report.details:
        print(line)
    print(f"logs: {report.log_dir}")
    return 0 if goals_met(report.figures, report.bounds) else 1


if __name__ == "__main__":
    sys.exit(main())
