"""Streaming core: event-time windows, sentiment measures and alarms over face_expression events.

Layers (no AWS SDK anywhere: the adapters in ``sources``, ``state`` and ``sinks`` take boto3 clients,
which only the wiring creates):

* ``ingest``      raw bytes -> validated event dict, or a dead letter with its reasons
* ``engine``      the window engine: clock (event time, watermark), windower (1-minute panes,
                  rolling windows) and logic (mergeable aggregates); pure, snapshot/restore
* ``aggregate``   the mergeable ``PaneAggregate`` / ``WindowAggregate`` and ``RunningStats``
* ``measures``    window aggregate -> sentiment_window fields (shares, valence CI, net score CI)
* ``alarms``      the alarm state machines (low sentiment, drop vs baseline, camera silent)
* ``host``        the one host: checkpointed loop over ports, event time per site (``host.sites``)
* ``sources``     local log, Kinesis;  ``state``: local folder, S3 (fenced);  ``sinks``: files,
                  Firehose/SNS/EventBridge (``aws``), CloudWatch, SQS dead letters
* ``embedded``    the host wired to the local log, a local state folder and local files
* ``wiring``      the host (or the KCL processor) built from source, state and output locations
* ``deadletter``  the ``DeadLetterSink`` protocol and its local JSON Lines implementation
"""
