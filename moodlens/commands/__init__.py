"""Command groups of the `moodlens` CLI; each module adds one group with `register(subparsers)`.

A group made of several modules is composed by its own module's `register`, which calls the others'
`add_*_commands` (`model` adds the registry's and the drift commands, `batch` the lake's and the
analytics', `demo` adds `history`), so every command is named here or in its group's module.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from moodlens.commands import (
    batch,
    config,
    dashboard,
    demo,
    edge,
    infra,
    init,
    label,
    model,
    report,
    schema,
    sql,
    stream,
    up,
)

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

# In the order `moodlens --help` lists them: a site manager's commands first.
COMMAND_GROUPS: list[Register] = [init.register, config.register, up.register, dashboard.register,
                                  demo.register, edge.register, stream.register, model.register, label.register,
                                  schema.register, report.register, batch.register, sql.register, infra.register]
