"""State stores for the host (``stream.host.ports.StateStore``): a local folder, S3."""
