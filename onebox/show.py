"""`moodlens config show`: every setting with its value, the default where it differs, and what it does;
then the environment settings. Laid out like the site file (sections, `key = value`), each setting's help
wrapped under it to the terminal's width, so that it reads on an 80-column console.

Secrets are never printed: the dashboard token shows as set or not, a password in a URL as ***."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from typing import Any

from edge.redact import mask_credentials
from onebox.config import SiteConfig
from onebox.settings import CAMERA, ENVIRONMENT, SECTIONS, Setting

SECRETS = ("dashboard.token", "MOODLENS_DASHBOARD_TOKEN")
INDENT, HELP_INDENT = "  ", "      "


def _text(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else f'"{mask_credentials(value)}"'


def _secret(value: str) -> str:
    """Whether a secret is set, and its length, never the secret."""
    return f"(set, {len(value)} characters, hidden)" if value else '""'


def show(config: SiteConfig | None, source: str, width: int | None = None) -> str:
    """The listing; ``width``: the columns to wrap the help to (default: the terminal's, 80 when unknown)."""
    width = max(40, width or shutil.get_terminal_size((80, 24)).columns)
    lines = [f"site file: {source}", "(default ...) follows a value that is not the default", ""]
    for section, settings in SECTIONS.items():
        lines.append(f"[{section}]")
        for setting in settings:
            value = config.get(section, setting.key) if config else setting.default
            secret = f"{section}.{setting.key}" in SECRETS
            lines += _setting(setting.key, setting, value, _secret(value) if secret else None, width)
        lines.append("")
    for camera in config.cameras if config else ():
        lines.append("[[cameras]]")
        for setting in CAMERA:
            value = getattr(camera, setting.key)
            lines += _setting(setting.key, setting, [list(v) for v in value] if isinstance(value, tuple) else value,
                              None, width)
        lines.append("")
    if config is not None:
        lines += ["resolved folders:", f"  state    {config.state_dir}", f"  lake     {config.lake_dir}",
                  f"  reports  {config.reports_dir}", ""]
    lines += textwrap.wrap("environment (read by `moodlens edge run`; `moodlens up` sets the log and spool per "
                           "camera):", width=width)
    for variable in ENVIRONMENT:
        lines.append(INDENT + _variable(variable.name, os.environ.get(variable.name), variable.default))
        lines += _wrapped(variable.help, width)
    return "\n".join(lines)


def _setting(key: str, setting: Setting, value: Any, secret: str | None, width: int) -> list[str]:
    """``key = value``, its default when the value differs (or "(required)"), and its help below."""
    shown = "(not set)" if value is None else secret if secret is not None else _text(value)
    if setting.required:
        note = "  (required)"
    else:
        note = "" if value == setting.default else f"  (default {_text(setting.default)})"
    return [f"{INDENT}{key} = {shown}{note}", *_wrapped(setting.help, width)]


def _variable(name: str, value: str | None, default: str) -> str:
    """``NAME = value`` and its default where it differs; not set: the default it stands at."""
    default_text = default or '""'
    if value is None:
        return f"{name} (not set; default {default_text})"
    shown = _secret(value) if name in SECRETS else mask_credentials(value)
    return f"{name} = {shown}" + ("" if value == default else f"  (default {default_text})")


def _wrapped(help_text: str, width: int) -> list[str]:
    return textwrap.wrap(help_text, width=width, initial_indent=HELP_INDENT, subsequent_indent=HELP_INDENT,
                         break_on_hyphens=False) or []
