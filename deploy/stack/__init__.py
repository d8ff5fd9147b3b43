"""The AWS stack as code: one CloudFormation template generated from Python (`template.build_template`).

Area modules: ``storage`` (key, buckets, queues, Firehose, Glue/Athena), ``ingest`` (IoT, Kinesis),
``compute`` (ECS, roles, schedules), ``monitoring`` (SNS, alarms, dashboard), ``silence`` (the alarms for
cameras and a consumer that send nothing); ``cfn`` has the helpers.
"""
