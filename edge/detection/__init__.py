"""Face detection: the column-style `Detections` record, detectors, and zone masks."""
