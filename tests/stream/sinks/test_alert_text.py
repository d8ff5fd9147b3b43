"""One text for every channel: the box's messages and the SNS topic on AWS say the same plain words."""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from stream import alarm_words
from stream.host.sites import Applied, Emitted, Sites
from stream.published import published_alarms
from stream.sinks.alert_text import HAPPENED, Names, alarm_text, how_long, net_words
from stream.sinks.aws import AwsOutputs, SnsAlarmSink
from tests.stream.alarm_reasons import jargon
from tests.stream.host.test_sites import ALARMS, ENGINE
from tests.stream.sinks.test_aws import queue
from tests.stream.test_published import _sour_site_with_a_lone_customer

T = int(dt.datetime(2026, 12, 7, 13, 45, tzinfo=dt.UTC).timestamp() * 1000)
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def alarm(rule: str = "low_sentiment", state: str = "ALARM", camera: str | None = "door") -> dict[str, Any]:
    return {"schema": "sentiment_alarm", "schema_version": "1.0", "event_id": f"{rule}-{state}-{camera}",
            "site_id": "cafe-7", "event_time_ms": T, "camera_id": camera, "rule": rule, "state": state,
            "value": -0.41, "threshold": -0.2,
            "reason": alarm_words.low_raised(alarm_words.place("cafe-7", camera), "14:15 CET", 30, -0.41, 23, 15, -0.2)}


def window(camera: str | None = "door", tracks: int = 23, insufficient: bool = False) -> dict[str, Any]:
    return {"site_id": "cafe-7", "camera_id": camera, "window_minutes": 15, "window_end_ms": T, "tracks": tracks,
            "insufficient_data": insufficient, "net_score": None if insufficient else -0.41,
            "net_score_ci": None if insufficient else {"low": -0.6, "high": -0.22}}


def test_a_raise_in_plain_words_with_names_local_time_reason_score_in_customers_and_link() -> None:
    names = Names("Café Central", {"door": "Front door"}, "http://box.local:8765/", PARIS)
    title, body = alarm_text(alarm(), names, window())
    assert title == "ALARM at Café Central, Front door: customers look unhappy"
    lines = body.splitlines()
    assert lines[0] == "Café Central, Front door, Mon 07 Dec 2026, 14:45 (CET):"
    reason = alarm()["reason"].replace("camera door", "Front door")
    assert lines[1] == f"{reason[0].upper()}{reason[1:]}."  # the reason, said once, the camera by its name
    assert lines[2].startswith("In the 15 minutes to 14:45, for every 100 customers, 41 more looked unhappy than happy")
    assert "23 customers" in lines[2] and "-0.60" in lines[2] and "-0.22" in lines[2]
    assert lines[3:] == ["Live page: http://box.local:8765/"]
    assert not jargon(body)


def test_a_one_minute_window_is_said_as_the_minute() -> None:
    names = Names("Café Central", {"door": "Front door"}, "", PARIS)
    _, body = alarm_text(alarm(), names, {**window(), "window_minutes": 1})
    assert "In the minute to 14:45, for every 100 customers" in body and "1 minutes" not in body
    _, hidden = alarm_text(alarm(), names, {**window(insufficient=True), "window_minutes": 1})
    assert "No score shown for the minute to 14:45" in hidden


def test_the_reason_names_the_site_and_camera_where_names_are_known_and_ids_where_not() -> None:
    site_alarm = alarm(camera=None)
    _, named_site = alarm_text(site_alarm, Names("Café Central", {"door": "Front door"}))
    assert "Customers at Café Central have looked unhappy" in named_site and "site cafe-7" not in named_site
    _, ids = alarm_text(alarm(), Names())
    assert "Customers at camera door have looked unhappy" in ids
    _, other = alarm_text(alarm(camera="unknown-cam"), Names("Café", {"door": "Front door"}))
    assert "Customers at camera unknown-cam have looked" in other  # a camera without a name keeps its id


def test_too_few_customers_is_said_with_how_many_were_seen() -> None:
    _, body = alarm_text(alarm(state="OK"), Names(), window(tracks=3, insufficient=True))
    assert "No score shown for the 15 minutes to" in body and "(3 seen): too few customers" in body
    assert body.startswith("cafe-7, door, ")  # ids where no names are known


def test_a_window_hidden_beside_a_camera_with_too_few_is_not_said_to_hold_too_few_alone() -> None:
    """The alarm judged the door's 23 customers; the stream published that window hidden (`stream.published`)."""
    _, body = alarm_text(alarm(), Names(), window(tracks=23, insufficient=True))
    assert "(23 seen): too few customers, or hidden so that a camera beside it with too few cannot be worked out" \
        in body
    assert "Too few customers to judge" not in body


def test_a_clear_says_how_long_the_alarm_lasted_and_since_when() -> None:
    names = Names("Café Central", {"door": "Front door"}, "", PARIS)
    _, cleared = alarm_text(alarm(state="OK"), names, window(), raised_ms=T - 47 * 60_000)
    assert cleared.splitlines()[2] == "Lasted 47 minutes, since Mon 07 Dec 2026, 13:58 (CET)."
    _, raised = alarm_text(alarm(), names, window(), raised_ms=T - 47 * 60_000)
    _, unknown = alarm_text(alarm(state="OK"), names, window())
    assert "Lasted" not in raised and "Lasted" not in unknown  # a raise lasts on; an unknown start is not guessed


@given(st.integers(0, 400 * 86_400_000))
def test_a_duration_in_words_adds_up_to_its_minutes(duration_ms: int) -> None:
    words = how_long(duration_ms)
    per = {"day": 1440, "days": 1440, "h": 60, "min": 1, "minute": 1, "minutes": 1}
    said = sum(int(n) * per[unit] for n, unit in re.findall(r"(\d+) (days?|h|min|minutes?)\b", words))
    minutes = round(duration_ms / 60_000)
    assert said == minutes if minutes < 1440 else abs(said - minutes) <= 30  # days: to the hour
    assert (words == "less than a minute") == (said == 0)


@given(st.floats(-1, 1))
def test_a_net_score_is_said_as_happy_and_unhappy_customers_per_hundred(net: float) -> None:
    words = net_words(net)
    match = re.fullmatch(r"for every 100 customers, (\d+) more looked (unhappy than happy|happy than unhappy)", words)
    if match is None:
        assert words == "about as many customers looked happy as unhappy" and abs(net) <= 0.005
    else:
        assert int(match[1]) == round(abs(net) * 100) > 0
        assert (match[2] == "unhappy than happy") == (net < 0)


@given(st.sampled_from(sorted(HAPPENED)), st.sampled_from([None, "door", "unknown-cam"]))
def test_every_rule_and_state_has_words_and_a_title_that_names_the_place(key: tuple[str, str],
                                                                          camera: str | None) -> None:
    rule, state = key
    title, _body = alarm_text(alarm(rule, state, camera), Names("Café", {"door": "Front door"}))
    place = "Café" + ({"door": ", Front door", None: ""}.get(camera, f", {camera}"))
    assert title.startswith(("ALARM at " if state == "ALARM" else "Resolved at ") + place + ":")
    assert HAPPENED[key] in title and rule not in title
    assert " a camera " not in f" {title} "  # the title names the camera: "the camera", not any camera


def test_sns_email_subscribers_get_the_same_words_and_queues_the_json(aws_client: Callable[[str], Any],
                                                                      unique: str) -> None:
    sns, sqs = aws_client("sns"), aws_client("sqs")
    topic = sns.create_topic(Name=f"words-{unique}")["TopicArn"]
    url, arn = queue(sqs, f"words-{unique}")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)  # not raw: the envelope shows the subject
    raised = alarm()
    out = Emitted(windows=[window()], alarms=[raised])  # type: ignore[list-item]
    AwsOutputs(sns=SnsAlarmSink(sns, topic, Names("Café Central", {"door": "Front door"}))).write(out, [])
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    assert len(messages) == 1
    envelope = json.loads(messages[0]["Body"])
    assert envelope["Subject"] == "ALARM at Cafe Central, Front door: customers look unhappy"
    document = json.loads(envelope["Message"])
    assert {k: document[k] for k in raised} == raised  # the contract's document, with the words people read
    assert (document["site_name"], document["title"]) == ("Café Central", envelope["Subject"].replace("Cafe", "Café"))
    _title, body = alarm_text(raised, Names("Café Central", {"door": "Front door"}), window())
    published = SnsAlarmSink(None, topic, Names("Café Central", {"door": "Front door"}))
    calls: list[dict[str, Any]] = []
    published.client = type("Recorder", (), {"publish": lambda self, **kw: calls.append(kw)})()
    published.send([raised], [window()])
    texts = json.loads(calls[0]["Message"])
    assert texts["email"] == texts["default"] == body and calls[0]["MessageStructure"] == "json"
    published.send([{**raised, "state": "OK", "event_time_ms": T + 90 * 60_000}], [])
    assert "Lasted 1 h 30 min, since Mon 07 Dec 2026, 13:45 (UTC)." in json.loads(calls[1]["Message"])["email"]


def test_sns_says_each_sites_times_in_its_own_zone_as_the_host_gives_them() -> None:
    """The host's site zones (``--sites``) reach the SNS text: its first line's time and the reason's agree."""
    from stream.host.loop import HostConfig
    from stream.wiring import Outlets, aws_outputs

    calls: list[dict[str, Any]] = []
    recorder = type("Recorder", (), {"publish": lambda self, **kw: calls.append(kw)})()
    outputs = aws_outputs(Outlets(sns_topic="arn:topic"), lambda service: recorder,
                          HostConfig(site_zones={"cafe-7": "Europe/Paris"}))
    assert isinstance(outputs, AwsOutputs) and outputs.sns is not None
    outputs.sns.send([alarm(), {**alarm(), "site_id": "bar-2", "event_id": "other"}])
    bodies = [json.loads(call["Message"])["email"] for call in calls]
    assert bodies[0].startswith("cafe-7, door, Mon 07 Dec 2026, 14:45 (CET):")
    assert bodies[1].startswith("bar-2, door, Mon 07 Dec 2026, 13:45 (UTC):")  # no zone declared: UTC, as its alarms


def test_on_aws_the_sns_texts_name_each_site_as_the_stack_gives_the_names(aws_client: Callable[[str], Any],
                                                                         unique: str) -> None:
    """The host's outlets carry the sites' names (`stream run --site-names`, from the stack's --sites): each
    site's messages, through a real topic, say its name, in the title and in the reason; the cameras keep
    their ids (the stack knows no camera names); a site without a name keeps its id."""
    from stream.host.loop import HostConfig
    from stream.wiring import Outlets, aws_outputs

    sns, sqs = aws_client("sns"), aws_client("sqs")
    topic = sns.create_topic(Name=f"names-{unique}")["TopicArn"]
    url, arn = queue(sqs, f"names-{unique}")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    outputs = aws_outputs(Outlets(sns_topic=topic, site_names={"cafe-7": "Café Central"}), aws_client,
                          HostConfig(site_zones={"cafe-7": "Europe/Paris"}))
    assert isinstance(outputs, AwsOutputs) and outputs.sns is not None
    site, camera, other = alarm(camera=None), alarm(), {**alarm(camera=None), "site_id": "bar-2", "event_id": "x"}
    other["reason"] = alarm_words.low_raised(alarm_words.place("bar-2", None), "13:15 UTC", 30, -0.41, 23, 15, -0.2)
    outputs.sns.send([site, camera, other])
    subjects: dict[str, str] = {}
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            envelope = json.loads(message["Body"])
            subjects[json.loads(envelope["Message"])["event_id"]] = envelope["Subject"]
    assert subjects == {site["event_id"]: "ALARM at Cafe Central: customers look unhappy",
                        camera["event_id"]: "ALARM at Cafe Central, door: customers look unhappy",
                        "x": "ALARM at bar-2: customers look unhappy"}
    calls: list[dict[str, Any]] = []
    outputs.sns.client = type("Recorder", (), {"publish": lambda self, **kw: calls.append(kw)})()
    outputs.sns.send([site, camera, other])
    bodies = [json.loads(call["Message"])["email"] for call in calls]
    assert "Customers at Café Central have looked unhappy since about 14:15 CET" in bodies[0]
    assert "Customers at camera door have looked unhappy" in bodies[1] and bodies[1].startswith("Café Central, door")
    assert "Customers at site bar-2 have looked unhappy" in bodies[2]


def hidden_alarm(state: str = "ALARM") -> dict[str, Any]:
    """The door's alarm as the stream publishes it beside its hidden window (`stream.published`)."""
    told: Any = published_alarms([alarm(state=state)], [window(tracks=23, insufficient=True)], 15, 5)  # type: ignore[list-item]
    return dict(told[0])


def test_an_alarm_on_a_hidden_window_shows_no_score_of_it_and_says_why_once() -> None:
    names = Names("Café Central", {"door": "Front door"}, "", PARIS)
    for state in ("ALARM", "OK"):
        told = hidden_alarm(state)
        assert told["value"] is None
        title, body = alarm_text(told, names, window(tracks=23, insufficient=True), raised_ms=T - 3_600_000)
        assert title.startswith(("ALARM" if state == "ALARM" else "Resolved") + " at Café Central, Front door")
        assert "-0.41" not in body and "41 more" not in body and "-0.60" not in body and "-0.22" not in body
        assert body.count("not shown") == 1 and "No score shown" not in body  # the reason's words, said once
        assert "Customers at Front door have looked unhappy since about 14:15 CET" in body
        assert "the last 15 minutes: score not shown (23 customers)" in body and not jargon(body)


@given(st.sampled_from(sorted(HAPPENED)), st.sampled_from([None, "door"]), st.booleans())
def test_a_null_value_makes_a_message_whatever_the_rule(key: tuple[str, str], camera: str | None,
                                                         with_window: bool) -> None:
    rule, state = key
    title, body = alarm_text({**alarm(rule, state, camera), "value": None, "threshold": None}, Names(),
                             window(camera, insufficient=True) if with_window else None)
    assert HAPPENED[key] in title and body


def test_sns_carries_an_alarm_on_a_hidden_window_without_its_score(aws_client: Callable[[str], Any],
                                                                     unique: str) -> None:
    """The real host's output for a camera whose alarm fires on a window hidden beside a lone customer,
    through a real topic (moto server): queues get the alarm with a null value and no score in its reason,
    e-mail the text without it."""
    out = Emitted()
    sites = Sites(ENGINE, ALARMS)
    out.extend(sites.apply([Applied(e, "p", i) for i, e in enumerate(_sour_site_with_a_lone_customer())]))
    out.extend(sites.flush())
    hidden = {(w["camera_id"], w["window_end_ms"]) for w in out.windows
              if w["insufficient_data"] and w["window_minutes"] == ALARMS.window_minutes}
    told = [a for a in out.alarms if (a["camera_id"], a["event_time_ms"]) in hidden and a["rule"] == "low_sentiment"]
    assert told and all(a["value"] is None for a in told)
    sns, sqs = aws_client("sns"), aws_client("sqs")
    topic = sns.create_topic(Name=f"hidden-{unique}")["TopicArn"]
    url, arn = queue(sqs, f"hidden-{unique}")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    AwsOutputs(sns=SnsAlarmSink(sns, topic)).write(Emitted(windows=out.windows, alarms=told), [])
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    documents = sorted((json.loads(json.loads(m["Body"])["Message"]) for m in messages), key=lambda d: d["event_id"])
    assert [{key: d[key] for key in a} for d, a in zip(documents, sorted(told, key=lambda a: a["event_id"]),
                                                       strict=True)] == sorted(told, key=lambda a: a["event_id"])
    assert all(set(d) - set(told[0]) <= {"site_name", "title", "text"} for d in documents)  # and the words
    calls: list[dict[str, Any]] = []
    recorder = SnsAlarmSink(None, topic)
    recorder.client = type("Recorder", (), {"publish": lambda self, **kw: calls.append(kw)})()
    recorder.send(told, out.windows)
    for alarm_told, call in zip(told, calls, strict=True):
        body = json.loads(call["Message"])["email"]
        assert alarm_words.latest_score(alarm_told["reason"], ALARMS.window_minutes) is None
        assert "score not shown" in body
        # a window of another length ending then may be described: readers see that one (shown, or said not to be)
        assert f"In the {ALARMS.window_minutes} minutes to" not in body and not re.search(r"over \d+ customers", body)
