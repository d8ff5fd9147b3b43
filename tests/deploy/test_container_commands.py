"""Every command the stack's tasks run (deploy/container.py) is a command of our CLI: the consumer
(`stream run --source kinesis://`), KCL mode's daemon and the worker it starts per shard, the compaction, the report.
Parsing is what is checked: the report reads only a local log so far (see deploy/container.py)."""

from __future__ import annotations

import re
import shlex

import pytest

from deploy import container
from deploy.kcl import properties
from moodlens.cli import build_parser


def concrete(words: list[str]) -> list[str]:
    values = {"EventStream": "moodlens-events", "StateBucket": "state-bucket", "DataBucket": "data-bucket",
              "AWS::StackName": "moodlens"}
    return [re.sub(r"\$\{([\w:]+)\}", lambda m: values[m.group(1)], word) for word in words]


def kcl_worker() -> list[str]:
    return shlex.split(dict(line.split(" = ", 1) for line in properties("s", "a", "s3://b/kcl", "r").splitlines())[
        "executableName"])[1:]


@pytest.mark.parametrize("command", [container.consumer_command(), container.kcl_command(), kcl_worker(),
                                     container.compaction_command(), container.report_command(),
                                     container.drift_command()],
                         ids=["consumer", "kcl-daemon", "kcl-worker", "compaction", "report", "drift"])
def test_every_command_the_stack_runs_parses_with_the_cli(command: list[str]) -> None:
    args = build_parser().parse_args(concrete(command))
    assert callable(args.handler)
