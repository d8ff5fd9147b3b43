"""Outputs as local JSON Lines files, truncated back to the checkpointed sizes on restart.

``windows.jsonl`` (sentiment_window), ``alarms.jsonl`` (sentiment_alarm), ``late.jsonl`` (late
events for the batch path), ``deadletter.jsonl``. Because the host checkpoints the sizes after an
fsync, what a crash wrote after the last checkpoint is cut off and written again, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from locallog.files import PRIVATE_FOLDER
from locallog.stream_outputs import ALARMS, DEAD_LETTERS, LATE, OUTPUTS, WINDOWS
from stream.deadletter import DeadLetter, JsonlDeadLetterSink
from stream.host.sites import Emitted
from stream.jsonl import AppendFile, dumps


class FileOutputs:
    def __init__(self, folder: Path | str, fault: Callable[[str], None] = lambda point: None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        self._fault = fault  # tests: "torn-write" halves a windows write; "after-<file>", "synced-<file>"
        self.files = {name: AppendFile(self.folder / name) for name in OUTPUTS}
        self._dead = JsonlDeadLetterSink.on(self.files[DEAD_LETTERS])

    def restore(self, positions: Mapping[str, Any]) -> None:
        for name, handle in self.files.items():
            handle.truncate(int(positions.get(name, 0)))  # what a crash wrote after the checkpoint goes

    def write(self, emitted: Emitted, letters: Sequence[DeadLetter]) -> None:
        if emitted.windows:
            data = b"".join(dumps(w) + b"\n" for w in emitted.windows)
            half = len(data) // 2
            self.files[WINDOWS].write_raw(data[:half])
            self._fault("torn-write")
            self.files[WINDOWS].write_raw(data[half:])
        self._fault(f"after-{WINDOWS}")
        self.files[ALARMS].write(emitted.alarms)
        self._fault(f"after-{ALARMS}")
        self.files[LATE].write(emitted.late)
        self._fault(f"after-{LATE}")
        self._dead.put(letters)

    def flush(self) -> dict[str, Any]:
        for name, handle in self.files.items():
            handle.sync()
            self._fault(f"synced-{name}")
        return {name: handle.size for name, handle in self.files.items()}

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()
