"""A bad MOODLENS_* value names the variable and the value."""

from __future__ import annotations

import pytest

from edge.publish.factory import PublisherSettings


@pytest.mark.parametrize(("name", "value", "message"), [
    ("MOODLENS_SPOOL_MAX_RECORDS", "lots", "MOODLENS_SPOOL_MAX_RECORDS='lots' is not a whole number"),
    ("MOODLENS_IOT_PORT", "88.3", "MOODLENS_IOT_PORT='88.3' is not a whole number"),
    ("MOODLENS_SPOOL_MAX_AGE_S", "-5", "MOODLENS_SPOOL_MAX_AGE_S='-5' must be positive"),
])
def test_bad_numbers_name_the_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        PublisherSettings.from_environment("site", "cam")


def test_good_numbers_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODLENS_SPOOL_MAX_AGE_S", " 60.5 ")
    monkeypatch.setenv("MOODLENS_IOT_PORT", "8884")
    settings = PublisherSettings.from_environment("site", "cam")
    assert settings.spool_max_age_s == 60.5 and settings.iot_port == 8884
