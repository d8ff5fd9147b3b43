"""Sources for the host (``stream.host.ports.Source``): the local log, Kinesis."""
