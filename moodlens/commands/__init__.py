"""Command groups of the `moodlens` CLI; each module adds one group with `register(subparsers)`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from moodlens.commands import config, dashboard, demo, edge, init, label, model, schema, stream, up

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

# In the order `moodlens --help` lists them: a site manager's commands first.
COMMAND_GROUPS: list[Register] = [init.register, config.register, up.register, dashboard.register,
                                  demo.register, edge.register, stream.register, model.register, label.register,
                                  schema.register]
