"""The dataset operations of HttpBackend: the same calls as LocalDataOps, over HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from relayml.domain.data import CheckOutcome, DataCheckReport, Dataset, DatasetVersion

__all__ = ["HttpDataOps"]


def _q(part: str) -> str:
    return quote(part, safe="")


class HttpDataOps:
    """Datasets, their versions and data check reports, sent to a relay server."""

    def _json(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # provided by HttpBackend

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
        body = {
            "content_hash": content_hash,
            "sha256": sha256,
            "rows": rows,
            "columns": columns,
            "schema": schema,
            "profile": profile,
            "source": source,
            "description": description,
        }
        path = f"/projects/{_q(project)}/datasets/{_q(name)}/versions"
        result: DatasetVersion = self._json("POST", path, DatasetVersion, json=body)
        return result

    def get_dataset_version(self, project: str, ref: str) -> DatasetVersion:
        """The version a reference names: customers@3, customers@latest or customers."""
        path = f"/projects/{_q(project)}/dataset-version"
        result: DatasetVersion = self._json("GET", path, DatasetVersion, params={"ref": ref})
        return result

    def list_datasets(self, project: str) -> list[Dataset]:
        """A project's datasets, by name."""
        path = f"/projects/{_q(project)}/datasets"
        result: list[Dataset] = self._json("GET", path, list[Dataset])
        return result

    def list_dataset_versions(self, project: str, name: str) -> list[DatasetVersion]:
        """A dataset's versions, newest first."""
        path = f"/projects/{_q(project)}/datasets/{_q(name)}/versions"
        result: list[DatasetVersion] = self._json("GET", path, list[DatasetVersion])
        return result

    def record_data_check(
        self, project: str, ref: str, spec: dict[str, Any], outcomes: Sequence[CheckOutcome]
    ) -> DataCheckReport:
        """Store the outcomes of a data check spec run on a version."""
        body = {
            "ref": ref,
            "spec": spec,
            "outcomes": [CheckOutcome.model_validate(o).model_dump(mode="json") for o in outcomes],
        }
        path = f"/projects/{_q(project)}/data-checks"
        result: DataCheckReport = self._json("POST", path, DataCheckReport, json=body)
        return result

    def list_data_checks(self, project: str, ref: str) -> list[DataCheckReport]:
        """A version's data check reports, newest first."""
        path = f"/projects/{_q(project)}/data-checks"
        result: list[DataCheckReport] = self._json(
            "GET", path, list[DataCheckReport], params={"ref": ref}
        )
        return result
