"""Host state in S3 against a moto server: one fenced object, claimed per epoch; refusals of what
cannot be fenced (older layouts and versions, missing epoch, corrupt objects, buckets without
versioning, endpoints ignoring conditional writes); throttling; a lost answer.

moto (5.x) honours If-Match and If-None-Match on PutObject (412 PreconditionFailed), like S3 since
2024; ``test_moto_honours_conditional_writes`` guards that assumption, so the fencing tests below
exercise real conditional requests, not a fake."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stream.host.loop import CHECKPOINT_VERSION, Host
from stream.host.ports import FencedError
from stream.host.sites import StateError
from stream.sinks.files import FileOutputs
from stream.sources.locallog import LocalLogSource
from stream.state.s3 import S3StateStore, parse_s3_url


def make_bucket(client: Any, bucket: str, versioned: bool = True) -> None:
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    if versioned:
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


@pytest.fixture
def s3(aws_client: Callable[[str], Any], unique: str) -> tuple[Any, str]:
    client = aws_client("s3")
    make_bucket(client, f"state-{unique}")
    return client, f"s3://state-{unique}/consumer"


def checkpoint(n: int) -> dict[str, Any]:
    return {"version": CHECKPOINT_VERSION, "source": "test", "position": n, "counters": {}, "outputs": {}}


def versions(client: Any, url: str) -> list[dict[str, Any]]:
    """Every version ever written of the state object, oldest first."""
    bucket, prefix = parse_s3_url(url)
    key = f"{prefix}/state.json"
    listed = client.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])  # newest first
    return [json.loads(client.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])["Body"].read())
            for v in reversed(listed)]


def stale_writes(written: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Versions written by a consumer after a later one had claimed the state (a lower epoch than
    some version before it): what a stale consumer wrote."""
    stale, newest = [], 0
    for version in written:
        if version["epoch"] < newest:
            stale.append(version)
        newest = max(newest, version["epoch"])
    return stale


def started(client: Any, url: str, **options: Any) -> S3StateStore:
    """A store loaded and claimed, as the host does at its start."""
    store = S3StateStore(client, url, **options)
    store.load()
    assert store.claim()
    return store


def test_moto_honours_conditional_writes(s3: tuple[Any, str]) -> None:
    client, url = s3
    bucket, _ = parse_s3_url(url)
    client.put_object(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    with pytest.raises(ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=bucket, Key="k", Body=b"3", IfMatch='"not-the-etag"')


def test_round_trip_in_one_object_each_start_claiming_the_next_epoch(s3: tuple[Any, str]) -> None:
    client, url = s3
    store = S3StateStore(client, url)
    assert store.load() == (None, {}) and store.claim() and store.epoch == 1
    store.commit(checkpoint(1), {"cafe/1": {"n": 1}, "shop-2": {"n": 2}})
    store.commit(checkpoint(2), {"shop-2": {"n": 3}})
    again = S3StateStore(client, url)
    loaded, sites = again.load()
    assert again.claim()
    assert loaded == checkpoint(2) and sites == {"cafe/1": {"n": 1}, "shop-2": {"n": 3}}
    assert again.epoch == 2
    bucket, _ = parse_s3_url(url)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"consumer/state.json"}
    assert [(v["epoch"], v["commit"], v["owner"] == store.owner) for v in versions(client, url)] == [
        (1, 0, True), (1, 1, True), (1, 2, True), (2, 0, False)]


def test_a_stale_consumer_is_fenced_before_writing_anything(s3: tuple[Any, str]) -> None:
    client, url = s3
    old = started(client, url)
    old.commit(checkpoint(1), {"s1": {"by": "old"}})
    new = started(client, url)  # a second task starts: it claims epoch 2
    with pytest.raises(FencedError, match=rf"consumer/state.json: another consumer \({new.owner}, epoch 2\) "
                                          rf"has taken the state over since this one \({old.owner}, epoch 1\)"):
        old.commit(checkpoint(2), {"s2": {"by": "old"}})  # a site the new one has not written: still refused
    new.commit(checkpoint(2), {"s1": {"by": "new"}})  # the live consumer is never fenced by the stale one
    assert S3StateStore(client, url).load() == (checkpoint(2), {"s1": {"by": "new"}})
    written = versions(client, url)
    assert [v["owner"] for v in written if v["epoch"] >= 2] == [new.owner] * 2 and stale_writes(written) == []
    assert not [v for v in written if v["owner"] == old.owner and v["commit"] == 2]  # the refused commit


def test_nothing_is_written_before_the_claim(s3: tuple[Any, str]) -> None:
    client, url = s3
    store = S3StateStore(client, url)
    store.load()
    with pytest.raises(FencedError, match="has not claimed the state; writing nothing"):
        store.commit(checkpoint(1), {"s1": {"n": 1}})
    bucket, _ = parse_s3_url(url)
    assert "Contents" not in client.list_objects_v2(Bucket=bucket)


def test_two_consumers_starting_together_the_later_claim_wins(s3: tuple[Any, str]) -> None:
    client, url = s3
    a, b = S3StateStore(client, url), S3StateStore(client, url)
    a.load()
    b.load()
    assert a.claim() and not b.claim()  # both read "no state"; only one If-None-Match: * creates it
    b.load()
    assert b.claim() and (a.epoch, b.epoch) == (1, 2)  # loaded again: the later claim wins
    with pytest.raises(FencedError, match="epoch 2"):
        a.commit(checkpoint(1), {"s1": {"by": "a"}})
    b.commit(checkpoint(1), {"s1": {"by": "b"}})


class Throttling:
    """The moto client, answering the first ``fail`` PutObject/GetObject calls with 503 SlowDown."""

    def __init__(self, client: Any, fail: int) -> None:
        self.client, self.fail, self.calls = client, fail, 0

    def _maybe(self, operation: str) -> None:
        self.calls += 1
        if self.calls <= self.fail:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                               "ResponseMetadata": {"HTTPStatusCode": 503}}, operation)

    def put_object(self, **kwargs: Any) -> Any:
        self._maybe("PutObject")
        return self.client.put_object(**kwargs)

    def get_object(self, **kwargs: Any) -> Any:
        self._maybe("GetObject")
        return self.client.get_object(**kwargs)

    def list_objects_v2(self, **kwargs: Any) -> Any:
        return self.client.list_objects_v2(**kwargs)


def test_throttling_is_retried_with_backoff_then_given_up(s3: tuple[Any, str]) -> None:
    client, url = s3
    pauses: list[float] = []
    store = started(Throttling(client, fail=3), url, sleep=pauses.append, attempts=6)
    store.commit(checkpoint(1), {"s1": {"n": 1}})
    assert store.objects.retries == 3 and len(pauses) == 3
    base = store.objects.base_delay_s
    # exponential with jitter: attempt k waits base * 2**k * (0.5 .. 1.5)
    assert all(base * 2 ** k * 0.5 <= pause <= base * 2 ** k * 1.5 for k, pause in enumerate(pauses))
    assert S3StateStore(client, url).load()[0] == checkpoint(1)
    stubborn = S3StateStore(Throttling(client, fail=100), url, sleep=lambda s: None, attempts=3)
    with pytest.raises(ClientError, match="SlowDown"):
        stubborn.load()


class LostAnswer(Throttling):
    """PutObject that is carried out, but whose answer is lost (500): the retry meets its own write."""

    def __init__(self, client: Any) -> None:
        super().__init__(client, fail=0)
        self.lose_next_put = False

    def put_object(self, **kwargs: Any) -> Any:
        response = self.client.put_object(**kwargs)
        if self.lose_next_put:
            self.lose_next_put = False
            raise ClientError({"Error": {"Code": "InternalError", "Message": "answer lost"},
                               "ResponseMetadata": {"HTTPStatusCode": 500}}, "PutObject")
        return response


def test_a_commit_whose_answer_was_lost_is_recognised_as_its_own_not_fenced(s3: tuple[Any, str]) -> None:
    client, url = s3
    flaky = LostAnswer(client)
    store = started(flaky, url, sleep=lambda s: None)
    flaky.lose_next_put = True
    store.commit(checkpoint(1), {"s1": {"n": 1}})  # written, answer lost, retried: 412 on its own write
    store.commit(checkpoint(2), {"s1": {"n": 2}})
    assert S3StateStore(client, url).load() == (checkpoint(2), {"s1": {"n": 2}})


class _EmptyLog:
    def read(self, offset: int, max_records: int) -> list[tuple[int, bytes]]:
        return []


def host_on(client: Any, url: str, tmp_path: Any) -> Host:
    return Host(LocalLogSource(_EmptyLog()), S3StateStore(client, url), FileOutputs(tmp_path))


def state_body(**fields: Any) -> bytes:
    document = {"store": 1, "epoch": 3, "owner": "earlier", "commit": 4,
                "checkpoint": {**checkpoint(1), "source": "locallog", "counters": {
                    "records": 0, "dead_letters": 0, "skipped": 0}}, "sites": {}}
    return json.dumps({key: value for key, value in {**document, **fields}.items() if value != "-"}).encode()


@pytest.mark.parametrize(("body", "why"), [
    (state_body(store=0), r"state object format 0 \(another version of moodlens wrote it\), this host reads 1"),
    (state_body(epoch="-"), r"state object has no valid epoch \(None\): it cannot be fenced"),
    (state_body(epoch=0), r"no valid epoch \(0\)"),
    (b'{"store": 1, "epoch": ', r"corrupt state object \(Expecting value"),
    (b"[1, 2]", r"corrupt state object \(not a JSON object\)"),
    (state_body(sites=[]), r"corrupt state object \(sites \[\]\)"),
    (state_body(checkpoint={**checkpoint(1), "version": 2}), r"checkpoint has version 2, this host expects 3"),
    (state_body(sites={"cafe-1": {"version": 1, "engine": {}}}),
     r" \(site cafe-1\): unusable site state \(ValueError: site state version 1 \(another version"),
])
def test_a_state_object_that_cannot_be_trusted_is_refused_by_name_and_left_as_it_was(
        s3: tuple[Any, str], tmp_path: Any, body: bytes, why: str) -> None:
    client, url = s3
    bucket, _ = parse_s3_url(url)
    client.put_object(Bucket=bucket, Key="consumer/state.json", Body=body)
    with pytest.raises(StateError, match=rf"s3://{bucket}/consumer/state.json.*{why}"):
        host_on(client, url, tmp_path)
    assert client.get_object(Bucket=bucket, Key="consumer/state.json")["Body"].read() == body
    assert len(client.list_object_versions(Bucket=bucket)["Versions"]) == 1  # refused before the claim


@pytest.mark.parametrize("key", ["consumer/host.json", "consumer/sites/cafe-1.json"])
def test_the_older_layout_is_refused_by_name_and_nothing_is_written(s3: tuple[Any, str], tmp_path: Any,
                                                                    key: str) -> None:
    client, url = s3
    bucket, _ = parse_s3_url(url)
    client.put_object(Bucket=bucket, Key=key, Body=b'{"version": 2}')
    with pytest.raises(StateError, match=rf"s3://{bucket}/{key}: written by an older version of moodlens .* "
                                         rf"one fenced object, s3://{bucket}/consumer/state.json.*nothing was "
                                         "overwritten"):
        host_on(client, url, tmp_path)
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]] == [key]


def test_a_bucket_without_versioning_is_refused_and_an_existing_state_left_as_it_was(
        aws_client: Callable[[str], Any], unique: str, tmp_path: Any) -> None:
    client = aws_client("s3")
    make_bucket(client, f"plain-{unique}", versioned=False)
    url = f"s3://plain-{unique}/consumer"
    with pytest.raises(StateError, match=rf"consumer/state.json: the bucket plain-{unique} keeps no versions "
                                         r"\(versioning is not enabled\)"):
        host_on(client, url, tmp_path)  # new state: the first (empty) claim shows it
    client.put_object(Bucket=f"plain-{unique}", Key="consumer/state.json", Body=state_body())
    with pytest.raises(StateError, match=r"versioning is not enabled.*nothing was overwritten"):
        host_on(client, url, tmp_path)
    assert client.get_object(Bucket=f"plain-{unique}", Key="consumer/state.json")["Body"].read() == state_body()


class IgnoresConditions(Throttling):
    """An S3 look-alike that drops If-Match and If-None-Match (as some S3-compatible stores do)."""

    def __init__(self, client: Any) -> None:
        super().__init__(client, fail=0)

    def put_object(self, **kwargs: Any) -> Any:
        kwargs.pop("IfMatch", None)
        kwargs.pop("IfNoneMatch", None)
        return self.client.put_object(**kwargs)


def test_an_endpoint_that_ignores_conditional_writes_is_refused_before_any_commit(
        s3: tuple[Any, str], tmp_path: Any) -> None:
    client, url = s3
    with pytest.raises(StateError, match="accepted a write with If-None-Match: \\* over an existing object: it "
                                         "ignores conditional writes"):
        Host(LocalLogSource(_EmptyLog()), S3StateStore(IgnoresConditions(client), url), FileOutputs(tmp_path))
    assert S3StateStore(client, url).load() == (None, {})  # only the empty claim exists


def test_a_host_whose_claim_loses_a_race_loads_again_and_claims_the_next_epoch(
        s3: tuple[Any, str], tmp_path: Any) -> None:
    client, url = s3
    rival = S3StateStore(client, url, owner="rival")

    class Racing(S3StateStore):
        def claim(self) -> bool:
            if rival.epoch == 0:  # the rival starts between this one's load and its claim
                rival.load()
                assert rival.claim()
            return super().claim()

    host = Host(LocalLogSource(_EmptyLog()), Racing(client, url, owner="host"), FileOutputs(tmp_path))
    assert (rival.epoch, host.state.epoch) == (1, 2)  # type: ignore[attr-defined]
    with pytest.raises(FencedError, match=r"another consumer \(host, epoch 2\)"):
        rival.commit(checkpoint(1), {})
    host.close()
