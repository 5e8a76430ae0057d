"""Model flavors: detect, save, load and predict with real models of every library; requirements."""

from __future__ import annotations

import pickle
from importlib import metadata
from pathlib import Path
from typing import Any

import cloudpickle
import lightgbm
import numpy as np
import onnx
import pandas as pd
import pytest
import skops.io
import xgboost
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from relayml.errors import InvalidInput
from relayml.models.flavors import (
    FLAVORS,
    OnnxClassifier,
    OnnxModel,
    detect_flavor,
    load_model,
    save_model,
)
from relayml.models.predictor import Predictor
from relayml.models.requirements import requirements_for
from relayml.models.signature import infer_signature


def _frame(rows: int = 120, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Numeric and bool features, a binary target and a continuous one."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, rows),
            "charges": rng.normal(70.0, 20.0, rows),
            "calls": rng.poisson(2.0, rows),
            "paperless": rng.random(rows) > 0.5,
        }
    )
    score = 0.05 * frame["charges"] - 0.04 * frame["tenure"] + frame["paperless"] * 0.8
    label = pd.Series((score + rng.normal(0, 0.5, rows) > score.median()).astype(int))
    amount = pd.Series(2.0 * frame["charges"] + frame["tenure"] + rng.normal(0, 1.0, rows))
    return frame, label, amount


X, Y, AMOUNT = _frame()


class ThresholdModel:
    """A hand-written model: churn when monthly charges pass a threshold."""

    def __init__(self, threshold: float, scaler: StandardScaler | None = None) -> None:
        self.threshold = threshold
        self.scaler = scaler

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        return (data["charges"].to_numpy() > self.threshold).astype(np.int64)


class NoPredict:
    """Something that is not a model."""

    def fit(self, data: Any) -> NoPredict:
        return self


def _round_trip(model: Any, folder: Path) -> tuple[str, dict[str, Any], Any]:
    flavor = detect_flavor(model)
    details = save_model(model, flavor, folder)
    return flavor, details, load_model(flavor, folder, details)


def _assert_same(original: Any, loaded: Any, data: Any, *, proba: bool, rtol: float = 1e-6) -> None:
    np.testing.assert_allclose(loaded.predict(data), original.predict(data), rtol=rtol)
    if proba:
        np.testing.assert_allclose(
            loaded.predict_proba(data), original.predict_proba(data), rtol=rtol
        )


def _onnx_classifier(zipmap: bool) -> tuple[LogisticRegression, onnx.ModelProto, np.ndarray]:
    data = X[["tenure", "charges", "calls"]].to_numpy(dtype=np.float32)
    model = LogisticRegression(max_iter=500).fit(data, Y.to_numpy())
    options = None if zipmap else {id(model): {"zipmap": False}}
    graph = convert_sklearn(
        model,
        initial_types=[("float_input", FloatTensorType([None, data.shape[1]]))],
        options=options,
    )
    return model, graph, data


# -- sklearn ---------------------------------------------------------------------------------------


def test_sklearn_gradient_boosting_round_trip(tmp_path: Path) -> None:
    model = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, Y)
    flavor, details, loaded = _round_trip(model, tmp_path)
    assert flavor == "sklearn"
    assert details == {
        "format": "joblib",
        "class": "sklearn.ensemble._gb.GradientBoostingClassifier",
        "file": "model.joblib",
    }
    assert (tmp_path / "model.joblib").is_file()
    _assert_same(model, loaded, X, proba=True)


def test_sklearn_pipeline_round_trip_into_a_nested_folder(tmp_path: Path) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y)
    folder = tmp_path / "a" / "b"
    flavor, details, loaded = _round_trip(model, folder)
    assert (flavor, details["class"]) == ("sklearn", "sklearn.pipeline.Pipeline")
    _assert_same(model, loaded, X, proba=True)


# -- xgboost ---------------------------------------------------------------------------------------


def test_xgboost_classifier_keeps_its_wrapper(tmp_path: Path) -> None:
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(X, Y)
    flavor, details, loaded = _round_trip(model, tmp_path)
    assert flavor == "xgboost"
    assert details == {
        "format": "xgboost-json",
        "class": "xgboost.sklearn.XGBClassifier",
        "file": "model.json",
    }
    assert isinstance(loaded, xgboost.XGBClassifier)
    assert list(loaded.classes_) == [0, 1]
    _assert_same(model, loaded, X, proba=True)


def test_xgboost_regressor_and_bare_booster(tmp_path: Path) -> None:
    model = xgboost.XGBRegressor(n_estimators=10).fit(X, AMOUNT)
    _, _, loaded = _round_trip(model, tmp_path / "wrapper")
    assert isinstance(loaded, xgboost.XGBRegressor)
    _assert_same(model, loaded, X, proba=False)

    booster = model.get_booster()
    flavor, details, loaded = _round_trip(booster, tmp_path / "booster")
    assert (flavor, details["class"]) == ("xgboost", "xgboost.core.Booster")
    expected = booster.predict(xgboost.DMatrix(X))
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-6)
    assert not hasattr(loaded, "predict_proba")


# -- lightgbm --------------------------------------------------------------------------------------


def test_lightgbm_classifier_round_trip(tmp_path: Path) -> None:
    model = lightgbm.LGBMClassifier(n_estimators=15, verbose=-1).fit(X, Y)
    flavor, details, loaded = _round_trip(model, tmp_path)
    assert flavor == "lightgbm"
    assert details["format"] == "joblib"
    assert details["class"] == "lightgbm.sklearn.LGBMClassifier"
    assert isinstance(loaded, lightgbm.LGBMClassifier)
    _assert_same(model, loaded, X, proba=True)


def test_lightgbm_regressor_and_bare_booster(tmp_path: Path) -> None:
    model = lightgbm.LGBMRegressor(n_estimators=15, verbose=-1).fit(X, AMOUNT)
    flavor, _, loaded = _round_trip(model, tmp_path / "wrapper")
    assert flavor == "lightgbm"
    _assert_same(model, loaded, X, proba=False)

    flavor, details, loaded = _round_trip(model.booster_, tmp_path / "booster")
    assert (flavor, details["format"], details["file"]) == (
        "lightgbm",
        "lightgbm-text",
        "model.txt",
    )
    assert isinstance(loaded, lightgbm.Booster)
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-6)


# -- onnx ------------------------------------------------------------------------------------------

# ONNX graphs compute in float32: a probability near 1 carries an absolute error of a few float32
# ulps (eps = 1.2e-7), and a tiny probability may differ by that much too, whatever its relative
# size. So: relative 1e-4 for the figure, absolute 1e-6 for what float32 cannot promise.
FLOAT32_PROBA = {"rtol": 1e-4, "atol": 1e-6}


@pytest.mark.parametrize("zipmap", [True, False], ids=["zipmap", "tensor"])
def test_onnx_classifier_round_trip(tmp_path: Path, zipmap: bool) -> None:
    model, graph, data = _onnx_classifier(zipmap)
    flavor, details, loaded = _round_trip(graph, tmp_path)
    assert flavor == "onnx"
    assert details["file"] == "model.onnx" and details["classes"] == [0, 1]
    assert isinstance(loaded, OnnxClassifier)
    assert list(loaded.classes_) == [0, 1]
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
    np.testing.assert_allclose(
        loaded.predict_proba(data), model.predict_proba(data), **FLOAT32_PROBA
    )
    # A DataFrame and float64 input are fed as the graph's float32 tensor.
    frame = pd.DataFrame(data.astype(np.float64), columns=["a", "b", "c"])
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(data))


def test_onnx_graph_with_one_input_per_column(tmp_path: Path) -> None:
    frame = X[["charges", "tenure"]]
    scale = ColumnTransformer([("scale", StandardScaler(), ["charges", "tenure"])])
    model = Pipeline([("columns", scale), ("model", LogisticRegression())]).fit(frame, Y)
    graph = convert_sklearn(
        model,
        initial_types=[
            ("charges", FloatTensorType([None, 1])),
            ("tenure", Int64TensorType([None, 1])),
        ],
    )
    _, _, loaded = _round_trip(graph, tmp_path)
    assert [node.name for node in loaded.inputs] == ["charges", "tenure"]
    signature = infer_signature(graph, frame)
    assert [(c.name, c.dtype) for c in signature.inputs] == [
        ("charges", "float64"),
        ("tenure", "int64"),
    ]
    predictor = Predictor(loaded, signature, flavor="onnx")
    reordered = frame[["tenure", "charges"]]
    np.testing.assert_array_equal(predictor.predict(reordered), model.predict(frame))
    np.testing.assert_allclose(
        predictor.predict_proba(reordered), model.predict_proba(frame), **FLOAT32_PROBA
    )


def test_onnx_regressor_has_no_proba(tmp_path: Path) -> None:
    data = X[["tenure", "charges"]].to_numpy(dtype=np.float32)
    model = LinearRegression().fit(data, AMOUNT.to_numpy())
    graph = convert_sklearn(model, initial_types=[("x", FloatTensorType([None, 2]))])
    flavor, details, loaded = _round_trip(graph, tmp_path)
    assert flavor == "onnx" and "classes" not in details
    assert type(loaded) is OnnxModel and not hasattr(loaded, "predict_proba")
    expected = model.predict(data)
    # float32 arithmetic: relative 1e-4, and absolute 1e-6 of the largest figure for values near 0
    atol = 1e-6 * float(np.abs(expected).max())
    np.testing.assert_allclose(loaded.predict(data), expected, rtol=1e-4, atol=atol)


# -- pyfunc ----------------------------------------------------------------------------------------


def test_pyfunc_round_trip(tmp_path: Path) -> None:
    model = ThresholdModel(70.0)
    flavor, details, loaded = _round_trip(model, tmp_path)
    assert flavor == "pyfunc"
    assert details["format"] == "cloudpickle" and details["class"].endswith(".ThresholdModel")
    assert loaded is not model and loaded.threshold == 70.0
    _assert_same(model, loaded, X, proba=False)


# -- detect_flavor ---------------------------------------------------------------------------------


def test_detect_flavor_of_each_kind() -> None:
    _, graph, _ = _onnx_classifier(zipmap=False)
    models = {
        "sklearn": make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y),
        "xgboost": xgboost.XGBRegressor(n_estimators=2).fit(X, AMOUNT),
        "lightgbm": lightgbm.LGBMRegressor(n_estimators=2, verbose=-1).fit(X, AMOUNT),
        "onnx": graph,
        "pyfunc": ThresholdModel(1.0),
    }
    # the mlflow flavor is only registered through the MLflow API (tested below), never detected
    assert {detect_flavor(model) for model in models.values()} == set(FLAVORS) - {"mlflow"}
    assert {name: detect_flavor(model) for name, model in models.items()} == {
        name: name for name in models
    }


def test_detect_flavor_refuses_what_cannot_predict() -> None:
    with pytest.raises(InvalidInput) as error:
        detect_flavor(NoPredict())
    assert error.value.message == (
        f"cannot log a model of type {NoPredict.__module__}.NoPredict: relayml knows "
        "scikit-learn, XGBoost, LightGBM and ONNX models, and any object with a predict() method."
    )
    with pytest.raises(InvalidInput, match=r"type builtins\.dict"):
        detect_flavor({"predict": 1})
    with pytest.raises(InvalidInput, match="pass a fitted instance of it, not the class"):
        detect_flavor(ThresholdModel)
    with pytest.raises(InvalidInput, match=r"no predict\(\) method .*a transformer"):
        detect_flavor(StandardScaler().fit(X))


def test_unknown_flavor_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown model flavor 'torch'; flavors are sklearn"):
        save_model(ThresholdModel(1.0), "torch", tmp_path)
    details = save_model(ThresholdModel(1.0), "pyfunc", tmp_path)
    (tmp_path / "model.pkl").unlink()
    with pytest.raises(InvalidInput, match=r"model file 'model\.pkl' is missing"):
        load_model("pyfunc", tmp_path, details)


# -- the predictor over loaded models --------------------------------------------------------------


def test_predictor_over_each_flavor(tmp_path: Path) -> None:
    _, graph, data = _onnx_classifier(zipmap=True)
    cases: list[tuple[Any, Any]] = [
        (GradientBoostingClassifier(n_estimators=5).fit(X, Y), X),
        (xgboost.XGBClassifier(n_estimators=5).fit(X, Y), X),
        (lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, Y), X),
        (graph, data),
    ]
    for index, (model, example) in enumerate(cases):
        flavor, _, loaded = _round_trip(model, tmp_path / str(index))
        signature = infer_signature(model, example)
        predictor = Predictor(loaded, signature, name="churn", version=index + 1, flavor=flavor)
        assert repr(predictor) == f"<Predictor churn/{index + 1} {flavor}>"
        assert predictor.has_proba and signature.classes == [0, 1]
        assert predictor.predict(example[:5]).shape == (5,)
        proba = predictor.predict_proba(example[:5])
        assert proba.shape == (5, 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_predictor_refuses_proba_for_a_regressor() -> None:
    model = lightgbm.LGBMRegressor(n_estimators=5, verbose=-1).fit(X, AMOUNT)
    predictor = Predictor(
        model, infer_signature(model, X), name="spend", version=2, flavor="lightgbm"
    )
    assert not predictor.has_proba
    np.testing.assert_allclose(predictor.predict(X), model.predict(X), rtol=1e-6)
    with pytest.raises(InvalidInput) as error:
        predictor.predict_proba(X)
    assert error.value.message == (
        "spend/2 (lightgbm) gives no probabilities: it is not a classifier; call predict() instead."
    )
    assert repr(Predictor(ThresholdModel(1.0), infer_signature(ThresholdModel(1.0), X))) == (
        "<Predictor model>"
    )


# -- requirements ----------------------------------------------------------------------------------


def _pin(distribution: str) -> str:
    return f"{distribution}=={metadata.version(distribution)}"


def _xgboost_distribution() -> str:
    for name in ("xgboost-cpu", "xgboost"):
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        return name
    raise AssertionError("xgboost is not installed")


def test_requirements_for_each_flavor() -> None:
    base = {_pin("numpy"), _pin("pandas"), _pin("relayml")}
    sklearn_model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y)
    requirements = requirements_for(sklearn_model, "sklearn")
    assert requirements == sorted(requirements) and len(set(requirements)) == len(requirements)
    assert set(requirements) == base | {_pin("scikit-learn")}

    xgb = xgboost.XGBClassifier(n_estimators=2).fit(X, Y)
    assert _pin(_xgboost_distribution()) in requirements_for(xgb, "xgboost")
    assert _pin("scikit-learn") in requirements_for(xgb, "xgboost")  # its wrapper needs it
    assert _pin(_xgboost_distribution()) in requirements_for(xgb.get_booster(), "xgboost")

    lgbm = lightgbm.LGBMRegressor(n_estimators=2, verbose=-1).fit(X, AMOUNT)
    assert _pin("lightgbm") in requirements_for(lgbm, "lightgbm")
    assert _pin("lightgbm") in requirements_for(lgbm.booster_, "lightgbm")

    _, graph, _ = _onnx_classifier(zipmap=False)
    onnx_requirements = set(requirements_for(graph, "onnx"))
    assert onnx_requirements == base | {_pin("onnx"), _pin("onnxruntime")}


def test_requirements_walk_pipelines_and_pyfunc_attributes() -> None:
    pipeline = Pipeline(
        [
            (
                "columns",
                ColumnTransformer([("log", FunctionTransformer(np.log1p), ["tenure"])]),
            ),
            ("model", lightgbm.LGBMClassifier(n_estimators=2, verbose=-1)),
        ]
    ).fit(X, Y)
    requirements = requirements_for(pipeline, "sklearn")
    assert _pin("lightgbm") in requirements and _pin("scikit-learn") in requirements

    plain = requirements_for(ThresholdModel(1.0), "pyfunc")
    assert _pin("cloudpickle") in plain and _pin("relayml") in plain
    assert _pin("scikit-learn") not in plain
    with_scaler = requirements_for(ThresholdModel(1.0, StandardScaler().fit(X)), "pyfunc")
    assert _pin("scikit-learn") in with_scaler
    assert all("==" in pin and not pin.startswith("builtins") for pin in with_scaler)


# -- the mlflow flavor: an MLflow scikit-learn model folder -------------------------------------


@pytest.mark.parametrize("fmt", ["skops", "pickle", "cloudpickle"])
def test_an_mlflow_sklearn_folder_loads_in_each_serialization(fmt: str, tmp_path: Path) -> None:
    model = LogisticRegression().fit(X, Y)
    path = tmp_path / ("model.skops" if fmt == "skops" else "model.pkl")
    if fmt == "skops":
        skops.io.dump(model, path)
    else:
        path.write_bytes((pickle if fmt == "pickle" else cloudpickle).dumps(model))
    details = {"format": "mlflow", "loader": "sklearn", "file": path.name, "serialization": fmt}
    _assert_same(model, load_model("mlflow", tmp_path, details), X, proba=True)


def test_what_the_mlflow_flavor_refuses(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="registered through the MLflow API"):
        save_model(LogisticRegression().fit(X, Y), "mlflow", tmp_path)
    with pytest.raises(InvalidInput, match="this one has: pytorch, python_function"):
        details = {"format": "mlflow", "mlflow_flavors": ["pytorch", "python_function"]}
        load_model("mlflow", tmp_path, details)
    (tmp_path / "model.bin").write_bytes(b"x")
    details = {"format": "mlflow", "loader": "sklearn", "file": "model.bin", "serialization": "x"}
    with pytest.raises(InvalidInput, match="serialization 'x' is not one relayml loads"):
        load_model("mlflow", tmp_path, details)
