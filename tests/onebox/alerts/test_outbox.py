"""The outbox's rules as invariants: per alarm group the messages alternate raise and clear, no key is
sent twice, the last message tells the state the group ends in (a rate-limited raise is sent late,
never lost), and a restart (a new outbox on the same ledger) changes nothing of that."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from onebox.alerts.outbox import Message, Outbox
from onebox.alerts.ports import DeliveryError


class Phone:
    name = "test://"

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self.down = False

    def send(self, title: str, body: str, attachments: Sequence[Path] = (), state: str = "REPORT") -> None:
        if self.down:
            raise DeliveryError("down")
        self.received.append((title, body))


steps = st.lists(st.tuples(st.sampled_from(["ALARM", "OK"]), st.sampled_from(["door", "till"]),
                           st.integers(0, 900), st.booleans(), st.booleans(), st.booleans()), max_size=40)


@settings(max_examples=60, deadline=None)
@given(steps)
# a clear still being retried when the same camera is raised again: the raise must not overtake it
@example([("ALARM", "till", 0, False, False, False), ("OK", "till", 600, False, False, True),
          ("ALARM", "till", 0, False, False, False)])
def test_messages_alternate_per_group_and_no_key_is_sent_twice_across_restarts(tmp_path_factory, script) -> None:  # type: ignore[no-untyped-def]
    ledger = tmp_path_factory.mktemp("outbox") / "alerts.json"
    phone = Phone()
    now = [1000.0]
    outbox = Outbox(ledger, [phone], clock=lambda: now[0], min_interval_s=600, first_retry_s=1, give_up_s=10**9)
    offered: list[str] = []
    for n, (state, camera, wait, again, restart, down) in enumerate(script):
        now[0] += wait
        key = f"{camera}-{state}-{n}"
        message = Message(key, f"camera_silent/s/{camera}", state, f"{state} {camera} {key}", "body")
        outbox.offer(message)
        offered.append(key)
        if again:  # the same alarm read again (a stream runner's rewritten tail)
            outbox.offer(Message(key, f"camera_silent/s/{camera}", state, f"{state} {camera} {key}", "body"))
        phone.down = down
        outbox.pump()
        if restart:
            outbox = Outbox(ledger, [phone], clock=lambda: now[0], min_interval_s=600, first_retry_s=1,
                            give_up_s=10**9)
    phone.down = False
    for _ in range(3):
        now[0] += 10_000  # past every retry and every rate-limit interval
        outbox.pump()
    titles = [title for title, _ in phone.received]
    keys = [title.split()[-1] for title in titles]
    assert len(keys) == len(set(keys))  # nothing sent twice
    for camera in ("door", "till"):
        states = [t.split()[0] for t in titles if t.split()[1] == camera]
        assert all(a != b for a, b in itertools.pairwise(states))  # alternating
        assert not states or states[0] == "ALARM"  # a clear only after a raise people were told of
        last = [k.split("-")[1] for k in offered if k.startswith(camera)][-1:]
        assert (states[-1:] or ["OK"]) == (last or ["OK"])  # in the end people know the state it is in


def test_the_raise_a_clear_ends_is_remembered_across_a_restart_and_a_held_raise_counts_from_its_own_time(
        tmp_path: Path) -> None:
    now = [0.0]
    phone = Phone()
    outbox = Outbox(tmp_path / "alerts.json", [phone], clock=lambda: now[0], min_interval_s=1800)
    outbox.offer(Message("a1", "g", "ALARM", "raised", "", time_ms=1_000))
    assert Outbox(tmp_path / "alerts.json", [phone]).raised_ms("g") == 1_000  # read back from the ledger
    outbox.offer(Message("o1", "g", "OK", "cleared", "", time_ms=2_000))
    assert outbox.raised_ms("g") is None  # cleared: nothing raised to last
    outbox.offer(Message("a2", "g", "ALARM", "raised again", "", time_ms=3_000))  # inside the interval: held
    assert outbox.raised_ms("g") is None
    now[0] = 3600.0
    outbox.pump()
    assert outbox.raised_ms("g") == 3_000 and phone.received[-1][0] == "raised again"
