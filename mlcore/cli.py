"""`python -m mlcore SUBCOMMAND ...`: the library's command line.

Each subcommand lives in mlcore/commands/<name>.py and exposes
`register(subparsers)`; the parser it adds sets `func`, which returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mlcore.errors import MlcoreError

COMMANDS: tuple[str, ...] = ("train", "pretrain", "predict", "evaluate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mlcore", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"mlcore.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MlcoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
