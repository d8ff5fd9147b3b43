"""The names of the files the stream host writes into its state folder on one box.

The stream writes them (``stream.sinks.files``); compaction and the box read them. They are declared
here, on the floor below both, because ``batch`` may not import ``stream`` (the layers contract).
"""

WINDOWS, ALARMS, LATE, DEAD_LETTERS = "windows.jsonl", "alarms.jsonl", "late.jsonl", "deadletter.jsonl"
OUTPUTS = (WINDOWS, ALARMS, LATE, DEAD_LETTERS)
