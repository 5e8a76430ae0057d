"""MLflow model folders described in relayml's terms: flavors, signatures, requirements, the
pickled class read without unpickling; bad folders get a message."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import yaml
from sklearn.linear_model import LinearRegression, LogisticRegression

from relayml.errors import InvalidInput
from relayml.imports import relay_name
from relayml.models.mlflow_format import pickled_class, read_mlflow_model, signature_from_mlflow


def _folder(
    tmp_path: Path, flavors: dict[str, object], files: dict[str, bytes], **extra: object
) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "MLmodel").write_text(yaml.safe_dump({"flavors": flavors, **extra}))
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


def test_columns_and_tensors_become_relayml_signatures() -> None:
    columns = signature_from_mlflow(
        {
            "inputs": json.dumps(
                [
                    {"type": "double", "name": "age", "required": True},
                    {"type": "long", "name": "visits", "required": False},
                    {"type": "string", "name": "plan"},
                ]
            ),
            "outputs": json.dumps([{"type": "long"}]),
        }
    )
    assert [(c.name, c.dtype, c.nullable) for c in columns.inputs] == [
        ("age", "float64", False),
        ("visits", "int64", True),
        ("plan", "string", False),
    ]
    assert columns.input_kind == "dataframe"
    assert [(c.name, c.dtype) for c in columns.outputs] == [("prediction", "int64")]
    tensor = signature_from_mlflow(
        {
            "inputs": json.dumps(
                [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]
            ),
            "outputs": json.dumps(
                [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}}]
            ),
        }
    )
    assert tensor.input_kind == "ndarray"
    assert [c.name for c in tensor.inputs] == ["f0", "f1", "f2"]
    assert {c.dtype for c in tensor.inputs} == {"float64"}
    assert tensor.output_shape == [-1, 2]
    assert signature_from_mlflow(None).inputs == []
    with pytest.raises(InvalidInput, match="not JSON"):
        signature_from_mlflow({"inputs": "[{oops"})


def test_flavors_map_onto_relayml_loaders(tmp_path: Path) -> None:
    classifier = pickle.dumps(LogisticRegression().fit([[0.0], [1.0]], [0, 1]))
    sk = read_mlflow_model(
        _folder(
            tmp_path / "sk",
            {"sklearn": {"pickled_model": "model.pkl", "serialization_format": "cloudpickle"}},
            {
                "model.pkl": classifier,
                "requirements.txt": b"mlflow==3.17.2\nscikit-learn==1.9\n# c\n",
            },
            mlflow_version="3.17.2",
        )
    )
    assert (sk.flavor, sk.details["format"], sk.details["file"]) == (
        "sklearn",
        "cloudpickle",
        "model.pkl",
    )
    assert sk.details["class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert sk.details["mlflow_version"] == "3.17.2"
    assert (sk.signature.task, sk.signature.has_proba) == ("classification", True)
    assert sk.requirements == ["scikit-learn==1.9"]  # relayml serves it without MLflow
    regressor = pickle.dumps(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]))
    reg = read_mlflow_model(
        _folder(
            tmp_path / "reg",
            {"sklearn": {"pickled_model": "m.pkl", "serialization_format": "pickle"}},
            {"m.pkl": regressor},
        )
    )
    assert (reg.signature.task, reg.signature.has_proba) == ("regression", False)
    xgb = read_mlflow_model(
        _folder(
            tmp_path / "xgb",
            {"xgboost": {"data": "model.xgb", "model_class": "xgboost.sklearn.XGBClassifier"}},
            {"model.xgb": b"{}"},
        )
    )
    assert (xgb.flavor, xgb.details["format"], xgb.details["class"]) == (
        "xgboost",
        "xgboost-json",
        "xgboost.sklearn.XGBClassifier",
    )
    lgb = read_mlflow_model(
        _folder(tmp_path / "lgb", {"lightgbm": {"data": "model.lgb"}}, {"model.lgb": b"tree"})
    )
    assert (lgb.flavor, lgb.details["format"]) == ("lightgbm", "lightgbm-text")
    onnx = read_mlflow_model(
        _folder(tmp_path / "onnx", {"onnx": {"data": "model.onnx"}}, {"model.onnx": b"x"})
    )
    assert (onnx.flavor, onnx.details["format"]) == ("onnx", "onnx")
    skops = read_mlflow_model(
        _folder(
            tmp_path / "skops",
            {"sklearn": {"pickled_model": "model.skops", "serialization_format": "skops"}},
            {"model.skops": b"x"},
        )
    )
    assert (skops.flavor, skops.details["format"]) == ("pyfunc", "mlflow")  # kept, not served


def test_a_folder_that_is_not_an_mlflow_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="has no MLmodel file"):
        read_mlflow_model(tmp_path)
    (tmp_path / "MLmodel").write_text("flavors: [unclosed")
    with pytest.raises(InvalidInput, match="is not YAML"):
        read_mlflow_model(tmp_path)
    (tmp_path / "MLmodel").write_text("- a list")
    with pytest.raises(InvalidInput, match="not a mapping"):
        read_mlflow_model(tmp_path)
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    assert pickled_class(tmp_path / "junk.pkl") is None


def test_mlflow_names_become_relayml_names() -> None:
    assert relay_name("churn experiment", "x") == "churn-experiment"
    assert relay_name("/Users/ada/churn", "x") == "Users-ada-churn"
    assert relay_name("  ", "experiment-7") == "experiment-7"
    assert relay_name("model.v2_final", "x") == "model.v2_final"
