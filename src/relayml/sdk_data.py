"""The data part of the SDK: versioned datasets and data checks.

version = relay.log_dataset("customers", "customers.csv")     # customers@1
frame = relay.load_dataset("customers@latest")
report = relay.check_data("customers@1", "checks.yaml")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from relayml.domain.data import DataCheckReport, DatasetVersion
from relayml.domain.lineage import LineageGraph
from relayml.sdk import current_project, get_backend

__all__ = ["check_data", "get_lineage", "load_dataset", "log_dataset"]


def log_dataset(
    name: str,
    data: Any,
    *,
    description: str = "",
    source: Mapping[str, Any] | None = None,
    column_types: Mapping[str, str] | None = None,
    project: str | None = None,
) -> DatasetVersion:
    """Store data (pandas, Arrow, Parquet/CSV path, or {"sql", "url"}) as a dataset version."""
    from relayml.data import sources

    return sources.log_dataset(
        get_backend(),
        project or current_project(),
        name,
        data,
        description=description,
        source=source,
        column_types=column_types,
    )


def load_dataset(
    ref: str, *, as_: Literal["pandas", "arrow"] = "pandas", project: str | None = None
) -> Any:
    """Load 'customers@3', 'customers@latest' or 'customers' as pandas or Arrow."""
    from relayml.data import sources

    return sources.load_dataset(get_backend(), project or current_project(), ref, as_=as_)


def check_data(ref: str, spec: Any, *, project: str | None = None) -> DataCheckReport:
    """Run data checks (a YAML/JSON file or a mapping) on a dataset version and store them."""
    from relayml.data import checks

    return checks.run_checks(get_backend(), project or current_project(), ref, spec)


def get_lineage(kind: str, key: str, *, depth: int = 3, direction: str = "both") -> LineageGraph:
    """The lineage graph around a node, e.g. lineage("model_version", "churn/churn/2")."""
    return get_backend().lineage(kind, key, depth=depth, direction=direction)
