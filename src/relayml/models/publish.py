"""Model work done next to the user's code: log a model, load it back, evaluate it.

These run where the model lives (the SDK's process) and talk to any Backend, so the same code
serves the embedded store and a remote `relay server`.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from relayml.artifacts.blobs import sha256_of_file
from relayml.domain.feature_inputs import DETAILS_KEY
from relayml.domain.models import Evaluation, ModelFile, ModelVersion
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput
from relayml.models import flavors
from relayml.models.evaluation import evaluate_predictions
from relayml.models.predictor import Predictor
from relayml.models.requirements import requirements_for
from relayml.models.signature import infer_signature
from relayml.tracking.context import capture_system

__all__ = ["evaluate", "load_model", "log_model", "read_frame"]


def log_model(
    backend: Backend,
    project: str,
    model: Any,
    name: str,
    input_example: Any,
    *,
    run_id: str | None = None,
    description: str = "",
    datasets: Sequence[str] = (),
    feature_inputs: Sequence[str] | Mapping[str, str] | None = None,
) -> ModelVersion:
    """Serialise a model with its signature and requirements and register a new version.

    feature_inputs: input columns the model server looks up online by entity key
    (['customer:tenure'] or {'tenure': 'customer:tenure'}); checked against the registry.
    """
    if input_example is None:
        raise InvalidInput(
            "log_model needs an input_example (a few rows of what the model takes, e.g. X[:5]): "
            "the signature and the serving checks are inferred from it."
        )
    flavor = flavors.detect_flavor(model)
    signature = infer_signature(model, input_example)
    online = None
    if feature_inputs is not None:
        from relayml.features.model_inputs import resolve_feature_inputs

        online = resolve_feature_inputs(backend, project, signature, feature_inputs)
    requirements = requirements_for(model, flavor)
    with tempfile.TemporaryDirectory(prefix="relay-model-") as tmp:
        folder = Path(tmp)
        details = flavors.save_model(model, flavor, folder)
        files = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            sha256, size = backend.upload_blob(path)
            files.append(
                ModelFile(path=path.relative_to(folder).as_posix(), sha256=sha256, size=size)
            )
    resolved = [backend.get_dataset_version(project, ref).ref for ref in datasets]
    git = capture_system().get("git") or {}
    details = {
        **details,
        "code": {k: git.get(k) for k in ("commit", "branch", "dirty") if k in git},
        "datasets": resolved,
        "python_class": f"{type(model).__module__}.{type(model).__qualname__}",
    }
    if online is not None:
        details[DETAILS_KEY] = online.model_dump(mode="json")
    return backend.create_model_version(
        project,
        name,
        flavor=flavor,
        files=files,
        signature=signature,
        requirements=requirements,
        details=details,
        run_id=run_id,
        description=description,
    )


def _cache_root(backend: Backend) -> Path:
    settings = getattr(backend, "settings", None)
    home = Path(settings.home) if settings is not None else Path(".relay")
    return home / "cache" / "models"


def fetch_files(backend: Backend, version: ModelVersion, folder: Path) -> Path:
    """Make folder hold exactly the version's files, each checked against its hash."""
    for f in version.files:
        target = folder / f.path
        if target.is_file() and sha256_of_file(target)[0] == f.sha256:
            continue  # a verified cached copy
        backend.fetch_blob(f.sha256, target)  # raises CorruptArtifact if the store's copy changed
    return folder


def load_model(backend: Backend, project: str, ref: str) -> Predictor:
    """The version a reference names, as a Predictor; refuses files that fail their hashes."""
    version = backend.get_model_version(project, ref)
    key = hashlib.sha256(json.dumps([f.sha256 for f in version.files]).encode()).hexdigest()[:16]
    folder = fetch_files(backend, version, _cache_root(backend) / key)
    native = flavors.load_model(version.flavor, folder, version.details)
    return Predictor(
        native,
        version.signature,
        name=version.model,
        version=version.version,
        flavor=version.flavor,
        details=version.details,
    )


def read_frame(data: Any) -> tuple[pd.DataFrame, str]:
    """A DataFrame and a name for the data: a DataFrame, an Arrow table, or a CSV/Parquet path."""
    if isinstance(data, pd.DataFrame):
        digest = hashlib.sha256(pd.util.hash_pandas_object(data, index=False).values.tobytes())
        return data, f"frame:{digest.hexdigest()[:12]}"
    if hasattr(data, "to_pandas") and hasattr(data, "schema"):  # a pyarrow Table
        return read_frame(data.to_pandas())
    if isinstance(data, str | Path):
        path = Path(data)
        if not path.is_file():
            raise InvalidInput(
                f"{data!s} is not a file. Pass a DataFrame, an Arrow table, a CSV or Parquet "
                "file path, or a dataset logged with relay.log_dataset (customers@2)."
            )
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path), path.name
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path), path.name
        raise InvalidInput(f"{path.name}: only .csv and .parquet files can be read.")
    raise InvalidInput(
        f"cannot evaluate on a {type(data).__name__}; pass a DataFrame, an Arrow table, or a "
        "CSV or Parquet path."
    )


def evaluate(
    backend: Backend,
    project: str,
    ref: str,
    data: Any,
    target: str,
    *,
    by: Sequence[str] = (),
    dataset: str | None = None,
) -> Evaluation:
    """Predict on data, compute metrics (overall, per segment, in KPIs) and store them."""
    if isinstance(data, str) and not Path(data).exists():  # a dataset: customers_holdout@2
        from relayml.data.sources import load_dataset

        version = backend.get_dataset_version(project, data)
        frame, label = load_dataset(backend, project, version.ref), version.ref
    else:
        frame, label = read_frame(data)
    predictor = load_model(backend, project, ref)
    columns = [c.name for c in predictor.signature.inputs]
    if predictor.signature.input_kind == "dataframe":
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InvalidInput(
                f"the evaluation data lacks the model's input columns: {', '.join(missing)}."
            )
        features: Any = frame[columns]
    else:
        features = frame.drop(columns=[target, *by], errors="ignore").to_numpy()
    if target not in frame.columns:
        raise InvalidInput(
            f"the target column {target!r} is not in the data (columns: "
            f"{', '.join(map(str, frame.columns[:20]))})."
        )
    y_pred = predictor.predict(features)
    y_proba = predictor.predict_proba(features) if predictor.has_proba else None
    kpis = backend.get_project(project).kpis
    result = evaluate_predictions(
        frame,
        target,
        y_pred,
        y_proba,
        classes=predictor.signature.classes,
        has_proba=predictor.has_proba,
        by=by,
        kpis=kpis,
    )
    result["dataset"] = dataset or label
    return backend.create_evaluation(project, f"{predictor.name}/{predictor.version}", result)
