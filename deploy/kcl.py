"""KCL mode's container command: writes the MultiLangDaemon's properties and replaces this process
with the daemon (Java, from `amazon_kclpy`'s jars, installed in the image only).

The daemon owns the shard leases (DynamoDB tables named after the application), balancing and
reshards, and runs `moodlens stream kcl-worker --state ...` once per shard it holds; the worker
reads its outputs from the task's MOODLENS_* environment. Polling retrieval: enhanced fan-out would
cost per shard-hour and need more permissions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

DAEMON_CLASS = "software.amazon.kinesis.multilang.MultiLangDaemon"


def properties(stream: str, application: str, state: str, region: str, worker_args: Sequence[str] = ()) -> str:
    """`worker_args`: the stream host's settings (deploy.container.host_arguments) for every worker."""
    words = ["moodlens", "stream", "kcl-worker", "--state", state, *worker_args]
    # The daemon splits executableName at spaces and removes no quotes: a word must hold no space, and
    # is written as it is (shell quoting would reach the worker as part of its argument).
    spaced = [word for word in words if not word or any(c.isspace() for c in word)]
    if spaced:
        raise ValueError(f"KCL worker argument {spaced[0]!r}: the daemon splits its command at spaces, so an "
                         "argument must be non-empty and hold none")
    worker = " ".join(words)
    values = {
        "executableName": worker,
        "streamName": stream,
        "applicationName": application,  # lease table and CloudWatch namespace (the task role allows these)
        "AWSCredentialsProvider": "DefaultCredentialsProvider",  # the task role
        "processingLanguage": "python/3.11",
        "initialPositionInStream": "TRIM_HORIZON",
        "regionName": region,
        "retrievalMode": "POLLING",
    }
    return "".join(f"{key} = {value}\n" for key, value in values.items())


def jar_classpath() -> str:
    import amazon_kclpy  # installed in the container image only

    jars = sorted((Path(amazon_kclpy.__file__).parent / "jars").glob("*.jar"))
    if not jars:
        raise FileNotFoundError("amazon_kclpy has no jars: was it installed with network access (infra/Dockerfile)?")
    return os.pathsep.join(str(jar) for jar in jars)


def daemon_command(properties_file: Path, classpath: str) -> list[str]:
    return ["java", "-cp", classpath, DAEMON_CLASS, "--properties-file", str(properties_file)]


def run_daemon(stream: str, application: str, state: str, region: str, folder: Path,
               exec_: Callable[[str, list[str]], object] = os.execvp,
               classpath: Callable[[], str] = jar_classpath, worker_args: Sequence[str] = ()) -> None:
    if not state.startswith("s3://"):
        raise ValueError(f"--state {state}: KCL mode keeps each site's state in S3 (s3://bucket/prefix)")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kcl.properties"
    path.write_text(properties(stream, application, state, region, worker_args))
    command = daemon_command(path, classpath())
    exec_(command[0], command)
