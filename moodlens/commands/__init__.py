"""Command groups of the `moodlens` CLI; each module adds one group with `register(subparsers)`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from moodlens.commands import demo, edge, infra, model, schema, stream

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

COMMAND_GROUPS: list[Register] = [schema.register, model.register, edge.register, stream.register, demo.register,
                                 infra.register]
