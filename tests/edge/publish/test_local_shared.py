"""Several edge processes share one local log: every record lands once, offsets stay dense."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from locallog import LocalLog

REPO = Path(__file__).resolve().parents[3]
WRITER = """
import sys
from edge.publish.local import LocalLogTransport
from edge.publish.ports import OutboundRecord
transport = LocalLogTransport(sys.argv[1])
for batch in range(40):
    records = [OutboundRecord(seq=batch * 5 + i, payload=('{"w":"%s","n":%d}' % (sys.argv[2], batch * 5 + i)).encode(),
                              site_id="s", camera_id=sys.argv[2]) for i in range(5)]
    transport.send(records)
transport.close()
"""


def test_three_writer_processes_share_the_log_without_loss_or_gaps(tmp_path: Path) -> None:
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name], cwd=REPO)
               for name in ("a", "b", "c")]
    assert [w.wait(timeout=60) for w in writers] == [0, 0, 0]
    records = LocalLog(tmp_path).read(0, 10_000)
    assert [offset for offset, _ in records] == list(range(600))
    seen = [json.loads(payload) for _, payload in records]
    for name in "abc":
        assert [r["n"] for r in seen if r["w"] == name] == list(range(200))  # each writer's order kept
