"""Command line: `python -m assessment_asgi <command> …`.

Each command lives in its own module with `main(argv) -> int`; this file only dispatches,
so importing the package never imports a command's dependencies.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "sandbox": ("assessment_asgi.sandbox._cli", "run the embedded SmartAI sandbox"),
    "doctor": ("assessment_asgi._doctor", "check a configuration and say how to fix it"),
    "poll": ("assessment_asgi.platform._poll_cli", "poll the results queue and print events"),
}


def _usage() -> str:
    lines = ["usage: python -m assessment_asgi <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest))


if __name__ == "__main__":
    raise SystemExit(main())
