"""Transport into Amazon Kinesis Data Streams with PutRecords, partition key = site.

Limits (Kinesis quotas): at most 500 records and 5 MiB per call, 1 MiB per record (data plus partition
key). A partial failure comes back as per-record `ErrorCode`s; we return those indices so the publisher
retries only them. A whole-call throttle is `TransportThrottled`. botocore's own retries are off: the
publisher owns retrying (backoff with jitter, events kept in the spool meanwhile), and two layers of
retries would multiply each other's waits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from edge.publish.ports import BatchLimits, OutboundRecord, TransportThrottled, TransportUnavailable

logger = logging.getLogger(__name__)

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_BYTES_PER_RECORD = 1024 * 1024
MAX_PARTITION_KEY_CHARS = 256
THROTTLING_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException",
                              "LimitExceededException", "RequestLimitExceeded", "SlowDown"})


class KinesisClient(Protocol):
    """The one boto3 Kinesis call we use (so tests can wrap or stub it)."""

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]: ...  # noqa: N803


def kinesis_client(region: str | None = None, endpoint_url: str | None = None) -> KinesisClient:
    """A boto3 Kinesis client without botocore retries; `endpoint_url` points it at moto or a VPC endpoint."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10)
    client: KinesisClient = boto3.client("kinesis", region_name=region, endpoint_url=endpoint_url,
                                         config=config)
    return client


def record_size(record: OutboundRecord) -> int:
    """What Kinesis counts against its limits: data plus the partition key."""
    return len(record.payload) + len(record.site_id.encode())


class KinesisTransport:
    name = "kinesis"
    # The key counts too, so leave it room beside the payload (site ids are at most 64 characters).
    limits = BatchLimits(max_records=MAX_RECORDS_PER_CALL,
                         max_bytes=MAX_BYTES_PER_CALL - MAX_RECORDS_PER_CALL * 64,
                         max_record_bytes=MAX_BYTES_PER_RECORD - MAX_PARTITION_KEY_CHARS)

    def __init__(self, stream_name: str, client: KinesisClient) -> None:
        self.stream_name = stream_name
        self.client = client

    def send(self, records: Sequence[OutboundRecord]) -> list[int]:
        failed: list[int] = []
        for start, chunk in _chunks(records):
            try:
                failed.extend(start + index for index in self._put(chunk))
            except TransportUnavailable:
                if start == 0:
                    raise
                # Earlier chunks went through: report the rest as failed rather than resend all.
                return failed + list(range(start, len(records)))
        return failed

    def _put(self, records: Sequence[OutboundRecord]) -> list[int]:
        from botocore.exceptions import BotoCoreError, ClientError

        entries = [{"Data": r.payload, "PartitionKey": r.site_id} for r in records]
        try:
            response = self.client.put_records(StreamName=self.stream_name, Records=entries)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = f"Kinesis PutRecords to {self.stream_name}: {code}: {error}"
            if code in THROTTLING_CODES:
                raise TransportThrottled(message) from error
            raise TransportUnavailable(message) from error
        except BotoCoreError as error:  # no network, DNS, timeouts, missing credentials
            raise TransportUnavailable(f"Kinesis PutRecords to {self.stream_name}: {error}") from error
        results = response.get("Records", [])
        if len(results) != len(records):
            raise TransportUnavailable(f"Kinesis answered {len(results)} results for {len(records)} records")
        failed = [index for index, result in enumerate(results) if result.get("ErrorCode")]
        if failed:
            codes = sorted({str(results[i]["ErrorCode"]) for i in failed})
            logger.info("Kinesis %s: %d of %d records failed (%s)", self.stream_name, len(failed),
                        len(records), ", ".join(codes))
        return failed

    def close(self) -> None:
        pass


def _chunks(records: Sequence[OutboundRecord]) -> list[tuple[int, Sequence[OutboundRecord]]]:
    """Splits a batch at Kinesis' per-call limits, keeping order; returns (first index, chunk) pairs."""
    chunks: list[tuple[int, Sequence[OutboundRecord]]] = []
    start = size = 0
    for index, record in enumerate(records):
        if record_size(record) > MAX_BYTES_PER_RECORD:
            raise ValueError(f"record seq {record.seq} is {record_size(record)} bytes, over Kinesis' 1 MiB")
        full = index - start >= MAX_RECORDS_PER_CALL or size + record_size(record) > MAX_BYTES_PER_CALL
        if full:
            chunks.append((start, records[start:index]))
            start, size = index, 0
        size += record_size(record)
    if start < len(records):
        chunks.append((start, records[start:]))
    return chunks
