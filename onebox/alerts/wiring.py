"""The alert sender of a site file: destinations, names and files from the config and the box's layout."""

from __future__ import annotations

import socket
import zoneinfo
from typing import TYPE_CHECKING
from urllib.parse import quote

from onebox.config import SiteConfig
from onebox.layout import Layout
from stream.embedded import ALARMS, WINDOWS
from stream.sinks.alert_text import Names

if TYPE_CHECKING:
    from onebox.alerts.service import AlertService

LEDGER = "alerts.json"


def page_url(config: SiteConfig) -> str:
    alerts, dashboard = config.values["alerts"], config.values["dashboard"]
    if alerts["page_url"]:
        return str(alerts["page_url"]).rstrip("/") + "/"
    host = dashboard["host"]
    if host in ("0.0.0.0", "::"):  # nosec B104: listening everywhere: link to the box by its name
        host = socket.gethostname()
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{dashboard['port']}/"


def names(config: SiteConfig) -> Names:
    return Names(config.site_name, {c.id: c.label for c in config.cameras}, page_url(config),
                 zoneinfo.ZoneInfo(config.get("site", "timezone")))


def alert_service(config: SiteConfig, layout: Layout, camera_alarms: str) -> AlertService | None:
    """The box's AlertService, or None when the site file sends no messages."""
    alerts = config.values["alerts"]
    if not alerts["urls"]:
        return None
    from onebox.alerts.apprise_notifier import AppriseNotifier
    from onebox.alerts.outbox import Outbox
    from onebox.alerts.service import AlertService

    outbox = Outbox(layout.run / LEDGER, [AppriseNotifier(url) for url in alerts["urls"]],
                    min_interval_s=alerts["min_interval_minutes"] * 60.0, give_up_s=alerts["give_up_minutes"] * 60.0)
    link = page_url(config)
    return AlertService(outbox, names(config), [layout.stream / ALARMS, layout.run / camera_alarms],
                        layout.stream / WINDOWS, lambda report: f"{link}reports/{quote(report.name)}")

