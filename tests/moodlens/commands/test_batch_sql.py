"""`moodlens batch compact|maintain` and `moodlens sql` as a user runs them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from locallog import LocalLog
from moodlens.cli import main
from tests.batch.lakes import T0, update, visit, write_jsonl
from tests.schemas.events import sentiment_window


def test_compact_the_embedded_log_and_the_stream_outputs_then_query(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    log = LocalLog(tmp_path / "log")
    log.append([json.dumps(visit(T0 + i * 60_000, track=f"t{i}")).encode() for i in range(6)] + [b'{"oops": 1}'])
    write_jsonl(tmp_path / "stream" / "windows.jsonl", [sentiment_window()])
    lake = str(tmp_path / "lake")
    args = ["batch", "compact", "--lake", lake, "--log", str(tmp_path / "log"), "--state", str(tmp_path / "stream")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "face_expression    +         6 rows" in out and "sentiment_window   +         1 rows" in out
    assert main(args) == 0  # only what is new in the log since the last run: nothing
    assert "face_expression    +" not in capsys.readouterr().out
    log.append([json.dumps(visit(T0 + 10 * 60_000, track="late")).encode()])
    assert main([*args, "--from-start"]) == 0  # the whole log again: one new, six known
    assert "face_expression    +         1 rows  (6 duplicates skipped)" in capsys.readouterr().out

    assert main(["sql", "--lake", lake, "--format", "csv",
                 "SELECT site_id, tracks, suppressed FROM sentiment_by_hour_site"]) == 0
    assert capsys.readouterr().out.splitlines() == ["site_id,tracks,suppressed", "cafe-1,7,False"]
    assert main(["sql", "--raw", "--lake", lake, "SELECT source, line, reasons FROM quarantine"]) == 0
    table = capsys.readouterr().out
    assert "schema: unknown event schema None" in table and "(1 row)" in table


def test_a_corrupt_raw_file_is_reported_with_its_name_and_a_non_zero_exit(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw"
    write_jsonl(raw / "good.jsonl", [update(T0), update(T0 + 1)])
    (raw / "bad.jsonl.gz").write_bytes(gzip.compress(json.dumps(update(T0 + 2)).encode())[:-8])
    assert main(["batch", "compact", "--lake", str(tmp_path / "lake"), "--raw", str(raw)]) == 1
    captured = capsys.readouterr()
    assert "bad.jsonl.gz" in captured.err and "gzip" in captured.err
    assert "face_expression    +         2 rows" in captured.out


def test_sql_syntax_error_in_a_file_names_the_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    query = tmp_path / "q.sql"
    query.write_text("SELECT site_id\nFROM face_expression\nGROUP BY BY site_id\n")
    assert main(["sql", "--lake", str(tmp_path / "lake"), "--file", str(query)]) == 2
    assert "no lake at" in capsys.readouterr().err
    write_jsonl(tmp_path / "raw" / "a.jsonl", [update(T0)])
    assert main(["batch", "compact", "--lake", str(tmp_path / "lake"), "--raw", str(tmp_path / "raw")]) == 0
    assert main(["sql", "--lake", str(tmp_path / "lake"), "--file", str(query)]) == 2
    err = capsys.readouterr().err
    assert str(query) in err and "LINE 3" in err


def test_maintain_reports_per_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "raw" / "a.jsonl", [update(T0)])
    assert main(["batch", "compact", "--lake", str(tmp_path / "lake"), "--raw", str(tmp_path / "raw")]) == 0
    assert main(["batch", "maintain", "--lake", str(tmp_path / "lake"), "--retain-days", "0"]) == 0
    assert "face_expression    files     1 -> 1" in capsys.readouterr().out
