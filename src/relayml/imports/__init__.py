"""Imports from other platforms into relayml: MLflow tracking stores and model registries."""

from relayml.imports.mlflow_import import (
    RUN_ID_TAG,
    STATUS_TAG,
    ImportProgress,
    ImportReport,
    import_mlflow,
    relay_name,
)
from relayml.imports.mlflow_source import MlflowSource, open_mlflow_source

__all__ = [
    "RUN_ID_TAG",
    "STATUS_TAG",
    "ImportProgress",
    "ImportReport",
    "MlflowSource",
    "import_mlflow",
    "open_mlflow_source",
    "relay_name",
]
