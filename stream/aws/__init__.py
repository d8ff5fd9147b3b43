"""* ``kinesis_host``    the host wired to Kinesis (any state store and outputs; a local-folder variant)"""
