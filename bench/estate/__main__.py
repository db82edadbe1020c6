"""The bench estate: real BIND9, nginx and Postfix in a network namespace behind an emulated RTT.

    sudo .venv/bin/python -m bench.estate up --domains 1000 --rtt 20   # build and start (minutes for 5,000)
    sudo .venv/bin/python -m bench.estate status
    sudo .venv/bin/python -m bench.estate rtt 0                        # change the delay in place
    sudo .venv/bin/python -m bench.estate exec -- cyberscan scan museum00000.test ...   # in the client namespace
    sudo .venv/bin/python -m bench.estate down                         # stop everything, remove the namespaces

See docs/scale.md for the design and bench/README.md for the measurements (bench/scale.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import control, net


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.estate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=control.DEFAULT_DIR)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="build and start the estate")
    start.add_argument("--domains", type=int, default=100)
    start.add_argument("--rtt", type=float, default=20.0, help="round-trip time in milliseconds")
    sub.add_parser("down", help="stop everything and remove the namespaces")
    sub.add_parser("status", help="what runs")
    sub.add_parser("restart", help="start again the servers that stopped (nothing rebuilt)")
    rtt = sub.add_parser("rtt", help="change the round-trip time")
    rtt.add_argument("ms", type=float)
    run = sub.add_parser("exec", help="run a command in the client namespace")
    run.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "up":
        state = control.up(args.domains, args.rtt, args.dir)
        print(json.dumps({"domains": state.domains, "rtt_ms": state.rtt_ms, "ca_file": state.ca_file,
                          "nameserver": "10.80.0.53", "client": f"ip netns exec {net.CLIENT_NS} ..."}, indent=2))
    elif args.command == "down":
        control.down(args.dir)
    elif args.command == "status":
        print(json.dumps(control.status(args.dir), indent=2))
    elif args.command == "restart":
        control.restart(args.dir)
        print(json.dumps(control.status(args.dir), indent=2))
    elif args.command == "rtt":
        control.set_rtt(args.ms, args.dir)
    elif args.command == "exec":
        command = [a for a in args.args if a != "--"] if args.args[:1] == ["--"] else args.args
        os.execvp("ip", net.in_client(*command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
