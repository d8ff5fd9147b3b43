"""A real moto server (HTTP on loopback) for tests that talk to AWS APIs through boto3."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from moto.server import ThreadedMotoServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """Starts moto in server mode and yields its endpoint URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def drop_glue_lake(endpoint: str, database: str = "moodlens") -> None:
    """Deletes the lake's Glue database and its tables. moto servers in one process share their
    state, and one Glue database holds one lake: a test that leaves its tables there would make the
    next test's `--lake s3://...` (rightly) refused as a second lake on the same database."""
    import boto3

    glue = boto3.client("glue", endpoint_url=endpoint, region_name="eu-west-1",
                        aws_access_key_id="test", aws_secret_access_key="test")
    try:
        for table in glue.get_tables(DatabaseName=database)["TableList"]:
            glue.delete_table(DatabaseName=database, Name=table["Name"])
        glue.delete_database(Name=database)
    except glue.exceptions.EntityNotFoundException:
        pass
