"""Kinesis records as the event a Kinesis event source mapping hands to Lambda.

Used to drive the Lambda handler in process from records read back from a stream (moto server in
tests, a real stream for a replay, the benchmark): base64 data, sequence number, partition key,
``eventID`` = ``shardId:sequenceNumber``, ``eventSourceARN``. The shape follows the documented
Kinesis event for Lambda (eventVersion 1.0, kinesisSchemaVersion 1.0).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from typing import Any

from stream.aws.kinesis_reader import KinesisRecord

DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/moodlens-stream-consumer"


def lambda_record(record: KinesisRecord, stream_arn: str, region: str,
                  role_arn: str = DEFAULT_ROLE_ARN) -> dict[str, Any]:
    arrival_ms = record.approximate_arrival_ms if record.approximate_arrival_ms is not None \
        else int(time.time() * 1000)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.partition_key,
            "sequenceNumber": record.sequence_number,
            "data": base64.b64encode(record.data).decode("ascii"),
            "approximateArrivalTimestamp": arrival_ms / 1000,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{record.shard_id}:{record.sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def lambda_event(records: Sequence[KinesisRecord], stream_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [lambda_record(r, stream_arn, region) for r in records]}
