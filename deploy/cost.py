"""Monthly AWS cost of the stack per site, from AWS's public on-demand prices (us-east-1).

    python -m deploy.cost [--sites 10] [--cameras 4] [--open-hours 12] [--events-per-minute 60]

Prices as published on aws.amazon.com/<service>/pricing for us-east-1 in 2025 (the last ones this
project could read; no free tier, no savings plans). Check them before you quote a customer.
Shared items (one stream, one consumer task, the schedules, the dashboard) are divided by the
number of sites; per-site items scale with cameras, open hours and events.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

HOURS = 730            # hours in an average month
DAYS = 30
GB = 1024 * 1024       # KB in a GB
PRICES = {
    "iot_message_per_m": 1.00,         # IoT Core messaging, per million messages (each <= 5 KB)
    "iot_rule_per_m": 0.15,            # IoT rules triggered, per million
    "iot_action_per_m": 0.15,          # IoT rule actions executed, per million
    "iot_connect_per_m_min": 0.08,     # IoT connectivity, per million connection-minutes
    "kinesis_stream_hour": 0.04,       # Kinesis on-demand, per stream-hour
    "kinesis_in_gb": 0.08,             # Kinesis on-demand ingest, per GB (records rounded up to 1 KB)
    "kinesis_out_gb": 0.04,            # Kinesis on-demand retrieval, per GB
    "fargate_vcpu_hour": 0.04048,      # Fargate Linux/x86, per vCPU-hour
    "fargate_gb_hour": 0.004445,       # Fargate, per GB-hour
    "public_ipv4_hour": 0.005,         # public IPv4 address, per hour
    "firehose_gb": 0.029,              # Firehose direct put, per GB (records rounded up to 5 KB)
    "s3_gb_month": 0.023,              # S3 Standard, per GB-month
    "s3_put_per_k": 0.005,             # S3 PUT, per 1,000
    "athena_tb": 5.00,                 # Athena, per TB scanned
    "cw_metric_month": 0.30,           # CloudWatch custom metric, per metric-month
    "cw_alarm_metric_month": 0.10,     # CloudWatch standard alarm, per metric it reads
    "cw_composite_alarm_month": 0.50,  # CloudWatch composite alarm, per alarm
    "cw_dashboard_month": 3.00,        # CloudWatch dashboard, per month
    "cw_put_per_k": 0.01,              # PutMetricData, per 1,000 requests
    "kms_key_month": 1.00,             # KMS customer-managed key, per month
}
# The stack's alarms that are not per site or camera: consumer lag, consumer silent, model drift, the
# three dead-letter queues.
OPERATIONS_ALARMS = 6


@dataclass(frozen=True)
class Assumptions:
    sites: int = 10
    cameras: int = 4               # per site
    open_hours: float = 12.0       # per day, 30 days a month
    events_per_minute: float = 60  # per camera while open (track updates at most 1/s per face, heartbeats)
    event_kb: float = 0.6
    window_kb: float = 1.0
    lake_bytes_per_event: float = 100  # Parquet, compressed
    athena_queries: int = 200          # per site and month
    athena_mb_per_query: float = 50    # after partition pruning
    state_commits_per_minute: float = 2  # the consumer's --commit-every-s 30 on S3
    compaction_minutes: float = 3      # per hourly run (1 vCPU, 4 GB)
    drift_minutes: float = 2           # per hourly model-drift run (1 vCPU, 4 GB; Fargate bills at least 1 minute)


def lines(a: Assumptions) -> list[tuple[str, str, float, bool]]:
    """(item, arithmetic, dollars a month, shared by all sites)."""
    p = PRICES
    events = a.cameras * a.events_per_minute * 60 * a.open_hours * DAYS
    kinesis_gb = events * 1 / GB  # each record rounded up to 1 KB
    windows = (a.cameras + 1) * 3 * 60 * a.open_hours * DAYS  # site + cameras, 5/15/60 min, each minute
    # NetScore/Tracks/Faces per site and camera; Heartbeat and ModelDrift per camera
    metrics = 3 * (a.cameras + 1) + 2 * a.cameras
    batch_hours = a.compaction_minutes / 60 * HOURS
    drift_hours = a.drift_minutes / 60 * HOURS
    batch_task_hour = p["fargate_vcpu_hour"] + 4 * p["fargate_gb_hour"]
    vcpu, gb = 0.5, 1.0
    return [
        ("IoT Core messages, rules, actions",
         f"{events / 1e6:.2f} M msgs x (${p['iot_message_per_m']:.2f} + ${p['iot_rule_per_m']:.2f} + "
         f"${p['iot_action_per_m']:.2f})/M", events / 1e6 * (p["iot_message_per_m"] + p["iot_rule_per_m"]
                                                            + p["iot_action_per_m"]), False),
        ("IoT Core connectivity", f"{a.cameras} x {HOURS * 60} min x ${p['iot_connect_per_m_min']}/M min",
         a.cameras * HOURS * 60 / 1e6 * p["iot_connect_per_m_min"], False),
        ("Kinesis ingest + retrieval", f"{kinesis_gb:.2f} GB x (${p['kinesis_in_gb']} + ${p['kinesis_out_gb']})",
         kinesis_gb * (p["kinesis_in_gb"] + p["kinesis_out_gb"]), False),
        ("Firehose (windows, 5 KB each)", f"{windows / 1e3:.0f} k x 5 KB = {windows * 5 / GB:.2f} GB x "
         f"${p['firehose_gb']}", windows * 5 / GB * p["firehose_gb"], False),
        ("Firehose event archive (reads the stream into raw/events/)",
         f"{kinesis_gb:.2f} GB x (${p['firehose_gb']} + ${p['kinesis_out_gb']} second reader)",
         kinesis_gb * (p["firehose_gb"] + p["kinesis_out_gb"]), False),
        ("S3 state PUTs", f"{a.state_commits_per_minute:g}/min x {HOURS * 60} min x ${p['s3_put_per_k']}/k",
         a.state_commits_per_minute * HOURS * 60 / 1e3 * p["s3_put_per_k"], False),
        ("S3 lake storage (after 12 months)", f"{events * a.lake_bytes_per_event / 1e9 * 12:.1f} GB x "
         f"${p['s3_gb_month']}", events * a.lake_bytes_per_event / 1e9 * 12 * p["s3_gb_month"], False),
        ("Athena scans", f"{a.athena_queries} x {a.athena_mb_per_query:g} MB x ${p['athena_tb']:.0f}/TB",
         a.athena_queries * a.athena_mb_per_query / 1e6 * p["athena_tb"], False),
        ("CloudWatch metrics", f"{metrics} metrics x ${p['cw_metric_month']}", metrics * p["cw_metric_month"], False),
        ("CloudWatch net-score alarm", f"2 metrics x ${p['cw_alarm_metric_month']}",
         2 * p["cw_alarm_metric_month"], False),
        ("CloudWatch camera-silent alarms (heartbeat + composite per camera)",
         f"{a.cameras} x (${p['cw_alarm_metric_month']} + ${p['cw_composite_alarm_month']:.2f})",
         a.cameras * (p["cw_alarm_metric_month"] + p["cw_composite_alarm_month"]), False),
        ("Kinesis on-demand stream", f"{HOURS} h x ${p['kinesis_stream_hour']}", HOURS * p["kinesis_stream_hour"],
         True),
        ("Fargate consumer (0.5 vCPU, 1 GB)", f"{HOURS} h x ({vcpu} x ${p['fargate_vcpu_hour']} + {gb:g} x "
         f"${p['fargate_gb_hour']})", HOURS * (vcpu * p["fargate_vcpu_hour"] + gb * p["fargate_gb_hour"]), True),
        ("Public IPv4 of the consumer and batch tasks",
         f"({HOURS} + {batch_hours:.1f} + {drift_hours:.1f}) h x ${p['public_ipv4_hour']}",
         (HOURS + batch_hours + drift_hours) * p["public_ipv4_hour"], True),
        ("Fargate compaction (1 vCPU, 4 GB, hourly)", f"{batch_hours:.1f} h x (${p['fargate_vcpu_hour']} + 4 x "
         f"${p['fargate_gb_hour']})", batch_hours * batch_task_hour, True),
        ("Fargate model drift (1 vCPU, 4 GB, hourly) and its record's PUTs",
         f"{drift_hours:.1f} h x (${p['fargate_vcpu_hour']} + 4 x ${p['fargate_gb_hour']}) + {HOURS} PUTs",
         drift_hours * batch_task_hour + HOURS / 1e3 * p["s3_put_per_k"], True),
        (f"CloudWatch dashboard, {OPERATIONS_ALARMS} operations alarms, ModelDriftMax and ConsumerAlive",
         f"${p['cw_dashboard_month']:.2f} + {OPERATIONS_ALARMS} x ${p['cw_alarm_metric_month']} + 2 x "
         f"${p['cw_metric_month']}",
         p["cw_dashboard_month"] + OPERATIONS_ALARMS * p["cw_alarm_metric_month"] + 2 * p["cw_metric_month"], True),
        ("PutMetricData (one request a minute)", f"{HOURS * 60 / 1e3:.1f} k x ${p['cw_put_per_k']}/k",
         HOURS * 60 / 1e3 * p["cw_put_per_k"], True),
        ("KMS key", f"${p['kms_key_month']:.2f}", p["kms_key_month"], True),
    ]


def report(a: Assumptions) -> str:
    rows = lines(a)
    own = sum(cost for *_, cost, shared in rows if not shared)
    shared = sum(cost for *_, cost, shared in rows if shared)
    out = ["| item | arithmetic | $/month | per |", "|---|---|---:|---|"]
    out += [f"| {item} | {how} | {cost:.2f} | {'fleet' if is_shared else 'site'} |"
            for item, how, cost, is_shared in rows]
    total = own + shared / a.sites
    out.append(f"| **per site** | {own:.2f} + {shared:.2f} / {a.sites} sites | **{total:.2f}** | site |")
    return "\n".join(out)


def per_site(a: Assumptions) -> float:
    rows = lines(a)
    return sum(c for *_, c, s in rows if not s) + sum(c for *_, c, s in rows if s) / a.sites


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.cost", description=__doc__.split("\n\n")[0])
    defaults = Assumptions()
    parser.add_argument("--sites", type=int, default=defaults.sites)
    parser.add_argument("--cameras", type=int, default=defaults.cameras)
    parser.add_argument("--open-hours", type=float, default=defaults.open_hours)
    parser.add_argument("--events-per-minute", type=float, default=defaults.events_per_minute)
    args = parser.parse_args(argv)
    print(report(Assumptions(sites=args.sites, cameras=args.cameras, open_hours=args.open_hours,
                             events_per_minute=args.events_per_minute)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
