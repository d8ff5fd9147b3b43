"""`moodlens schema validate FILE.jsonl`: a verdict per bad line, non-zero exit if any."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from schemas.validation import ValidationError, parse_event


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = groups.add_parser("schema", help="check event files against the event contract")
    commands = group.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="validate a JSON Lines file of events")
    validate.add_argument("file", type=Path, help="JSON Lines file, one event per line ('-' for stdin)")
    validate.set_defaults(handler=run_validate)


def _problems(line: bytes) -> list[str]:
    """Every problem of one line; an unexpected error is a verdict on that line, never a crash."""
    try:
        parse_event(line.rstrip(b"\r\n"))
    except ValidationError as error:
        return [str(problem) for problem in error.problems]
    except Exception as error:  # a validator bug must not hide the verdicts on the other lines
        return [f"$: unexpected {type(error).__name__}: {str(error)[:300]}"]
    return []


def run_validate(args: argparse.Namespace) -> int:
    # Bytes, not text: the validator itself judges the encoding (UTF-8, no byte-order mark).
    stream = sys.stdin.buffer if str(args.file) == "-" else args.file.open("rb")
    total = bad = 0
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            total += 1
            problems = _problems(line)
            if problems:
                bad += 1
                for problem in problems:
                    print(f"{args.file}:{number}: {problem}")
    print(f"{total - bad} valid, {bad} invalid of {total} events", file=sys.stderr)
    return 1 if bad else 0
