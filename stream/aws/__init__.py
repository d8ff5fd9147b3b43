"""AWS hosts of the stream pipeline. The window engine in `stream/` stays SDK-free; boto3 clients are
passed in, and only the Lambda entry point creates them.

* ``kinesis_reader``  development reader for Kinesis: ListShards, parents before children,
                      per-shard iterators, checkpoints in a local JSON file (atomic replace)
* ``kinesis_host``    reader -> ingest -> window engine -> alarms -> local files, exactly-once by checkpoint
* ``kinesis_events``  records as the event a Kinesis event source mapping hands to Lambda
* ``lambda_handler``  the Lambda handler: powertools partial batch responses, SQS dead letters,
                      1-minute event-time panes published as CloudWatch statistic sets
* ``pane_metrics``    pane aggregates -> metric names, dimensions and statistic sets (shared with infra)
* ``cloudwatch``      statistic-set publisher within PutMetricData limits; ``MetricSink`` protocol
* ``sqs_deadletter``  the SQS ``DeadLetterSink``
"""
