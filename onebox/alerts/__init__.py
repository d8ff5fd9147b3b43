"""Alarms reach people: the box's alarms and weekly report sent as messages (``[alerts]`` in the site file).

``ports.Notifier`` is what sends; ``apprise_notifier`` is the adapter (Apprise: e-mail, webhooks,
Slack, Teams, Telegram, ntfy and more, one URL each); ``outbox`` decides what is sent (once, rate
limited, retried, remembered across restarts); ``service`` follows the alarm files and feeds it.
"""
