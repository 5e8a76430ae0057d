"""Model flavors: tell which library a model comes from, write its files, and load it back.

| flavor   | what is saved                                  | what load_model returns          |
|----------|------------------------------------------------|----------------------------------|
| sklearn  | model.joblib (joblib)                          | the estimator                    |
| xgboost  | model.json (the model's own save_model)        | the sklearn wrapper, or a        |
|          |                                                | Booster adapter taking arrays    |
| lightgbm | wrapper: model.joblib; bare Booster: model.txt | the wrapper or the Booster       |
| onnx     | model.onnx (ModelProto.SerializeToString)      | an onnxruntime adapter           |
| pyfunc   | model.pkl (cloudpickle)                        | the object                       |
| mlflow   | an MLflow model folder (MLmodel + its files),  | the scikit-learn estimator       |
|          | registered through the MLflow API; read only   | (skops, pickle or cloudpickle)   |

LightGBM's sklearn wrappers are saved with joblib: re-creating an LGBMClassifier around booster
text needs private attributes (label encoder, classes, objective) that move between releases,
while pickling a wrapper stores its booster as model text anyway and restores every attribute.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from relayml.errors import InvalidInput, MissingDependency

__all__ = [
    "FLAVORS",
    "OnnxClassifier",
    "OnnxModel",
    "XGBoostBoosterModel",
    "detect_flavor",
    "load_model",
    "open_onnx",
    "predictable",
    "save_model",
]

FLAVORS = ("sklearn", "xgboost", "lightgbm", "onnx", "pyfunc", "mlflow")

_NOT_A_MODEL = (
    "cannot log a model of type {kind}: relayml knows scikit-learn, XGBoost, LightGBM and ONNX "
    "models, and any object with a predict() method."
)


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _libraries(model: Any) -> set[str]:
    """Top-level modules of every class in the model's MRO (without importing anything)."""
    return {cls.__module__.split(".")[0] for cls in type(model).__mro__}


def detect_flavor(model: Any) -> str:
    """Name the flavor of a model object; InvalidInput if relayml cannot log it."""
    kind = _qualname(type(model))
    if isinstance(model, type):
        raise InvalidInput(
            f"cannot log the class {_qualname(model)}: pass a fitted instance of it, not the class."
        )
    libraries = _libraries(model)
    if "xgboost" in libraries:
        import xgboost

        if isinstance(model, xgboost.XGBModel | xgboost.Booster):
            return "xgboost"
    if "lightgbm" in libraries:
        import lightgbm

        if isinstance(model, lightgbm.LGBMModel | lightgbm.Booster):
            return "lightgbm"
    if "onnx" in libraries:
        import onnx

        if isinstance(model, onnx.ModelProto):
            return "onnx"
    if "sklearn" in libraries:
        from sklearn.base import BaseEstimator

        if isinstance(model, BaseEstimator):
            if not callable(getattr(model, "predict", None)):
                raise InvalidInput(
                    f"cannot log a model of type {kind}: it has no predict() method "
                    "(a transformer?); log a model or a Pipeline that ends with one."
                )
            return "sklearn"
    if callable(getattr(model, "predict", None)):
        return "pyfunc"
    raise InvalidInput(_NOT_A_MODEL.format(kind=kind))


def _check_flavor(flavor: str) -> None:
    if flavor not in FLAVORS:
        raise InvalidInput(f"unknown model flavor {flavor!r}; flavors are {', '.join(FLAVORS)}.")


def save_model(model: Any, flavor: str, folder: Path) -> dict[str, Any]:
    """Write the model's files into folder and return the details needed to load it again."""
    _check_flavor(flavor)
    if flavor == "mlflow":
        raise InvalidInput(
            "the mlflow flavor is for models registered through the MLflow API; log this model "
            "with its own flavor (sklearn, xgboost, ...)."
        )
    folder.mkdir(parents=True, exist_ok=True)
    kind = _qualname(type(model))
    if flavor == "sklearn" or (flavor == "lightgbm" and not _is_lightgbm_booster(model)):
        import joblib

        joblib.dump(model, folder / "model.joblib")
        return {"format": "joblib", "class": kind, "file": "model.joblib"}
    if flavor == "xgboost":
        model.save_model(str(folder / "model.json"))
        return {"format": "xgboost-json", "class": kind, "file": "model.json"}
    if flavor == "lightgbm":
        model.save_model(str(folder / "model.txt"))
        return {"format": "lightgbm-text", "class": kind, "file": "model.txt"}
    if flavor == "onnx":
        (folder / "model.onnx").write_bytes(model.SerializeToString())
        details: dict[str, Any] = {"format": "onnx", "class": kind, "file": "model.onnx"}
        classes = _onnx_classes(model)
        if classes is not None:
            details["classes"] = classes
        return details
    import cloudpickle

    (folder / "model.pkl").write_bytes(cloudpickle.dumps(model))
    return {"format": "cloudpickle", "class": kind, "file": "model.pkl"}


def _is_lightgbm_booster(model: Any) -> bool:
    import lightgbm

    return isinstance(model, lightgbm.Booster)


def _file(folder: Path, details: dict[str, Any], default: str) -> Path:
    path = folder / str(details.get("file", default))
    if not path.is_file():
        raise InvalidInput(f"the model file {path.name!r} is missing from {folder}.")
    return path


def load_model(flavor: str, folder: Path, details: dict[str, Any]) -> Any:
    """Load a model saved by save_model; the result has predict (and predict_proba if it had)."""
    _check_flavor(flavor)
    fmt = details.get("format")
    if fmt == "joblib":
        import joblib

        return joblib.load(_file(folder, details, "model.joblib"))
    if fmt == "xgboost-json":
        return _load_xgboost(_file(folder, details, "model.json"), str(details.get("class", "")))
    if fmt == "lightgbm-text":
        import lightgbm

        return lightgbm.Booster(model_file=str(_file(folder, details, "model.txt")))
    if fmt == "onnx":
        return open_onnx(_file(folder, details, "model.onnx").read_bytes(), details.get("classes"))
    if fmt == "cloudpickle":
        import cloudpickle

        return cloudpickle.loads(_file(folder, details, "model.pkl").read_bytes())
    if fmt == "mlflow":
        return _load_mlflow(folder, details)
    raise InvalidInput(f"unknown saved-model format {fmt!r} for flavor {flavor!r}.")


def _load_mlflow(folder: Path, details: dict[str, Any]) -> Any:
    """The estimator of an MLflow scikit-learn model folder (skops, pickle or cloudpickle)."""
    if details.get("loader") != "sklearn":
        flavors = ", ".join(details.get("mlflow_flavors") or []) or "none"
        raise InvalidInput(
            f"relayml serves MLflow models of the sklearn flavor; this one has: {flavors}. "
            "Load it with mlflow.pyfunc.load_model instead."
        )
    path = _file(folder, details, "model.pkl")
    serialization = details.get("serialization", "cloudpickle")
    if serialization == "cloudpickle":
        import cloudpickle

        return cloudpickle.loads(path.read_bytes())
    if serialization == "pickle":
        import pickle

        return pickle.loads(path.read_bytes())
    if serialization == "skops":
        try:
            import skops.io
        except ImportError:
            raise MissingDependency.for_extra(
                "skops", "mlflow", "loading an MLflow model saved in skops format"
            ) from None
        # the types the model's author trusted when saving (MLmodel), beside skops' defaults
        return skops.io.load(path, trusted=details.get("skops_trusted_types") or None)
    raise InvalidInput(
        f"MLflow model serialization {serialization!r} is not one relayml loads (skops, "
        'pickle, cloudpickle); log it with serialization_format="skops".'
    )


def _load_xgboost(path: Path, kind: str) -> Any:
    import xgboost

    if kind in ("", _qualname(xgboost.Booster)):
        booster = xgboost.Booster()
        booster.load_model(str(path))
        return XGBoostBoosterModel(booster)
    module_name, _, class_name = kind.rpartition(".")
    cls: Any = None
    if module_name.split(".")[0] == "xgboost":
        cls = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, xgboost.XGBModel)):
        # A subclass from user code, or a class this xgboost no longer has: use the base wrapper.
        cls = xgboost.XGBClassifier if "Classifier" in class_name else xgboost.XGBRegressor
    model = cls()
    model.load_model(str(path))
    return model


def predictable(model: Any) -> Any:
    """Return the model itself, or an adapter with predict() for raw XGBoost/ONNX models."""
    libraries = _libraries(model)
    if "xgboost" in libraries:
        import xgboost

        if isinstance(model, xgboost.Booster):
            return XGBoostBoosterModel(model)
    if "onnx" in libraries:
        import onnx

        if isinstance(model, onnx.ModelProto):
            return open_onnx(model.SerializeToString(), _onnx_classes(model))
    return model


class XGBoostBoosterModel:
    """A bare xgboost.Booster behind predict(X) on a DataFrame or an array."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, data: Any) -> np.ndarray:
        """Predict with the booster's in-place prediction (no DMatrix needed)."""
        return np.asarray(self.booster.inplace_predict(data))


def _onnx_classes(model: Any) -> list[Any] | None:
    """The class labels a classifier graph declares (ZipMap or *Classifier nodes), if any."""
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.name in ("classlabels_int64s", "classlabels_ints") and attribute.ints:
                return [int(v) for v in attribute.ints]
            if attribute.name == "classlabels_strings" and attribute.strings:
                return [v.decode("utf-8") for v in attribute.strings]
    return None


_ONNX_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


class OnnxModel:
    """An onnxruntime session behind predict(X) and predict_proba(X).

    X is a 2-D array or a DataFrame. A graph with one input takes all columns as one tensor; a
    graph with one input per column takes the columns by name (or by position for an array).
    Output 0 is the prediction; output 1, when present, the probabilities (a tensor, or a list of
    {class: probability} maps as skl2onnx's ZipMap gives).
    """

    def __init__(self, session: Any, classes: list[Any] | None = None) -> None:
        self.session = session
        self.inputs = list(session.get_inputs())
        self.output_names = [output.name for output in session.get_outputs()]
        self.classes = list(classes) if classes is not None else None
        if classes is not None:
            self.classes_ = np.asarray(classes)

    def _feeds(self, data: Any) -> dict[str, np.ndarray]:
        if len(self.inputs) == 1:
            node = self.inputs[0]
            values = data.to_numpy() if hasattr(data, "to_numpy") else data
            return {node.name: np.asarray(values, dtype=_ONNX_DTYPES.get(node.type, np.float32))}
        feeds: dict[str, np.ndarray] = {}
        names = list(data.columns) if hasattr(data, "columns") else None
        for position, node in enumerate(self.inputs):
            if names is not None:
                if node.name not in names:
                    raise InvalidInput(f"the ONNX model needs an input column {node.name!r}.")
                column = data[node.name].to_numpy()
            else:
                column = np.asarray(data)[:, position]
            dtype = _ONNX_DTYPES.get(node.type, np.float32)
            feeds[node.name] = np.asarray(column, dtype=dtype).reshape(-1, 1)
        return feeds

    def _run(self, data: Any) -> list[Any]:
        result: list[Any] = self.session.run(self.output_names, self._feeds(data))
        return result

    def predict(self, data: Any) -> np.ndarray:
        """Output 0 of the graph; an (n, 1) output is flattened to (n,)."""
        out = np.asarray(self._run(data)[0])
        if out.ndim == 2 and out.shape[1] == 1:
            out = out.ravel()
        return out


class OnnxClassifier(OnnxModel):
    """An ONNX classifier: output 1 holds the class probabilities."""

    def predict_proba(self, data: Any) -> np.ndarray:
        """Output 1 of the graph as an (n, classes) float array."""
        proba = self._run(data)[1]
        if isinstance(proba, list) and proba and isinstance(proba[0], dict):
            keys = self.classes if self.classes is not None else list(proba[0])
            return np.array([[row[key] for key in keys] for row in proba], dtype=np.float64)
        return np.asarray(proba)


def open_onnx(data: bytes, classes: list[Any] | None = None) -> OnnxModel:
    """Open a serialized ONNX graph with onnxruntime on the CPU, as a model or a classifier."""
    import onnxruntime

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    kind = OnnxClassifier if len(session.get_outputs()) > 1 else OnnxModel
    return kind(session, classes)
