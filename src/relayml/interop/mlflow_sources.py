"""Where an MLflow model version's files are, and what its MLmodel file says.

A version's source is a logged model (``models:/m-...``), an artifact-proxy path
(``mlflow-artifacts:/<exp>/<run id>/artifacts/<path>`` or ``.../models/<id>/artifacts``) or a
run path (``runs:/<run id>/<path>``); the files are already relayml blobs, so registering a
version copies no bytes. The MLmodel file gives the flavor facts, signature and requirements.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from relayml.artifacts import BlobStore
from relayml.domain.models import ColumnSpec, ModelFile, Signature
from relayml.errors import InvalidInput, NotFound
from relayml.interop import mlflow_logged_models as logged_models
from relayml.store import Store
from relayml.tracking import artifacts as artifact_service

__all__ = ["ModelSource", "describe", "resolve"]

_TYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
    "string": "string",
    "binary": "bytes",
    "datetime": "datetime64[ns]",
}


@dataclass(frozen=True)
class ModelSource:
    """A version's files (paths relative to the model folder), run and logged model."""

    storage: str
    files: list[ModelFile]
    run_id: str | None
    logged_model_id: str | None


def _from_logged_model(store: Store, model_id: str, experiment: str) -> ModelSource:
    model = logged_models.get(store, model_id)
    files = [
        ModelFile(path=p, sha256=s, size=n) for p, s, n in logged_models.files_of(store, model_id)
    ]
    storage = f"mlflow-artifacts:/{experiment}/models/{model_id}/artifacts"
    return ModelSource(storage, files, model.run_id, model_id)


def _from_run(store: Store, run_id: str, folder: str, storage: str) -> ModelSource:
    folder = folder.strip("/")
    found = (
        artifact_service.list_artifacts(store, run_id, folder)
        if folder
        else (artifact_service.list_artifacts(store, run_id))
    )
    cut = len(folder) + 1 if folder else 0
    files = [ModelFile(path=a.path[cut:], sha256=a.sha256, size=a.size) for a in found]
    return ModelSource(storage, [f for f in files if f.path], run_id, None)


def resolve(store: Store, source: str, model_id: str | None) -> ModelSource:
    """The files a version's source names; InvalidInput for a source relayml cannot read."""
    if model_id:
        exp = logged_models.get(store, model_id).experiment_id
        return _from_logged_model(store, model_id, str(exp))
    if source.startswith("models:/m-"):
        mid = source.removeprefix("models:/").strip("/")
        return _from_logged_model(store, mid, str(logged_models.get(store, mid).experiment_id))
    if source.startswith("mlflow-artifacts:"):
        parts = [p for p in source.removeprefix("mlflow-artifacts:").strip("/").split("/") if p]
        if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
            return _from_logged_model(store, parts[2], parts[0])
        if len(parts) >= 3 and parts[2] == "artifacts":
            return _from_run(store, parts[1], "/".join(parts[3:]), source)
    if source.startswith("runs:/"):
        run_id, _, folder = source.removeprefix("runs:/").partition("/")
        experiment = "0"
        return _from_run(
            store, run_id, folder, f"mlflow-artifacts:/{experiment}/{run_id}/artifacts/{folder}"
        )
    raise InvalidInput(
        f"model version source {source!r} is not one relayml can read: log the model through "
        "relay server's artifact proxy (models:/m-..., runs:/<run id>/<path> or "
        "mlflow-artifacts:/...)."
    )


def _columns(spec: Any) -> list[ColumnSpec]:
    items = json.loads(spec) if isinstance(spec, str) else spec or []
    found = []
    for i, item in enumerate(items):
        if item.get("type") == "tensor":
            dtype = str(item.get("tensor-spec", {}).get("dtype", "float64"))
        else:
            dtype = _TYPES.get(str(item.get("type")), "string")
        found.append(ColumnSpec(name=str(item.get("name") or i), dtype=dtype))
    return found


def describe(
    blobs: BlobStore, files: list[ModelFile]
) -> tuple[dict[str, Any], Signature, list[str]]:
    """(relayml details, signature, requirements) from a model's MLmodel and requirements.txt."""
    by_path = {f.path: f for f in files}
    if "MLmodel" not in by_path:
        raise NotFound(
            "the model's files hold no MLmodel file: upload the whole model folder before "
            "registering a version of it."
        )
    mlmodel = yaml.safe_load(blobs.get_bytes(by_path["MLmodel"].sha256)) or {}
    flavors = mlmodel.get("flavors") or {}
    details: dict[str, Any] = {"format": "mlflow", "mlflow_flavors": sorted(flavors)}
    sklearn = flavors.get("sklearn")
    if sklearn:
        details.update(
            loader="sklearn",
            file=str(sklearn.get("pickled_model", "model.pkl")),
            serialization=str(sklearn.get("serialization_format", "cloudpickle")),
        )
        if sklearn.get("skops_trusted_types"):
            details["skops_trusted_types"] = list(sklearn["skops_trusted_types"])
    signature = mlmodel.get("signature") or {}
    inputs = _columns(signature.get("inputs"))
    outputs = _columns(signature.get("outputs")) or [ColumnSpec(name="prediction", dtype="float64")]
    requirements: list[str] = []
    if "requirements.txt" in by_path:
        text = blobs.get_bytes(by_path["requirements.txt"].sha256).decode("utf-8", "replace")
        requirements = [
            line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
        ]
    return details, Signature(inputs=inputs, outputs=outputs, output_shape=[-1]), requirements
