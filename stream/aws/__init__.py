"""AWS adapters of the stream host. The window engine in `stream/` stays SDK-free; boto3 clients are
passed in, and only the CLI wiring (`moodlens/commands/stream_host.py`) creates them.

* ``kinesis_reader``  Kinesis reader: ListShards, parents before children, per-shard iterators
* ``kinesis_host``    the host wired to Kinesis (any state store and outputs; a local-folder variant)
* ``kcl_processor``   record processor for the KCL MultiLangDaemon (``amazon_kclpy``): per-site state in S3
* ``cloudwatch``      PutMetricData within its limits; ``MetricSink`` protocol
* ``sqs_deadletter``  the SQS ``DeadLetterSink``
"""
