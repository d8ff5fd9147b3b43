"""Command groups of the `moodlens` CLI; each module adds one group with `register(subparsers)`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from moodlens.commands import (
    batch,
    batch_analytics,
    config,
    dashboard,
    demo,
    demo_history,
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

demo.DEMO_SUBCOMMANDS.append(demo_history.register)  # `moodlens demo history`

# In the order `moodlens --help` lists them: a site manager's commands first.
COMMAND_GROUPS: list[Register] = [init.register, config.register, up.register, dashboard.register,
                                  demo.register, edge.register, stream.register, model.register, label.register,
                                  schema.register, report.register,
                                  # the lake's batch group first: batch_analytics adds forecast and drivers to it
                                  batch.register, batch_analytics.register, sql.register, infra.register]
