"""The prediction/outcome log: Parquet on a local folder and on S3 (moto's real server)."""

from __future__ import annotations

import logging
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pytest

from relayml.errors import InvalidInput
from relayml.predictions import ParquetLog, canonical_label, canonical_labels, compact, read_log

PART = "project=churn/deployment=churn-production"
FILE_NAME = re.compile(r"^part-\d{13}-[0-9a-f]{8}\.parquet$")


def ms(year: int, month: int, day: int, hour: int = 12) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp() * 1000)


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.parquet") if not p.name.startswith("."))


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def test_rows_from_many_threads_arrive_exactly_once(tmp_path: Path) -> None:
    log = ParquetLog(str(tmp_path / "log"), flush_interval=0.05, flush_rows=500)

    def worker(t: int) -> None:
        for i in range(40):
            ids = [f"{t}-{i}-{k}" for k in range(25)]
            assert log.append(f"project=p/deployment=d{t % 3}", {"id": ids, "score": [0.5] * 25})

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    ids = read_log(str(tmp_path / "log"), columns=["id"])["id"].to_pylist()
    assert len(ids) == 8 * 40 * 25 and len(set(ids)) == len(ids)
    assert log.stats["rows_written"] == len(ids) and log.stats["rows_buffered"] == 0
    assert sorted(read_log(str(tmp_path / "log")).column("deployment").unique().to_pylist()) == [
        "d0",
        "d1",
        "d2",
    ]


def test_files_are_laid_out_by_partition_and_utc_day(tmp_path: Path) -> None:
    root = tmp_path / "predictions"
    with ParquetLog(str(root), flush_interval=60) as log:
        log.append(PART, {"timestamp": [ms(2026, 11, 22, 23), ms(2026, 11, 23, 1)], "y": [1, 2]})
        log.append("project=churn/deployment=other", {"y": [3]})  # no timestamp: today (UTC)
    today = datetime.now(UTC).date().isoformat()
    rel = sorted(str(p.relative_to(root).parent) for p in files_under(root))
    assert rel == [
        f"{PART}/date=2026-11-22",
        f"{PART}/date=2026-11-23",
        f"project=churn/deployment=other/date={today}",
    ]
    assert all(FILE_NAME.match(p.name) for p in files_under(root))
    assert not [p for p in root.rglob("*") if p.is_file() and p.name.startswith(".")]
    table = read_log(str(root), PART)
    assert table.column("y").to_pylist() == [1, 2]
    assert table.column("date").to_pylist() == ["2026-11-22", "2026-11-23"]
    assert set(table.column("project").to_pylist()) == {"churn"}


def test_rows_are_written_on_the_interval_without_flush(tmp_path: Path) -> None:
    log = ParquetLog(str(tmp_path / "log"), flush_interval=0.2)
    log.append(PART, {"y": [1, 2, 3]})
    assert wait_until(lambda: read_log(str(tmp_path / "log")).num_rows == 3)
    assert log.stats["files_written"] == 1
    log.close()


def test_flush_rows_triggers_an_early_write(tmp_path: Path) -> None:
    log = ParquetLog(str(tmp_path / "log"), flush_interval=60, flush_rows=100)
    log.append(PART, {"y": list(range(60))})
    time.sleep(0.3)
    assert log.stats["rows_written"] == 0  # below flush_rows, interval far away
    log.append(PART, {"y": list(range(60))})
    assert wait_until(lambda: log.stats["rows_written"] == 120)
    log.close()


def test_a_full_buffer_drops_new_rows_and_counts_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = ParquetLog(str(tmp_path / "log"), flush_interval=60, flush_rows=10**9, max_rows=100)
    with caplog.at_level(logging.WARNING, logger="relayml.predictions"):
        assert log.append(PART, {"y": list(range(60))}) is True
        assert log.append(PART, {"y": list(range(60))}) is False
        assert log.append(PART, {"y": list(range(50))}) is False
        assert log.append(PART, {"y": list(range(40))}) is True  # exactly max_rows
    warnings = [r for r in caplog.records if r.name == "relayml.predictions"]
    assert len(warnings) == 1 and "dropping new rows" in warnings[0].getMessage()
    assert log.stats["rows_dropped"] == 110 and log.stats["rows_buffered"] == 100
    log.close()
    assert log.stats["rows_written"] == 100 and log.stats["rows_buffered"] == 0


def test_close_flushes_everything_and_is_idempotent(tmp_path: Path) -> None:
    log = ParquetLog(str(tmp_path / "log"), flush_interval=60)
    log.append(PART, {"y": [1, 2]})
    log.close()
    log.close()
    assert read_log(str(tmp_path / "log")).column("y").to_pylist() == [1, 2]
    with pytest.raises(InvalidInput, match="is closed"):
        log.append(PART, {"y": [3]})
    assert read_log(str(tmp_path / "log")).num_rows == 2


def test_bad_appends_are_refused_and_store_nothing(tmp_path: Path) -> None:
    with ParquetLog(str(tmp_path / "log"), flush_interval=60) as log:
        with pytest.raises(InvalidInput, match="same length"):
            log.append(PART, {"a": [1, 2], "b": [1]})
        with pytest.raises(InvalidInput, match="at least one column"):
            log.append(PART, {})
        for bad in ("../etc", "project=a/date=2026-01-01", "/abs/path", "project=a/.hidden=1"):
            with pytest.raises(InvalidInput, match="key=value"):
                log.append(bad, {"y": [1]})
        assert log.append(PART, {"y": []}) is True
        assert log.stats["rows_buffered"] == 0
    assert files_under(tmp_path / "log") == []


def test_unstorable_rows_are_dropped_and_reported_by_flush(tmp_path: Path) -> None:
    with ParquetLog(str(tmp_path / "log"), flush_interval=60) as log:
        log.append(PART, {"y": [1, "mixed"]})  # cannot become one Arrow column
        log.append(PART, {"y": [2]})
        with pytest.raises(InvalidInput, match=r"2 rows .* dropped: not storable"):
            log.flush()
        assert log.stats["rows_dropped"] == 2 and log.stats["rows_written"] == 1
    assert read_log(str(tmp_path / "log"))["y"].to_pylist() == [2]


def test_different_schemas_combine(tmp_path: Path) -> None:
    url = str(tmp_path / "log")
    with ParquetLog(url, flush_interval=60) as log:
        log.append(PART, {"id": ["a", "b"], "y": np.array([1, 2]), "model": ["m1", "m1"]})
        log.append(PART, {"id": ["c"], "y": [0.5], "extra": [True]})  # one file, promoted
        log.flush()
        assert len(files_under(tmp_path / "log")) == 1
        log.append(PART, {"id": np.array(["d"], dtype=object), "z": np.array([7], np.int32)})
    table = read_log(url, columns=["id", "y", "model", "extra", "z"]).sort_by("id")
    assert table.schema.field("y").type == pa.float64()
    assert table.to_pylist() == [
        {"id": "a", "y": 1.0, "model": "m1", "extra": None, "z": None},
        {"id": "b", "y": 2.0, "model": "m1", "extra": None, "z": None},
        {"id": "c", "y": 0.5, "model": None, "extra": True, "z": None},
        {"id": "d", "y": None, "model": None, "extra": None, "z": 7},
    ]


def test_clashing_column_types_are_read_as_text(tmp_path: Path) -> None:
    url = str(tmp_path / "log")
    with ParquetLog(url, flush_interval=60) as log:
        log.append(PART, {"id": [1], "label": [1]})
        log.flush()
        log.append(PART, {"id": [2], "label": ["churned"]})
    table = read_log(url, columns=["id", "label"]).sort_by("id")
    assert table.to_pylist() == [{"id": 1, "label": "1"}, {"id": 2, "label": "churned"}]


def test_probabilities_become_list_of_double(tmp_path: Path) -> None:
    url = str(tmp_path / "log")
    with ParquetLog(url, flush_interval=60) as log:
        log.append(PART, {"id": [1, 2], "proba": [[0.2, 0.8], [1, 0]]})
        log.append(PART, {"id": [3, 4], "proba": np.array([[0.3, 0.7], [0.6, 0.4]], np.float32)})
        log.append(PART, {"id": [5], "proba": [np.array([0, 1])]})
    table = read_log(url, columns=["id", "proba"]).sort_by("id")
    assert table.schema.field("proba").type == pa.list_(pa.float64())
    probas = table["proba"].to_pylist()
    assert probas[:2] == [[0.2, 0.8], [1.0, 0.0]] and probas[4] == [0.0, 1.0]
    assert np.allclose(probas[2] + probas[3], [0.3, 0.7, 0.6, 0.4])


def test_dates_are_pruned_and_partition_filters_apply(tmp_path: Path) -> None:
    url = str(tmp_path / "log")
    with ParquetLog(url, flush_interval=60) as log:
        for day in (1, 2, 3):
            for deployment in ("a", "b"):
                stamps = [ms(2026, 3, day, 6), ms(2026, 3, day, 18)]
                log.append(
                    f"project=p/deployment={deployment}", {"timestamp": stamps, "d": [day] * 2}
                )
    # An unreadable file on a day outside the window proves pruning happens before reading.
    (tmp_path / "log/project=p/deployment=a/date=2026-03-01/part-0-deadbeef.parquet").write_text(
        "x"
    )
    start, end = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, 12, tzinfo=UTC)
    window = read_log(url, start=start, end=end)
    assert sorted(
        zip(window["deployment"].to_pylist(), window["timestamp"].to_pylist(), strict=True)
    ) == [
        ("a", ms(2026, 3, 2, 6)),
        ("a", ms(2026, 3, 2, 18)),
        ("a", ms(2026, 3, 3, 6)),
        ("b", ms(2026, 3, 2, 6)),
        ("b", ms(2026, 3, 2, 18)),
        ("b", ms(2026, 3, 3, 6)),
    ]
    only_b = read_log(url, start=start, filters={"deployment": "b"}, columns=["d", "deployment"])
    assert only_b.column_names == ["d", "deployment"]
    assert sorted(only_b["d"].to_pylist()) == [2, 2, 3, 3]
    naive = read_log(url, "project=p/deployment=b", start=datetime(2026, 3, 3, 12))
    assert naive["timestamp"].to_pylist() == [ms(2026, 3, 3, 18)]
    with pytest.raises(InvalidInput, match="Cannot filter on 'nope'"):
        read_log(url, start=start, filters={"nope": "x"})
    with pytest.raises(InvalidInput, match="No column"):
        read_log(url, start=start, columns=["nope"])


def test_a_missing_folder_reads_as_an_empty_table(tmp_path: Path) -> None:
    assert read_log(str(tmp_path / "never")).num_rows == 0
    empty = read_log(str(tmp_path / "never"), "project=x", columns=["y"])
    assert empty.num_rows == 0 and empty.column_names == ["y"]


def _three_parts(url: str, day: int = 5) -> None:
    with ParquetLog(url, flush_interval=60) as log:
        for i in range(3):
            log.append(PART, {"timestamp": [ms(2026, 4, day)] * 2, "i": [i, i + 10]})
            log.flush()


def test_compact_merges_parts_without_changing_what_is_read(tmp_path: Path) -> None:
    url = str(tmp_path / "log")
    _three_parts(url)
    folder = tmp_path / "log" / PART / "date=2026-04-05"
    parts = files_under(folder)
    before = sorted(read_log(url)["i"].to_pylist())
    assert len(parts) == 3 and before == [0, 1, 2, 10, 11, 12]
    assert compact(url, PART, "2026-04-05") == 3
    [merged] = files_under(folder)
    assert merged.name.startswith("compact-")
    assert sorted(read_log(url)["i"].to_pylist()) == before
    # Compaction interrupted before deleting its inputs: readers still see each row once.
    _three_parts(url)
    saved = {p: p.read_bytes() for p in files_under(folder)}
    assert len(saved) == 4
    assert compact(url, PART, "2026-04-05") == 4
    for path, data in saved.items():
        path.write_bytes(data)
    assert len(files_under(folder)) == 5
    assert sorted(read_log(url)["i"].to_pylist()) == sorted(before * 2)
    assert compact(url, PART, "2026-04-05") == 0  # only deletes the leftovers
    assert len(files_under(folder)) == 1
    assert sorted(read_log(url)["i"].to_pylist()) == sorted(before * 2)
    with pytest.raises(InvalidInput, match="not a date"):
        compact(url, PART, "yesterday")


def test_log_on_s3_round_trip(s3_bucket: Any) -> None:
    url = f"{s3_bucket.url}/predictions"
    options = {**s3_bucket.storage_options, "skip_instance_cache": True}
    with ParquetLog(url, options=options, flush_interval=0.1) as log:
        log.append(PART, {"timestamp": [ms(2026, 5, 1)] * 2, "y": ["a", "b"], "p": [[0.1], [1]]})
        log.flush()
        log.append(PART, {"timestamp": [ms(2026, 5, 1)], "y": ["c"], "p": [[0.5]]})
    table = read_log(url, "project=churn", options=options)
    assert sorted(table["y"].to_pylist()) == ["a", "b", "c"]
    assert set(table["deployment"].to_pylist()) == {"churn-production"}
    client = boto3.client("s3", endpoint_url=s3_bucket.endpoint_url)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket.name)["Contents"]]
    assert all(k.startswith(f"artifacts/predictions/{PART}/date=2026-05-01/part-") for k in keys)
    assert compact(url, PART, "2026-05-01", options=options) == 2
    assert sorted(read_log(url, options=options)["y"].to_pylist()) == ["a", "b", "c"]
    assert len(client.list_objects_v2(Bucket=s3_bucket.name)["Contents"]) == 1
    client.close()


def test_failed_local_writes_keep_rows_and_retry(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the log's folder should be")
    url = str(blocker / "log")
    log = ParquetLog(url, flush_interval=0.1)
    log.append(PART, {"y": [1, 2, 3]})
    with pytest.raises(OSError):
        log.flush()
    assert wait_until(lambda: log.stats["write_errors"] >= 2)  # the thread retries too
    assert log.stats["rows_buffered"] == 3 and log.stats["rows_written"] == 0
    log.append(PART, {"y": [4]})
    blocker.unlink()
    blocker.mkdir()
    assert wait_until(lambda: log.stats["rows_written"] == 4)
    log.close()
    assert sorted(read_log(url)["y"].to_pylist()) == [1, 2, 3, 4]


def test_rows_wait_for_an_s3_bucket_that_appears_later(s3_bucket: Any) -> None:
    name = f"relayml-late-{uuid.uuid4().hex[:12]}"
    url = f"s3://{name}/predictions"
    options = {**s3_bucket.storage_options, "skip_instance_cache": True}
    client = boto3.client("s3", endpoint_url=s3_bucket.endpoint_url)
    log = ParquetLog(url, options=options, flush_interval=0.1)
    try:
        log.append(PART, {"y": [1, 2]})
        with pytest.raises(FileNotFoundError):
            log.flush()
        assert log.stats["rows_buffered"] == 2 and log.stats["write_errors"] >= 1
        client.create_bucket(Bucket=name)
        assert wait_until(lambda: log.stats["rows_written"] == 2)
        log.close()
        assert sorted(read_log(url, options=options)["y"].to_pylist()) == [1, 2]
    finally:
        log.close()
        objects = client.list_objects_v2(Bucket=name).get("Contents", [])
        for obj in objects:
            client.delete_object(Bucket=name, Key=obj["Key"])
        client.delete_bucket(Bucket=name)
        client.close()


APPENDER = textwrap.dedent(
    """
    import sys, time
    from relayml.predictions import ParquetLog
    log = ParquetLog(sys.argv[1], flush_interval=0.3)
    seq = 0
    print("ready", flush=True)
    while True:
        now = time.time_ns() // 1_000_000
        log.append("project=p/deployment=d", {"timestamp": [now] * 20, "seq": range(seq, seq + 20)})
        seq += 20
        time.sleep(0.002)
    """
)


def test_sigkill_loses_at_most_the_last_interval(tmp_path: Path) -> None:
    url = str(tmp_path / "log")
    child = subprocess.Popen(
        [sys.executable, "-c", APPENDER, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        # A loaded machine may take seconds over the first write: wait for it, then a few more.
        assert wait_until(lambda: any(Path(url).rglob("*.parquet")), timeout=120)
        time.sleep(1.5)
        killed_at = time.time_ns() // 1_000_000
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    table = read_log(url)  # a temp file from the write in progress is ignored
    seqs = sorted(table["seq"].to_pylist())
    assert seqs == list(range(len(seqs)))  # a prefix of what was appended, each row once
    # Appends are in timestamp order, so every row older than the newest one on disk is there.
    assert max(table["timestamp"].to_pylist()) >= killed_at - (300 + 1000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (float("nan"), None),
        (np.float32("nan"), None),
        (True, "true"),
        (np.bool_(False), "false"),
        (1, "1"),
        (np.int64(-3), "-3"),
        (1.0, "1"),
        (np.float64(2.0), "2"),
        (-0.0, "0"),
        (0.1, "0.1"),
        (np.float32(0.1), "0.1"),
        (1e-7, "1e-07"),
        (1e300, "1e+300"),
        (math.inf, "inf"),
        ("churned", "churned"),
        (np.str_("yes"), "yes"),
        ("1.0", "1.0"),
        (b"no", "no"),
        (Decimal("3.00"), "3"),
    ],
)
def test_canonical_label(value: Any, expected: str | None) -> None:
    assert canonical_label(value) == expected


def test_canonical_labels_of_arrays_and_lists() -> None:
    assert canonical_labels(np.array([1.0, 2.5, np.nan])) == ["1", "2.5", None]
    assert canonical_labels(np.array([0.1, 1], np.float32)) == ["0.1", "1"]
    assert canonical_labels(np.array([True, False])) == ["true", "false"]
    assert canonical_labels(np.array(["a", None], dtype=object)) == ["a", None]
    assert canonical_labels([1, 1.0, "1", None]) == ["1", "1", "1", None]
    assert canonical_labels(pa.array([3, None])) == ["3", None]


FIXTURE_LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs_v1"


def test_logs_written_before_the_move_stay_readable(tmp_path: Path) -> None:
    """Logs written by the code before relayml.predictions (00ab792) read, join and compact."""
    import shutil

    from relayml.predictions import PredictionLogs

    root = tmp_path / "artifacts"
    shutil.copytree(FIXTURE_LOGS, root, ignore=shutil.ignore_patterns("*.md"))
    logs = PredictionLogs(str(root))
    ids = [f"{i:024x}" for i in range(1, 7)]

    table = logs.read("predictions", "demo", "churn-production")
    assert table.column("prediction_id").to_pylist() == ids
    assert table.column("date").to_pylist() == ["2026-01-05"] * 4 + ["2026-01-06"] * 2
    assert table.column("probabilities").to_pylist()[-1] == [0.1, 0.9]
    assert table.column("input.plan").to_pylist()[:2] == ["basic", "pro"]
    one_day = logs.read(
        "predictions",
        "demo",
        start=datetime(2026, 1, 6, tzinfo=UTC),
        columns=["prediction_id", "mode"],
    )
    assert one_day.to_pydict() == {"prediction_id": ids[4:], "mode": ["shadow", "shadow"]}

    joined = logs.joined("demo", "churn-production", None)
    assert joined["outcome"].tolist()[:3] == ["0", "1", "1"]
    assert joined["outcome"].isna().tolist()[3:] == [True, True, True]
    assert math.isnan(joined["outcome_value"].tolist()[2])  # "1" as text: a label, no number

    requests = logs.read("requests", "demo", "churn-production")
    assert requests.column("status").to_pylist() == [200, 422]

    # new rows go to the same folders, and a closed day compacts with the old files
    logs.log_outcomes("demo", ids[3:4], [1], model="churn", source="sdk")
    assert logs.read("outcomes", "demo").column("prediction_id").to_pylist()[-1] == ids[3]
    with logs.writer("predictions") as writer:
        writer.append(
            "project=demo/deployment=churn-production",
            {"timestamp": [ms(2026, 1, 6)], "prediction_id": ["f" * 24], "mode": ["live"]},
        )
    done = logs.compact_closed_days("demo")
    assert [(d["log"], d["partition"], d["day"], d["files"]) for d in done] == [
        ("predictions", "project=demo/deployment=churn-production", "2026-01-06", 2)
    ]
    after = logs.read("predictions", "demo", "churn-production")
    assert after.column("prediction_id").to_pylist() == [*ids, "f" * 24]
    assert after.column("input.age").to_pylist()[4:] == [52.0, 23.0, None]
