"""Delivery of edge events: spool first, then a transport (local log, Kinesis, AWS IoT Core)."""

from edge.publish.ports import BatchLimits, OutboundRecord, Transport, TransportThrottled, TransportUnavailable
from edge.publish.publisher import DrainResult, SpoolingPublisher

__all__ = [
    "BatchLimits",
    "DrainResult",
    "OutboundRecord",
    "SpoolingPublisher",
    "Transport",
    "TransportThrottled",
    "TransportUnavailable",
]
