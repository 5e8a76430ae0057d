"""Datasets in the store: named datasets, immutable content-addressed versions, check reports.

The bytes were uploaded already (:func:`relayml.data.sources.log_dataset`); these functions
record what was logged. The same content (hash) logged again is the version it was before.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from relayml.artifacts import BlobStore
from relayml.domain.clock import now_ms
from relayml.domain.data import (
    CheckOutcome,
    DataCheckReport,
    Dataset,
    DatasetRef,
    DatasetVersion,
    parse_dataset_ref,
)
from relayml.domain.validation import check_name
from relayml.errors import InvalidInput
from relayml.governance import audit
from relayml.lineage.origins import check_source, record_dataset_version
from relayml.projects import project_id
from relayml.store import Store
from relayml.store.schema import data_checks, dataset_versions, datasets
from relayml.store.versioned import Versioned, retry_on_race

__all__ = [
    "create_version",
    "get_version",
    "list_checks",
    "list_datasets",
    "list_versions",
    "recent_checks",
    "record_check",
    "version_row",
]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


_HINT = "Log one with relay.log_dataset(name, data)."

# Datasets as named things with immutable numbered versions (customers@1, customers@2, ...).
DATASETS = Versioned(parse_dataset_ref, datasets, dataset_versions, "dataset_id", "dataset", _HINT)


def version_row(conn: Connection, project: str, pid: int, ref: str | DatasetRef) -> Any:
    """The row of the version a reference names (a version number, or the latest)."""
    parsed = DATASETS.ref(ref)
    dataset = DATASETS.name_row(conn, pid, project, parsed.name)
    return DATASETS.version_row(conn, dataset.id, parsed.name, parsed.version)


def _version(project: str, name: str, row: Any) -> DatasetVersion:
    return DatasetVersion(
        id=row.id,
        project=project,
        dataset=name,
        version=row.version,
        content_hash=row.content_hash,
        sha256=row.sha256,
        rows=row.rows,
        columns=row.columns,
        table_schema=list(row.schema),
        profile=row.profile or {},
        source=row.source or {},
        created_by=row.created_by,
        created_at=audit.to_datetime(row.created_at),
    )


def _dataset(conn: Connection, project: str, row: Any) -> Dataset:
    return Dataset(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        created_at=audit.to_datetime(row.created_at),
        latest_version=DATASETS.latest(conn, row.id),
    )


def _check_json(value: Any, where: str) -> None:
    """Refuse what JSON columns cannot hold on every database (NaN, infinities, odd keys)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{where} holds {value}; store null for a missing number.")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{where} has a key {key!r} that is not a string.")
            _check_json(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]")
    elif not (value is None or isinstance(value, str | int | float | bool)):
        raise InvalidInput(f"{where} holds a {type(value).__name__}, which is not JSON.")


def _check_facts(facts: dict[str, Any], blobs: BlobStore) -> None:
    for key in ("content_hash", "sha256"):
        if not isinstance(facts[key], str) or not _HEX64.match(facts[key]):
            raise InvalidInput(f"{key} must be a sha256 hex digest (64 lowercase hex characters).")
    if not blobs.exists(facts["sha256"]):
        raise InvalidInput(
            f"the dataset's Parquet blob (sha256 {facts['sha256']}) is not in the artifact store; "
            "upload it before registering the version."
        )
    if facts["rows"] < 0 or facts["columns"] < 1:
        raise InvalidInput("a dataset version has rows >= 0 and at least one column.")
    schema = facts["schema"]
    if len(schema) != facts["columns"]:
        raise InvalidInput(
            f"the schema lists {len(schema)} columns, but the version says {facts['columns']}."
        )
    for index, entry in enumerate(schema):
        ok = isinstance(entry, dict) and isinstance(entry.get("name"), str)
        if not ok or not isinstance(entry.get("type"), str):
            raise InvalidInput(f"schema[{index}] must be {{name, type, nullable}}, got {entry!r}.")
    for key in ("schema", "profile", "source"):
        _check_json(facts[key], key)


def create_version(
    store: Store,
    blobs: BlobStore,
    actor: str,
    project: str,
    name: str,
    *,
    content_hash: str,
    sha256: str,
    rows: int,
    columns: int,
    schema: Sequence[dict[str, Any]],
    profile: dict[str, Any],
    source: dict[str, Any],
    description: str = "",
) -> DatasetVersion:
    """Record a version whose Parquet is uploaded; the same content gives the existing version."""
    check_name(name, "dataset")
    facts = {
        "content_hash": content_hash,
        "sha256": sha256,
        "rows": int(rows),
        "columns": int(columns),
        "schema": [dict(entry) if isinstance(entry, dict) else entry for entry in schema],
        "profile": profile,
        "source": source,
        "description": description,
    }
    _check_facts(facts, blobs)
    # two writers may race to create the dataset
    return retry_on_race(lambda: _insert_version(store, actor, project, name, facts))


def _ensure_dataset(
    conn: Connection, actor: str, project: str, pid: int, name: str, description: str
) -> int:
    row, dataset_id = DATASETS.ensure_name(
        conn, pid, name, datasets.c.description, description=description
    )
    if row is None:
        audit.record(
            conn,
            actor=actor,
            action="dataset.create",
            entity_kind="dataset",
            entity_id=f"{project}/{name}",
            after={"name": name, "description": description},
        )
        return dataset_id
    if description and description != row.description:
        conn.execute(
            update(datasets).where(datasets.c.id == row.id).values(description=description)
        )
        audit.record(
            conn,
            actor=actor,
            action="dataset.update",
            entity_kind="dataset",
            entity_id=f"{project}/{name}",
            before={"description": row.description},
            after={"description": description},
        )
    return int(row.id)


def _insert_version(
    store: Store, actor: str, project: str, name: str, facts: dict[str, Any]
) -> DatasetVersion:
    with store.write() as conn:
        pid = project_id(conn, project)
        check_source(conn, pid, facts["source"])
        dataset_id = _ensure_dataset(conn, actor, project, pid, name, facts["description"])
        same = conn.execute(
            select(dataset_versions).where(
                dataset_versions.c.dataset_id == dataset_id,
                dataset_versions.c.content_hash == facts["content_hash"],
            )
        ).first()
        if same is not None:
            return _version(project, name, same)
        number = DATASETS.insert_version(
            conn,
            dataset_id,
            content_hash=facts["content_hash"],
            sha256=facts["sha256"],
            rows=facts["rows"],
            columns=facts["columns"],
            schema=facts["schema"],
            profile=facts["profile"],
            source=facts["source"],
            created_by=actor,
            created_at=now_ms(),
        )
        audit.record(
            conn,
            actor=actor,
            action="dataset.create_version",
            entity_kind="dataset_version",
            entity_id=f"{project}/{name}@{number}",
            after={
                "content_hash": facts["content_hash"],
                "sha256": facts["sha256"],
                "rows": facts["rows"],
                "columns": facts["columns"],
                "source": facts["source"],
            },
        )
        key = f"{project}/{name}@{number}"
        record_dataset_version(conn, pid, key, f"{name}@{number}", facts["source"])
        row = version_row(conn, project, pid, DatasetRef(name=name, version=number))
        return _version(project, name, row)


def get_version(store: Store, project: str, ref: str | DatasetRef) -> DatasetVersion:
    """The version a reference names: 'customers@3', 'customers@latest' or 'customers'."""
    parsed = DATASETS.ref(ref)
    with store.read() as conn:
        row = version_row(conn, project, project_id(conn, project), parsed)
        return _version(project, parsed.name, row)


def list_versions(store: Store, project: str, name: str) -> list[DatasetVersion]:
    """Every version of a dataset, newest first."""
    with store.read() as conn:
        dataset = DATASETS.name_row(conn, project_id(conn, project), project, name)
        rows = conn.execute(
            select(dataset_versions)
            .where(dataset_versions.c.dataset_id == dataset.id)
            .order_by(dataset_versions.c.version.desc())
        )
        return [_version(project, name, r) for r in rows]


def list_datasets(store: Store, project: str) -> list[Dataset]:
    """Every dataset of a project, by name."""
    with store.read() as conn:
        pid = project_id(conn, project)
        rows = conn.execute(
            select(datasets).where(datasets.c.project_id == pid).order_by(datasets.c.name)
        )
        return [_dataset(conn, project, r) for r in rows]


def _report(name: str, version: int, row: Any) -> DataCheckReport:
    return DataCheckReport(
        id=row.id,
        dataset=name,
        version=version,
        passed=bool(row.passed),
        outcomes=[CheckOutcome.model_validate(o) for o in row.results],
        created_by=row.created_by,
        created_at=audit.to_datetime(row.created_at),
    )


def record_check(
    store: Store,
    actor: str,
    project: str,
    ref: str | DatasetRef,
    spec: dict[str, Any],
    outcomes: Sequence[CheckOutcome],
) -> DataCheckReport:
    """Store the outcomes of a check spec run on a version."""
    entries = spec.get("checks") if isinstance(spec, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidInput("spec must be a check spec: {'checks': [{...}, ...]}.")
    if not outcomes:
        raise InvalidInput("a data check report needs at least one outcome.")
    results = [CheckOutcome.model_validate(o).model_dump(mode="json") for o in outcomes]
    _check_json(spec, "spec")
    _check_json(results, "outcomes")
    passed = all(o["passed"] for o in results)
    parsed = DATASETS.ref(ref)
    with store.write() as conn:
        version = version_row(conn, project, project_id(conn, project), parsed)
        created = conn.execute(
            data_checks.insert().values(
                dataset_version_id=version.id,
                spec=spec,
                results=results,
                passed=int(passed),
                created_by=actor,
                created_at=now_ms(),
            )
        )
        check_id = int(created.inserted_primary_key[0])  # type: ignore[index]
        audit.record(
            conn,
            actor=actor,
            action="dataset.check",
            entity_kind="dataset_version",
            entity_id=f"{project}/{parsed.name}@{version.version}",
            after={
                "check_id": check_id,
                "passed": passed,
                "failed": [o["name"] for o in results if not o["passed"]],
            },
        )
        row = conn.execute(select(data_checks).where(data_checks.c.id == check_id)).one()
        return _report(parsed.name, version.version, row)


def list_checks(store: Store, project: str, ref: str | DatasetRef) -> list[DataCheckReport]:
    """The check reports of a version, newest first."""
    parsed = DATASETS.ref(ref)
    with store.read() as conn:
        version = version_row(conn, project, project_id(conn, project), parsed)
        rows = conn.execute(
            select(data_checks)
            .where(data_checks.c.dataset_version_id == version.id)
            .order_by(data_checks.c.id.desc())
        )
        return [_report(parsed.name, version.version, r) for r in rows]


def recent_checks(
    store: Store, project: str, *, failed_only: bool = False, limit: int = 10
) -> list[DataCheckReport]:
    """A project's newest check reports over all its datasets (failed ones only if asked)."""
    if not 1 <= limit <= 1000:
        raise InvalidInput(f"limit must be from 1 to 1000, not {limit}.")
    with store.read() as conn:
        pid = project_id(conn, project)
        query = (
            select(data_checks, datasets.c.name.label("dataset_name"), dataset_versions.c.version)
            .join(dataset_versions, dataset_versions.c.id == data_checks.c.dataset_version_id)
            .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
            .where(datasets.c.project_id == pid)
            .order_by(data_checks.c.id.desc())
            .limit(limit)
        )
        if failed_only:
            query = query.where(data_checks.c.passed == 0)
        return [_report(r.dataset_name, r.version, r) for r in conn.execute(query)]
