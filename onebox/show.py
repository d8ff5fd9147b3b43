"""`moodlens config show`: every setting with its value and its default, then the environment settings.

Secrets are never printed: the dashboard token shows as set or not, a password in a URL as ***."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from edge.redact import mask_credentials
from onebox.config import SiteConfig
from onebox.settings import CAMERA, ENVIRONMENT, SECTIONS

SECRETS = ("dashboard.token", "MOODLENS_DASHBOARD_TOKEN")


def _text(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else f'"{mask_credentials(value)}"'


def _secret(value: str) -> str:
    """Whether a secret is set, and its length, never the secret."""
    return f"(set, {len(value)} characters, hidden)" if value else '""'


def show(config: SiteConfig | None, source: str) -> str:
    rows: list[tuple[str, str, str, str]] = []
    for section, settings in SECTIONS.items():
        for setting in settings:
            value = config.get(section, setting.key) if config else setting.default
            default = "(required)" if setting.required else _text(setting.default)
            shown = _secret(value) if f"{section}.{setting.key}" in SECRETS else _text(value)
            rows.append((f"{section}.{setting.key}", "-" if value is None else shown, default, setting.help))
    for index, camera in enumerate(config.cameras if config else ()):
        for setting in CAMERA:
            value = getattr(camera, setting.key)
            if isinstance(value, tuple):
                value = [list(v) for v in value]
            default = "(required)" if setting.required else _text(setting.default)
            rows.append((f"cameras[{index}].{setting.key}", _text(value), default, setting.help))
    lines = [f"site file: {source}", ""]
    lines += _table(("setting", "value", "default", "what"), rows)
    if config is not None:
        lines += ["", "resolved folders:",
                  f"  state  {config.state_dir}", f"  lake   {config.lake_dir}", f"  reports {config.reports_dir}"]
    env_rows = [(e.name, _env_value(e.name), e.default or '""', e.help) for e in ENVIRONMENT]
    lines += ["", "environment (read by `moodlens edge run`; `moodlens up` sets the log and spool per camera):", ""]
    lines += _table(("variable", "value", "default", "what"), env_rows)
    return "\n".join(lines)


def _env_value(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        return "-"
    return _secret(value) if name in SECRETS else mask_credentials(value)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [min(40, max(len(r[i]) for r in [header, *rows])) for i in range(len(header) - 1)]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]

    return [line(header), *map(line, rows)]
