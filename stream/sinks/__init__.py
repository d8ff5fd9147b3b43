"""Outputs for the host (``stream.host.ports.Outputs``): local files; Firehose, SNS, EventBridge,
CloudWatch metrics from the windows (``cloudwatch``), SQS dead letters (``sqs``)."""
