"""MLflow's model format (a folder with an MLmodel file) described in relayml's terms.

| MLflow flavor                          | relayml flavor | details["format"]        |
|----------------------------------------|----------------|--------------------------|
| sklearn (pickle or cloudpickle)        | sklearn        | cloudpickle (model.pkl)  |
| xgboost                                | xgboost        | xgboost-json             |
| lightgbm (a Booster saved as text)     | lightgbm       | lightgbm-text            |
| lightgbm (an sklearn wrapper, pickled) | lightgbm       | cloudpickle              |
| onnx                                   | onnx           | onnx                     |
| anything else (skops, custom pyfunc)   | pyfunc         | mlflow (kept, not served)|

relayml loads and serves the first five with its own loaders (relayml.models.flavors), without
MLflow installed; the last keeps the files so that MLflow can still load them.
"""

from __future__ import annotations

import importlib
import json
import pickletools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from relayml.domain.models import ColumnSpec, Signature
from relayml.errors import InvalidInput

__all__ = ["MlflowModelFormat", "read_mlflow_model", "signature_from_mlflow"]

# MLflow's column types (mlflow.types.DataType) in relayml's dtype vocabulary.
_DTYPES = {
    "double": "float64",
    "float": "float64",
    "long": "int64",
    "integer": "int64",
    "boolean": "bool",
    "string": "string",
    "binary": "bytes",
    "datetime": "datetime64[ns]",
}
_NUMPY = {"float32": "float64", "float64": "float64", "int32": "int64", "int64": "int64"}


@dataclass(frozen=True)
class MlflowModelFormat:
    """How relayml registers one MLflow model folder: flavor, details, signature, requirements."""

    flavor: str
    details: dict[str, Any]
    signature: Signature
    requirements: list[str] = field(default_factory=list)


def _dtype(spec: dict[str, Any]) -> str:
    kind = str(spec.get("type", ""))
    if kind == "tensor":
        numpy = str((spec.get("tensor-spec") or {}).get("dtype", "float64"))
        return _NUMPY.get(numpy, numpy)
    return _DTYPES.get(kind, kind or "string")


def _columns(specs: list[dict[str, Any]]) -> tuple[list[ColumnSpec], bool, list[int]]:
    """(columns, is a tensor, tensor shape) of an MLflow schema's JSON list."""
    if len(specs) == 1 and specs[0].get("type") == "tensor":
        shape = [int(n) for n in (specs[0].get("tensor-spec") or {}).get("shape", [-1])]
        width = shape[1] if len(shape) == 2 and shape[1] > 0 else 1
        name = specs[0].get("name")
        names = [f"f{i}" for i in range(width)] if width > 1 or not name else [str(name)]
        return [ColumnSpec(name=n, dtype=_dtype(specs[0])) for n in names], True, shape
    columns = [
        ColumnSpec(
            name=str(spec.get("name") or f"f{i}"),
            dtype=_dtype(spec),
            nullable=not spec.get("required", True),
        )
        for i, spec in enumerate(specs)
    ]
    return columns, False, [-1] if len(columns) <= 1 else [-1, len(columns)]


def signature_from_mlflow(document: dict[str, Any] | None) -> Signature:
    """relayml's Signature of an MLmodel 'signature' entry (inputs/outputs as JSON strings)."""
    document = document or {}
    try:
        inputs = json.loads(document["inputs"]) if document.get("inputs") else []
        outputs = json.loads(document["outputs"]) if document.get("outputs") else []
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"the model's MLmodel has a signature that is not JSON: {exc}") from exc
    in_columns, in_tensor, _ = _columns(inputs)
    out_columns, _, out_shape = _columns(outputs)
    if not out_columns:
        out_columns = [ColumnSpec(name="prediction", dtype="float64")]
    elif len(out_columns) == 1 and out_columns[0].name == "f0":  # MLflow names none
        out_columns = [out_columns[0].model_copy(update={"name": "prediction"})]
    return Signature(
        inputs=in_columns,
        input_kind="ndarray" if in_tensor else "dataframe",
        outputs=out_columns,
        output_shape=out_shape,
    )


def _requirements(folder: Path) -> list[str]:
    path = folder / "requirements.txt"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    # relayml serves the model itself: MLflow is not needed at serving time.
    return [
        line
        for line in lines
        if line and not line.startswith(("#", "-")) and not line.startswith("mlflow")
    ]


def _flavor(flavors: dict[str, Any], folder: Path) -> tuple[str, dict[str, Any]]:
    def present(name: Any) -> bool:
        return isinstance(name, str) and (folder / name).is_file()

    sklearn = flavors.get("sklearn") or {}
    pickled = sklearn.get("serialization_format") in ("pickle", "cloudpickle")
    if pickled and present(sklearn.get("pickled_model")):
        return "sklearn", {"format": "cloudpickle", "file": sklearn["pickled_model"]}
    xgb = flavors.get("xgboost") or {}
    if present(xgb.get("data")):
        return "xgboost", {
            "format": "xgboost-json",
            "file": xgb["data"],
            "class": xgb.get("model_class", ""),
        }
    lgb = flavors.get("lightgbm") or {}
    if present(lgb.get("data")):
        if str(lgb["data"]).endswith(".pkl"):
            return "lightgbm", {"format": "cloudpickle", "file": lgb["data"]}
        return "lightgbm", {"format": "lightgbm-text", "file": lgb["data"]}
    onnx = flavors.get("onnx") or {}
    if present(onnx.get("data")):
        return "onnx", {"format": "onnx", "file": onnx["data"]}
    return "pyfunc", {"format": "mlflow"}


def pickled_class(path: Path) -> str | None:
    """The module.Class of the object a pickle holds, read without unpickling it."""
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(path.read_bytes()):
            if opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                return f"{strings[-2]}.{strings[-1]}"
            if opcode.name == "GLOBAL" and isinstance(arg, str):
                return arg.replace(" ", ".")
            if isinstance(arg, str):
                strings.append(arg)
    except (ValueError, OSError):
        return None
    return None


def _task(signature: Signature, kind: str | None) -> Signature:
    """Mark a scikit-learn classifier's signature so that relayml serves its probabilities."""
    module, _, name = (kind or "").rpartition(".")
    if not module.startswith("sklearn."):
        return signature
    from sklearn.base import ClassifierMixin, RegressorMixin

    cls = getattr(importlib.import_module(module), name, None)
    if not isinstance(cls, type):
        return signature
    if issubclass(cls, ClassifierMixin):
        has_proba = callable(getattr(cls, "predict_proba", None))
        return signature.model_copy(update={"task": "classification", "has_proba": has_proba})
    if issubclass(cls, RegressorMixin):
        return signature.model_copy(update={"task": "regression"})
    return signature


def read_mlflow_model(folder: Path) -> MlflowModelFormat:
    """Describe an MLflow model folder; InvalidInput if it has no readable MLmodel file."""
    path = folder / "MLmodel"
    if not path.is_file():
        raise InvalidInput(f"{folder} is not an MLflow model: it has no MLmodel file.")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the MLmodel file in {folder} is not YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidInput(f"the MLmodel file in {folder} is not a mapping.")
    flavors = document.get("flavors") or {}
    flavor, details = _flavor(flavors if isinstance(flavors, dict) else {}, folder)
    details["mlflow_flavors"] = sorted(flavors) if isinstance(flavors, dict) else []
    for key in ("model_uuid", "model_id", "mlflow_version", "utc_time_created", "run_id"):
        if document.get(key) is not None:
            details[key if key.startswith("mlflow") else f"mlflow_{key}"] = str(document[key])
    signature = signature_from_mlflow(document.get("signature"))
    if details.get("format") == "cloudpickle":
        kind = pickled_class(folder / str(details["file"]))
        if kind is not None:
            details["class"] = kind
            signature = _task(signature, kind)
    return MlflowModelFormat(
        flavor=flavor,
        details=details,
        signature=signature,
        requirements=_requirements(folder),
    )
