"""The dataset operations of LocalBackend (in-process, on the store and the blob store)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relayml.artifacts import BlobStore
from relayml.data import datasets
from relayml.domain.data import CheckOutcome, DataCheckReport, Dataset, DatasetVersion
from relayml.store import Store

__all__ = ["LocalDataOps"]


class LocalDataOps:
    """Datasets, their versions and data check reports, run in this process."""

    store: Store
    blobs: BlobStore
    actor: str

    def create_dataset_version(
        self,
        project: str,
        name: str,
        *,
        content_hash: str,
        sha256: str,
        rows: int,
        columns: int,
        schema: list[dict[str, Any]],
        profile: dict[str, Any],
        source: dict[str, Any],
        description: str = "",
    ) -> DatasetVersion:
        """Register a version whose Parquet is uploaded; the same content gives the same version."""
        return datasets.create_version(
            self.store,
            self.blobs,
            self.actor,
            project,
            name,
            content_hash=content_hash,
            sha256=sha256,
            rows=rows,
            columns=columns,
            schema=schema,
            profile=profile,
            source=source,
            description=description,
        )

    def get_dataset_version(self, project: str, ref: str) -> DatasetVersion:
        """The version a reference names: customers@3, customers@latest or customers."""
        return datasets.get_version(self.store, project, ref)

    def list_datasets(self, project: str) -> list[Dataset]:
        """A project's datasets, by name."""
        return datasets.list_datasets(self.store, project)

    def list_dataset_versions(self, project: str, name: str) -> list[DatasetVersion]:
        """A dataset's versions, newest first."""
        return datasets.list_versions(self.store, project, name)

    def record_data_check(
        self, project: str, ref: str, spec: dict[str, Any], outcomes: Sequence[CheckOutcome]
    ) -> DataCheckReport:
        """Store the outcomes of a data check spec run on a version."""
        return datasets.record_check(self.store, self.actor, project, ref, spec, outcomes)

    def list_data_checks(self, project: str, ref: str) -> list[DataCheckReport]:
        """A version's data check reports, newest first."""
        return datasets.list_checks(self.store, project, ref)
