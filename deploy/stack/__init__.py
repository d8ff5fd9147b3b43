"""The AWS stack as code: one CloudFormation template generated from Python (`template.build_template`).

Area modules: ``storage`` (key, buckets, queues, Firehose, Glue/Athena), ``ingest`` (IoT, Kinesis),
``compute`` (ECS, roles, schedules), ``monitoring`` (SNS, alarms, dashboard); ``cfn`` has the helpers.
"""
