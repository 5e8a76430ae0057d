"""Schedules on SQLite and PostgreSQL: cron times and events fire a real pipeline run (a
subprocess of `relay pipelines run`) once, recorded as a firing with its run; two ticks at once
fire a trigger once; bad input says what to fix and stores nothing."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.data.sources import log_dataset
from relayml.domain.models import ColumnSpec, ModelFile, Signature
from relayml.domain.schedules import Firing
from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.schedules.tick import tick

pytestmark = pytest.mark.timeout(300)

PROJECT = "churn"
FLOWS = """
import relayml as relay


@relay.step
def load(rows: int = 3) -> list:
    if rows < 0:
        raise ValueError("rows must not be negative")
    return list(range(rows))


@relay.pipeline
def data(rows: int = 3):
    return {"table": load(rows)}
"""


def open_backend(tmp_path: Path, url: str, user: str = "ada") -> LocalBackend:
    settings = get_settings(home=tmp_path / "home", database_url=url, user=user)
    return LocalBackend(settings)


@pytest.fixture
def backend(store_url: str, tmp_path: Path) -> Iterator[LocalBackend]:
    found = open_backend(tmp_path, store_url)
    found.create_project(PROJECT)
    try:
        yield found
    finally:
        found.launcher.wait(120)
        found.close()


@pytest.fixture
def target(tmp_path: Path) -> str:
    """A pipeline in a file of its own, as `relay pipelines run` names it."""
    path = tmp_path / "flows.py"
    path.write_text(FLOWS)
    return f"{path}:data"


def settle(backend: LocalBackend, fired: list[Firing]) -> list[Firing]:
    """The firings as they ended: their runs waited for, read back from the store."""
    backend.launcher.wait(120)
    found = {f.id: f for f in backend.get_schedule(PROJECT, fired[0].schedule).firings}
    return [found[f.id] for f in fired]


def actions(backend: LocalBackend, action: str) -> int:
    return sum(1 for e in backend.list_audit(limit=1000) if e.action == action)


def test_a_due_cron_time_fires_once_and_records_its_pipeline_run(
    backend: LocalBackend, target: str
) -> None:
    schedule = backend.add_schedule(
        PROJECT, "nightly", target, cron="0 6 * * *", params={"rows": "7"}
    )
    assert schedule.next_due is not None
    assert (schedule.next_due.hour, schedule.next_due.minute) == (6, 0)
    due = schedule.next_due
    store, actor, launcher = backend.store, backend.actor, backend.launcher
    assert tick(store, actor, launcher) == []  # added just now: no 06:00 since
    fired = tick(store, actor, launcher, now=due + timedelta(seconds=30))
    assert [f.reason for f in fired] == [f"cron 0 6 * * *: {due:%Y-%m-%d} 06:00 UTC"]
    assert tick(store, actor, launcher, now=due + timedelta(minutes=30)) == []
    (firing,) = settle(backend, fired)
    assert firing.status == "finished", firing
    assert firing.pipeline_run is not None and firing.ended_at is not None
    run = backend.get_pipeline_run(firing.pipeline_run)
    assert (run.status, run.params, run.project, run.created_by) == (
        "FINISHED",
        {"rows": 7},
        PROJECT,
        "ada",
    )
    assert firing.log is not None and Path(firing.log).is_file()
    again = tick(store, actor, launcher, now=due + timedelta(days=1))
    assert len(again) == 1 and settle(backend, again)[0].status == "finished"
    assert actions(backend, "schedule.fire") == 2
    listed = backend.list_schedules(PROJECT)
    assert [s.name for s in listed] == ["nightly"] and listed[0].last_fired_at is not None


def test_cron_times_missed_while_down_run_once(backend: LocalBackend, target: str) -> None:
    backend.add_schedule(PROJECT, "hourly", target, cron="0 * * * *")
    later = datetime.now(UTC) + timedelta(hours=5, minutes=30)
    fired = tick(backend.store, backend.actor, backend.launcher, now=later)
    assert len(fired) == 1
    assert "earlier times missed while no scheduler ran, not run" in fired[0].reason
    assert tick(backend.store, backend.actor, backend.launcher, now=later) == []
    settle(backend, fired)


def test_a_new_dataset_version_fires_once(backend: LocalBackend, target: str) -> None:
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1, 2]}))
    backend.add_schedule(PROJECT, "on-data", target, on="dataset:customers")
    assert backend.tick_schedules(PROJECT) == []  # the version before the schedule: no
    log_dataset(backend, PROJECT, "other", pd.DataFrame({"x": [1]}))
    assert backend.tick_schedules(PROJECT) == []  # another dataset: no
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1, 3]}))
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1, 4]}))
    fired = backend.tick_schedules(PROJECT, wait=True)
    assert len(fired) == 1
    assert fired[0].reason.startswith("dataset version customers@3 logged by ada")
    assert "1 earlier matching event(s)" in fired[0].reason
    assert fired[0].status == "finished" and fired[0].pipeline_run
    assert backend.tick_schedules(PROJECT) == []
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1, 2]}))  # same content
    assert backend.tick_schedules(PROJECT) == []  # no new version: nothing happened


SIGNATURE = Signature(
    inputs=[ColumnSpec(name="x", dtype="float64")],
    outputs=[ColumnSpec(name="prediction", dtype="int64")],
    output_shape=[-1],
    task="classification",
    classes=[0, 1],
    has_proba=True,
)


def register(backend: LocalBackend, content: bytes) -> int:
    sha, size = backend.upload_blob(io.BytesIO(content))
    files = [ModelFile(path="model.joblib", sha256=sha, size=size)]
    return backend.create_model_version(
        PROJECT, "churn", flavor="sklearn", files=files, signature=SIGNATURE,
        requirements=[], details={},
    ).version  # fmt: skip


def test_a_promotion_fires_once(backend: LocalBackend, target: str) -> None:
    register(backend, b"one")
    backend.add_schedule(PROJECT, "on-staging", target, on="promotion:churn@staging")
    backend.add_schedule(PROJECT, "on-production", target, on="promotion:churn@production")
    assert backend.promote(PROJECT, "churn/1", "staging").status == "PROMOTED"
    fired = backend.tick_schedules(PROJECT, wait=True)
    assert [f.schedule for f in fired] == ["on-staging"]
    assert fired[0].reason.startswith("churn/1 promoted to staging by ada")
    assert fired[0].status == "finished"
    assert backend.tick_schedules(PROJECT) == []


def test_an_alert_fires_its_schedule_once(backend: LocalBackend, target: str) -> None:
    register(backend, b"one")
    backend.create_evaluation(
        PROJECT, "churn/1", {"dataset": "holdout", "target": "y", "task": "classification",
                             "rows": 10, "metrics": {"auc": 0.8}},
    )  # fmt: skip
    backend.promote(PROJECT, "churn/1", "staging")
    # a fresh validation: the review is due in ~90 days, so "below 1000" holds at once
    backend.set_alert_rules(
        PROJECT, "alerts:\n  - {name: review soon, model: churn, figure: review_overdue_days, "
        "below: 1000}\n",
    )  # fmt: skip
    backend.add_schedule(PROJECT, "on-alert", target, on="alert:review soon")
    assert [r["outcome"] for r in backend.run_monitors(PROJECT)] == ["fired"]
    fired = backend.tick_schedules(PROJECT, wait=True)
    assert len(fired) == 1 and fired[0].reason.startswith("alert 'review soon' fired")
    assert fired[0].status == "finished"
    assert [r["outcome"] for r in backend.run_monitors(PROJECT)] == ["still firing"]
    assert backend.tick_schedules(PROJECT) == []


def test_two_ticks_at_once_fire_a_trigger_once(
    backend: LocalBackend, target: str, store_url: str, tmp_path: Path
) -> None:
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1, 2]}))
    schedule = backend.add_schedule(PROJECT, "nightly", target, cron="0 6 * * *")
    backend.add_schedule(PROJECT, "on-data", target, on="dataset:customers")
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1, 3]}))
    replicas = [open_backend(tmp_path, store_url, user=f"replica{i}") for i in range(2)]
    assert schedule.next_due is not None
    moment = schedule.next_due + timedelta(minutes=1)
    start = threading.Barrier(len(replicas))
    results: list[list[Firing]] = [[] for _ in replicas]
    errors: list[BaseException] = []

    def run(index: int) -> None:
        replica = replicas[index]
        try:
            start.wait(timeout=30)
            results[index] = tick(replica.store, replica.actor, replica.launcher, now=moment)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(replicas))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not errors, errors
        fired = sorted(f.schedule for found in results for f in found)
        assert fired == ["nightly", "on-data"]
        for name in ("nightly", "on-data"):
            assert len(backend.get_schedule(PROJECT, name).firings) == 1
    finally:
        for replica in replicas:
            replica.launcher.wait(120)
            replica.close()


def test_a_failing_pipeline_marks_its_firing_failed(backend: LocalBackend, target: str) -> None:
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1, 2]}))
    backend.add_schedule(PROJECT, "broken", target, on="dataset:customers", params={"rows": "-1"})
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1, 3]}))
    (firing,) = backend.tick_schedules(PROJECT, wait=True)
    assert firing.status == "failed"
    assert firing.error is not None and "rows must not be negative" in firing.error
    assert firing.pipeline_run is not None
    assert backend.get_pipeline_run(firing.pipeline_run).status == "FAILED"


def test_an_unloadable_pipeline_fails_its_firing_with_the_reason(
    backend: LocalBackend, tmp_path: Path
) -> None:
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1, 2]}))
    backend.add_schedule(PROJECT, "gone", f"{tmp_path}/missing.py:data", on="dataset:customers")
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1, 3]}))
    (firing,) = backend.tick_schedules(PROJECT, wait=True)
    assert (firing.status, firing.pipeline_run) == ("failed", None)
    assert firing.error is not None and "missing.py is not a file" in firing.error


def test_pause_resume_and_remove(backend: LocalBackend, target: str) -> None:
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1, 2]}))
    backend.add_schedule(PROJECT, "on-data", target, on="dataset:customers")
    assert backend.pause_schedule(PROJECT, "on-data").enabled is False
    with pytest.raises(Conflict, match="already paused"):
        backend.pause_schedule(PROJECT, "on-data")
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1, 3]}))
    assert backend.tick_schedules(PROJECT) == []
    assert backend.resume_schedule(PROJECT, "on-data").enabled is True
    assert backend.tick_schedules(PROJECT) == []  # events while paused do not fire it
    backend.remove_schedule(PROJECT, "on-data")
    assert backend.list_schedules(PROJECT) == []
    with pytest.raises(NotFound, match="has no schedule 'on-data'"):
        backend.get_schedule(PROJECT, "on-data")
    assert [actions(backend, a) for a in ("schedule.pause", "schedule.resume")] == [1, 1]
    assert actions(backend, "schedule.remove") == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"cron": "61 * * * *"},
            InvalidInput,
            "'61 * * * *': minute must be 0-59; e.g. '0 6 * * *' runs at 06:00 UTC daily.",
        ),
        ({"cron": "0 6 * *"}, InvalidInput, "'0 6 * *' has 4 field(s); a cron expression has 5"),
        ({"cron": "0 0 30 2 *"}, InvalidInput, "'0 0 30 2 *' names no time that exists"),
        ({"cron": "0 6 * * *", "pipeline": "flows:da\x00ta"}, InvalidInput, "a NUL character"),
        ({"on": "dataset:nope"}, NotFound, "project 'churn' has no dataset 'nope'"),
        ({"on": "alert:nope"}, NotFound, "project 'churn' has no alert rule 'nope'"),
        ({"on": "promotion:nope@staging"}, NotFound, "project 'churn' has no model 'nope'"),
        ({"on": "promotion:churn@prod"}, InvalidInput, "ENV one of development, staging"),
        ({"on": "deploy:churn"}, InvalidInput, "is not a trigger; write dataset:customers"),
        ({}, InvalidInput, "give a schedule exactly one trigger"),
        ({"cron": "0 6 * * *", "on": "dataset:x"}, InvalidInput, "exactly one trigger"),
        ({"cron": "0 6 * * *", "name": "no spaces"}, InvalidInput, "schedule name 'no spaces'"),
        ({"cron": "0 6 * * *", "pipeline": "flows"}, InvalidInput, "does not name a pipeline"),
    ],
)
def test_bad_input_says_what_to_fix_and_stores_nothing(
    backend: LocalBackend, kwargs: dict[str, str], error: type[Exception], message: str
) -> None:
    kwargs = dict(kwargs)  # the parameters are shared by the SQLite and PostgreSQL runs
    name = kwargs.pop("name", "s")
    pipeline = kwargs.pop("pipeline", "flows:data")
    with pytest.raises(error) as caught:
        backend.add_schedule(PROJECT, name, pipeline, **kwargs)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert backend.list_schedules(PROJECT) == []
    assert actions(backend, "schedule.add") == 0


def test_a_second_schedule_of_the_same_name_is_refused(backend: LocalBackend) -> None:
    backend.add_schedule(PROJECT, "nightly", "flows:data", cron="0 6 * * *")
    with pytest.raises(Conflict, match="already has a schedule 'nightly'"):
        backend.add_schedule(PROJECT, "nightly", "flows:other", cron="0 7 * * *")
    assert [s.pipeline for s in backend.list_schedules(PROJECT)] == ["flows:data"]
