"""Command line: ``smolrag-lab <command>``. Errors go to stderr with a non-zero exit code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .cli_bench import add_bench_command
from .cli_eval import add_eval_commands
from .cli_index import add_index_commands
from .cli_tools import add_serve_command, add_settings_command, add_tool_commands
from .settings import SettingsError


def build_parser() -> argparse.ArgumentParser:
    """Every command's parser; the order of the calls is the order ``--help`` lists them in."""
    parser = argparse.ArgumentParser(prog="smolrag-lab", description=__doc__)
    parser.add_argument("--config", help="TOML settings file (default: $SMOLRAG_CONFIG)")
    parser.add_argument(
        "--log-model-io",
        metavar="FILE",
        help="append every model prompt and response to FILE as JSONL (for replay)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_settings_command(commands)
    data_dir = add_index_commands(commands)
    add_tool_commands(commands)
    add_serve_command(commands, data_dir)
    add_bench_command(commands)
    add_eval_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.log_model_io:  # read by every Settings.load, in this process and its workers
        os.environ["SMOLRAG_MODEL_IO_LOG"] = str(Path(args.log_model_io).resolve())
    try:
        return args.run(args)
    except SettingsError as exc:
        print(f"smolrag-lab: invalid settings: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"smolrag-lab: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
