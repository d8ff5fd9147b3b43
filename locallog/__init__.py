"""The box's ground floor for data on disk: durable file writes (and, in embedded mode, the event log)."""
