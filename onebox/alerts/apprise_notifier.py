"""The Notifier on Apprise: one URL per destination (mailto://, json://, slack://, msteams://, ntfy://, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import apprise

from onebox.alerts.ports import DeliveryError

# how chats (Slack, Teams, ntfy, webhooks' "type") mark a message: a raise as a failure, its clear as a success
NOTIFY_TYPE = {"ALARM": apprise.NotifyType.FAILURE, "OK": apprise.NotifyType.SUCCESS}
URL_HELP = "an Apprise URL such as mailto://user:pass@smtp.example.com?to=manager@example.com or json://host/path"


def check_url(url: str) -> str | None:
    """None when Apprise can send to ``url``; else what is wrong with it."""
    if not isinstance(url, str) or not url.strip():
        return f"must be {URL_HELP}"
    if apprise.Apprise().add(url):
        return None
    scheme = url.split("://", 1)[0] if "://" in url else ""
    return (f"Apprise cannot use this URL (scheme {scheme + '://' if scheme else 'missing'}): "
            f"expected {URL_HELP}")


def scheme_of(url: str) -> str:
    """What a log line may say about a destination: its kind, never its credentials."""
    return url.split("://", 1)[0] + "://..." if "://" in url else "?"


class AppriseNotifier:
    """One destination."""

    def __init__(self, url: str) -> None:
        if problem := check_url(url):
            raise ValueError(f"[alerts] urls: {problem}")
        self._url = url
        self.name = scheme_of(url)

    def send(self, title: str, body: str, attachments: Sequence[Path] = (), state: str = "REPORT") -> None:
        sender = apprise.Apprise()
        sender.add(self._url)
        attach = apprise.AppriseAttachment([str(p) for p in attachments]) if attachments else None
        # the text is plain lines, and said so: taken for HTML, a mail would run them into one paragraph
        if not sender.notify(body=body, title=title, attach=attach, body_format=apprise.NotifyFormat.TEXT,
                             notify_type=NOTIFY_TYPE.get(state, apprise.NotifyType.INFO)):
            raise DeliveryError(f"{self.name} did not take the message (see the apprise log lines before this)")
