"""Command line: ``smolrag-lab <command>``. Errors go to stderr with a non-zero exit code."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from .settings import Settings, SettingsError


def _settings_command(args: argparse.Namespace) -> int:
    settings = Settings.load(args.config)
    described = settings.describe()
    if args.json:
        print(json.dumps({k: v["value"] for k, v in described.items()}, default=str, indent=2))
        return 0
    width = max(map(len, described))
    for name, info in described.items():
        allowed = info.get("choices") or (f"[{info['lo']}, {info['hi']}]" if "lo" in info else "")
        print(f"{name:<{width}}  {info['value']!s:<40} {allowed}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smolrag-lab", description=__doc__)
    parser.add_argument("--config", help="TOML settings file (default: $SMOLRAG_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("settings", help="show every setting, its value and allowed range")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_settings_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SettingsError as exc:
        print(f"smolrag-lab: invalid settings: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
