"""What the stack's containers run and what they read: the one integration point between the
infrastructure and the code inside the image (the stream host, the lake's compaction, the reports).

Every task runs the image's entrypoint, ``moodlens``, with one of the commands below. Resource names
reach the container as environment variables (names here, values from the template), never baked in
the image. If a command's flags change, change them here: the template is regenerated from this
module and a test parses every command with the CLI's own parser.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from batch.lake.tables import NAMESPACE
from schemas.privacy import DEFAULT_MIN_TRACKS
from stream import settings
from stream.alarms import AlarmConfig
from stream.engine import EngineConfig
from stream.sinks.aws import (  # noqa: F401
    ENV_ALARM_TOPIC_ARN,
    ENV_DEAD_LETTER_QUEUE_URL,
    ENV_EVENT_BUS,
    ENV_FIREHOSE_STREAM,
    ENV_METRIC_NAMESPACE,
)

# The CloudWatch names the stack's alarms and dashboard watch, and the consumer's environment, are the
# stream's, declared where it writes and reads them; named here for the stack's modules.
from stream.sinks.cloudwatch import CAMERA as CAMERA_DIMENSION  # noqa: F401
from stream.sinks.cloudwatch import CONSUMER_ALIVE, FACES, HEARTBEAT, MODEL_DRIFT_MAX, NET_SCORE, TRACKS  # noqa: F401
from stream.sinks.cloudwatch import NAMESPACE as METRIC_NAMESPACE  # noqa: F401
from stream.sinks.cloudwatch import SITE as SITE_DIMENSION  # noqa: F401

# The Glue database of the lake's Iceberg tables: pyiceberg's namespace.
LAKE_DATABASE = NAMESPACE

# Where things live in the buckets.
RAW_PREFIX = "raw/"          # Firehose writes windows, alarms and late events here; compaction reads it
RAW_EVENTS_PREFIX = RAW_PREFIX + "events/"  # every edge event as it arrived (a Kinesis-sourced Firehose)
LAKE_PREFIX = "lake/"        # the Iceberg warehouse
REPORTS_PREFIX = "reports/"  # the weekly report
STATE_PREFIX = "state/"      # the consumer's checkpoints and per-site state (state bucket)
DRIFT_PREFIX = "drift/"      # the drift task's record of each site's last judged day (batch.drift_due)

# Environment of the other tasks: resource names resolved by CloudFormation (template expressions).
ENV_KCL_APPLICATION = "MOODLENS_KCL_APPLICATION"
ENV_GLUE_DATABASE = "MOODLENS_GLUE_DATABASE"
ENV_ATHENA_WORKGROUP = "MOODLENS_ATHENA_WORKGROUP"


# Placeholders in CloudFormation's Fn::Sub syntax: the template's logical ids of the stream and buckets.
STREAM_NAME = "${EventStream}"
STATE_BUCKET = "${StateBucket}"
DATA_BUCKET = "${DataBucket}"


def host_arguments(engine: EngineConfig, alarms: AlarmConfig, sites_json: str | None = None) -> list[str]:
    """The stream host's window and alarm settings as one `--thresholds-json` document (`stream.settings`)
    for `stream run` / `stream kcl-worker`, and with `sites_json` (the stack's --sites, as the compaction
    gets it) each site's time zone as `--sites`, whose local hours the alarm baselines learn. Compact JSON
    of ids and zone names only (a site's name may hold spaces): no space, so the KCL daemon's command
    line, split at spaces, keeps each one argument."""
    zones = {site: {"timezone": fields["timezone"]} for site, fields in json.loads(sites_json).items()} \
        if sites_json else {}
    return ["--thresholds-json", json.dumps(settings.document(engine, alarms), separators=(",", ":")),
            *(["--sites", json.dumps(zones, sort_keys=True, separators=(",", ":"))] if zones else [])]


def consumer_command(host: Sequence[str] = ()) -> list[str]:
    """The long-running consumer (ECS service); `host`: `host_arguments(...)`."""
    return ["stream", "run", "--source", f"kinesis://{STREAM_NAME}",
            "--state", f"s3://{STATE_BUCKET}/{STATE_PREFIX.rstrip('/')}", *host]


def kcl_command(host: Sequence[str] = ()) -> list[str]:
    """KCL mode (ConsumerMode=kcl): the MultiLangDaemon, which runs `stream kcl-worker` per shard, with
    `host` (the same flags as the single consumer's) on the worker's command line."""
    return ["infra", "kcl-daemon", "--stream", STREAM_NAME, "--application", "${AWS::StackName}-kcl",
            "--state", f"s3://{STATE_BUCKET}/{STATE_PREFIX}kcl",
            *([f"--worker-args={shlex.join(host)}"] if host else [])]


def compaction_command(sites_json: str | None = None) -> list[str]:
    """Hourly: raw/ -> the lake's Iceberg tables (Glue catalog); with `sites_json` (the stack's --sites), the
    lake's sites table too, so the report, the views and Athena speak each site's local time."""
    sites = ["--sites", sites_json] if sites_json else []
    return ["batch", "compact", "--raw", f"s3://{DATA_BUCKET}/{RAW_PREFIX}", "--lake", f"s3://{DATA_BUCKET}/{LAKE_PREFIX}",
            *sites]


def drift_command() -> list[str]:
    """Hourly: the model's drift per camera over the local days each site ended since its last judged one
    (its zone from the lake's sites table; the record of judged days in the data bucket), as CloudWatch
    metrics stamped at each day's local start (the alarm's input)."""
    return ["model", "drift", "--due", f"s3://{DATA_BUCKET}/{DRIFT_PREFIX}judged-days.json",
            "--lake", f"s3://{DATA_BUCKET}/{LAKE_PREFIX}", "--cloudwatch", "--exit-zero"]


def report_command(min_tracks: int = DEFAULT_MIN_TRACKS) -> list[str]:
    """Weekly: the last seven days' report from the lake (Glue + S3), uploaded to reports/YYYY-MM-DD/ (the
    day it ran: each week's is kept; the bucket keeps a replaced version only 7 days), hiding numbers over
    fewer than `min_tracks` customers (the stack's setting, as the stream and the Athena views)."""
    return ["report", "--since", "7d", "--lake", f"s3://{DATA_BUCKET}/{LAKE_PREFIX}",
            "--out", f"s3://{DATA_BUCKET}/{REPORTS_PREFIX}", "--dated", "--min-tracks", str(min_tracks)]
