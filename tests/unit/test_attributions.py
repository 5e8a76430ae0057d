"""Explanations: additivity per method, exactness against brute force, planted signals, errors."""

from __future__ import annotations

import itertools
import math
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.compose import make_column_transformer
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from relayml.errors import InvalidInput
from relayml.models.predictor import Predictor
from relayml.models.signature import infer_signature
from relayml.monitoring.attributions import Explanation, explain_row, global_importance

RNG = np.random.default_rng(11)
N = 300
X = pd.DataFrame(RNG.normal(size=(N, 4)), columns=["x0", "x1", "x2", "x3"])
Y_BIN = (X.x0 + 0.4 * X.x1 + 0.3 * RNG.normal(size=N) > 0).astype(int)
Y_3 = np.digitize(X.x0 + 0.3 * X.x2, [-0.5, 0.5])
Y_REG = 3 * X.x0 + X.x1 * X.x2 + 0.1 * RNG.normal(size=N)
COLORS = RNG.choice(["red", "green", "blue"], N)
X_CAT = X.assign(color=COLORS)
Y_CAT = ((X.x0 + 1.5 * (COLORS == "red") + 0.2 * RNG.normal(size=N)) > 0.5).astype(int)


class Formula:
    """A predict-only model (pyfunc): 2 * x0 + 3 * x1 + x2 * x3."""

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        return np.asarray(2 * data["x0"] + 3 * data["x1"] + data["x2"] * data["x3"])


def _predictor(model: Any, x: pd.DataFrame = X, y: Any = None) -> Predictor:
    if y is not None:
        model.fit(x, y)
    return Predictor(model, infer_signature(model, x.head(20)))


def _pipeline() -> Any:
    encode = make_column_transformer((OneHotEncoder(), ["color"]), remainder=StandardScaler())
    return make_pipeline(encode, LogisticRegression())


DATA = {"bin": (X, Y_BIN), "reg": (X, Y_REG), "3": (X, Y_3), "cat": (X_CAT, Y_CAT), "-": (X, None)}
# what the model itself says for the explained quantity
OWN = {
    "decision": lambda m, r: m.decision_function(r),
    "predict": lambda m, r: m.predict(r),
    "P(1)": lambda m, r: m.predict_proba(r)[:, 1],
    "max P": lambda m, r: m.predict_proba(r).max(axis=1),
    "margin": lambda m, r: m.predict(r, output_margin=True),
    "raw": lambda m, r: m.predict(r, raw_score=True),
    "max raw": lambda m, r: m.predict(r, raw_score=True).max(axis=1),
}
CASES: list[tuple[str, Any, str, str]] = [
    ("logistic", LogisticRegression(), "bin", "decision"),
    ("ridge", Ridge(), "reg", "predict"),
    ("gbm", GradientBoostingClassifier(n_estimators=30), "bin", "decision"),
    ("gbm-reg", GradientBoostingRegressor(n_estimators=30), "reg", "predict"),
    ("forest", RandomForestClassifier(n_estimators=20, random_state=0), "bin", "P(1)"),
    ("forest-reg", RandomForestRegressor(n_estimators=10, max_depth=8), "reg", "predict"),
    ("forest-3", RandomForestClassifier(n_estimators=10, random_state=0), "3", "max P"),
    ("xgboost", xgboost.XGBClassifier(n_estimators=20, max_depth=3), "bin", "margin"),
    ("xgboost-reg", xgboost.XGBRegressor(n_estimators=20, max_depth=3), "reg", "predict"),
    ("lightgbm", lightgbm.LGBMClassifier(n_estimators=20, verbose=-1), "bin", "raw"),
    ("lightgbm-3", lightgbm.LGBMClassifier(n_estimators=10, verbose=-1), "3", "max raw"),
    ("pipeline", _pipeline(), "cat", "P(1)"),
    ("hist-gbm", HistGradientBoostingRegressor(max_iter=20), "reg", "predict"),
    ("pyfunc", Formula(), "-", "predict"),
]


@pytest.mark.parametrize(("name", "model", "data", "own"), CASES, ids=[c[0] for c in CASES])
def test_contributions_add_up_to_the_models_own_output(
    name: str, model: Any, data: str, own: str
) -> None:
    x, y = DATA[data]
    predictor = _predictor(model, x, y)
    for i in (0, 7, 123):
        e = explain_row(predictor, x.iloc[i].to_dict(), x)
        assert e.columns == list(x.columns) and len(e.contributions) == x.shape[1]
        expected = float(np.ravel(OWN[own](predictor.native, x.iloc[[i]]))[0])
        tolerance = 1e-6 * max(1.0, abs(expected)) if "xgboost" in name else 1e-9
        assert e.prediction == pytest.approx(expected, abs=tolerance)
        assert e.base_value + sum(e.contributions) == pytest.approx(e.prediction, abs=tolerance)


@pytest.mark.parametrize(
    ("model", "kind"),
    [
        (LogisticRegression(), "linear (exact)"),
        (GradientBoostingClassifier(n_estimators=30), "tree SHAP"),
        (RandomForestClassifier(n_estimators=20, random_state=0), "tree SHAP"),
        (xgboost.XGBClassifier(n_estimators=20), "by XGBoost"),
        (lightgbm.LGBMClassifier(n_estimators=20, verbose=-1), "by LightGBM"),
        (make_pipeline(StandardScaler(), LogisticRegression()), "exact Shapley over 4 inputs"),
    ],
)
def test_a_planted_signal_gets_the_largest_contribution_and_importance(
    model: Any, kind: str
) -> None:
    y = (X.x0 > 0).astype(int)  # the target depends on x0 only
    predictor = _predictor(model, X, y)
    row = X.iloc[[int(np.argmax(np.abs(X.x0)))]]
    e = explain_row(predictor, row, X)
    assert kind in e.method
    assert e.top(1)[0][0] == "x0"
    importance = global_importance(predictor, X, max_rows=100)
    assert next(iter(importance)) == "x0"
    assert list(importance.values()) == sorted(importance.values(), reverse=True)


def test_linear_contributions_are_coef_times_distance_from_the_background_mean() -> None:
    predictor = _predictor(LinearRegression(), X, Y_REG)
    background = X.iloc[:100]
    e = explain_row(predictor, X.iloc[[200]], background)
    coef = predictor.native.coef_
    expected = coef * (X.iloc[200].to_numpy() - background.mean().to_numpy())
    assert np.array_equal(np.asarray(e.contributions), expected)
    assert e.base_value == pytest.approx(predictor.native.intercept_ + coef @ background.mean())
    assert e.output == "predicted value" and e.method.startswith("linear (exact)")
    classifier = _predictor(LogisticRegression(), X, Y_BIN)
    e = explain_row(classifier, X.iloc[[5]], background)
    assert e.output == "log-odds of P(class=1)"
    expected = classifier.native.coef_[0] * (X.iloc[5] - background.mean()).to_numpy()
    assert np.allclose(e.contributions, expected, rtol=0, atol=1e-12)


def _conditional(
    tree: Any, values: np.ndarray, x: np.ndarray, known: set[int], node: int = 0
) -> float:
    """E[tree(x) | x_known] the path-dependent way: unknown features follow the cover."""
    left, right = tree.children_left[node], tree.children_right[node]
    if left == -1:
        return float(values[node])
    feature = tree.feature[node]
    if feature in known:
        child = left if x[feature] <= tree.threshold[node] else right
        return _conditional(tree, values, x, known, child)
    cover = tree.weighted_n_node_samples
    return (
        cover[left] * _conditional(tree, values, x, known, left)
        + cover[right] * _conditional(tree, values, x, known, right)
    ) / cover[node]


def _brute_force(trees: list[tuple[Any, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """Path-dependent Shapley values by enumerating every coalition."""
    m = len(x)

    def v(known: set[int]) -> float:
        return sum(_conditional(t, vals, x, known) for t, vals in trees) / len(trees)

    phi = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        for size in range(m):
            weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for coalition in itertools.combinations(others, size):
                phi[i] += weight * (v({*coalition, i}) - v(set(coalition)))
    return phi


def test_tree_shap_equals_brute_force_path_dependent_shapley_values() -> None:
    rows = X.assign(x3=np.round(X.x3))  # repeated splits on one feature along a path
    forest = RandomForestClassifier(n_estimators=5, max_depth=6, random_state=1)
    predictor = _predictor(forest, rows, Y_BIN)
    trees = []
    for estimator in forest.estimators_:
        value = estimator.tree_.value[:, 0, :]
        trees.append((estimator.tree_, value[:, 1] / value.sum(axis=1)))
    for i in (3, 50):
        x = rows.iloc[i].to_numpy().astype(np.float32).astype(np.float64)
        e = explain_row(predictor, rows.iloc[[i]])  # no background needed
        assert np.allclose(e.contributions, _brute_force(trees, x), rtol=0, atol=1e-12)
    boosted = _predictor(ExtraTreesRegressor(n_estimators=3, max_depth=5), rows, Y_REG)
    trees = [(e.tree_, e.tree_.value[:, 0, 0]) for e in boosted.native.estimators_]
    x = rows.iloc[9].to_numpy().astype(np.float32).astype(np.float64)
    e = explain_row(boosted, rows.iloc[[9]])
    assert np.allclose(e.contributions, _brute_force(trees, x), rtol=0, atol=1e-10)


def test_exact_model_agnostic_shapley_of_a_formula() -> None:
    predictor = _predictor(Formula())
    background = X.iloc[:40]
    e = explain_row(predictor, X.iloc[[100]], background)
    assert e.method == "exact Shapley over 4 inputs, 40 background rows"
    x, mean = X.iloc[100], background.mean()
    assert e.contributions[0] == pytest.approx(2 * (x.x0 - mean.x0), abs=1e-12)
    assert e.contributions[1] == pytest.approx(3 * (x.x1 - mean.x1), abs=1e-12)
    product = x.x2 * x.x3 - (background.x2 * background.x3).mean()
    assert e.contributions[2] + e.contributions[3] == pytest.approx(product, abs=1e-12)
    assert e.top(2)[0][0] in ("x0", "x1") and e.top(2)[0][1] == x[e.top(2)[0][0]]


def test_a_pipelines_one_hot_columns_fold_back_into_their_input_column() -> None:
    predictor = _predictor(_pipeline(), X_CAT, Y_CAT)
    row = X_CAT.iloc[[int(np.flatnonzero(COLORS == "red")[0])]]
    e = explain_row(predictor, row, X_CAT)
    assert e.columns == ["x0", "x1", "x2", "x3", "color"]  # one player per input column
    assert e.values[-1] == "red" and e.output == "P(class=1)"
    assert e.contributions[-1] > 0.05  # being red raises P(class=1)
    importance = global_importance(predictor, X_CAT, max_rows=60)
    assert set(importance) == set(X_CAT.columns) and list(importance)[:2] == ["x0", "color"]


def test_many_inputs_are_sampled_with_a_seed_and_a_stated_error() -> None:
    wide = pd.DataFrame(RNG.normal(size=(200, 14)), columns=[f"c{i}" for i in range(14)])
    model = HistGradientBoostingRegressor(max_iter=15).fit(wide, 2 * wide.c0 + wide.c1 * wide.c2)
    predictor = _predictor(model, wide)
    first = explain_row(predictor, wide.iloc[[3]], wide, seed=5)
    again = explain_row(predictor, wide.iloc[[3]], wide, seed=5)
    other = explain_row(predictor, wide.iloc[[3]], wide, seed=6)
    assert first == again and first.contributions != other.contributions
    assert (
        first.method.startswith("sampled Shapley over 14 inputs") and "std. error" in first.method
    )
    error = float(first.method.rsplit("<= ", 1)[1])
    assert np.allclose(first.contributions, other.contributions, atol=8 * error)
    assert first.base_value + sum(first.contributions) == pytest.approx(first.prediction, abs=1e-9)
    assert first.top(1)[0][0] == "c0" or abs(wide.c0.iloc[3]) < 0.3
    imp = global_importance(predictor, wide, max_rows=20, seed=1)
    assert imp == global_importance(predictor, wide, max_rows=20, seed=1)
    assert next(iter(imp)) == "c0"


def test_multiclass_explains_the_predicted_class() -> None:
    predictor = _predictor(RandomForestClassifier(n_estimators=10, random_state=0), X, Y_3)
    proba = predictor.native.predict_proba(X.iloc[[8]])[0]
    e = explain_row(predictor, X.iloc[[8]])
    assert e.output == f"P(class={int(np.argmax(proba))})"
    assert e.prediction == pytest.approx(proba.max())
    gbm = _predictor(GradientBoostingClassifier(n_estimators=10), X, Y_3)
    e = explain_row(gbm, X.iloc[[8]])
    assert e.output.startswith("raw score of class ")
    assert e.base_value + sum(e.contributions) == pytest.approx(e.prediction, abs=1e-9)


def test_missing_values_follow_the_trees_default_direction() -> None:
    holes = X.copy()
    holes.loc[RNG.random(N) < 0.2, "x0"] = np.nan
    predictor = _predictor(DecisionTreeClassifier(max_depth=5, random_state=0), holes, Y_BIN)
    for i in np.flatnonzero(holes.x0.isna())[:3]:
        e = explain_row(predictor, holes.iloc[[i]])
        assert e.prediction == pytest.approx(predictor.native.predict_proba(holes.iloc[[i]])[0, 1])
        assert e.base_value + sum(e.contributions) == pytest.approx(e.prediction, abs=1e-12)


def test_an_array_model_is_explained_by_position() -> None:
    array = X.to_numpy()
    model = GradientBoostingRegressor(n_estimators=10).fit(array, Y_REG)
    predictor = Predictor(model, infer_signature(model, array[:5]))
    e = explain_row(predictor, {"f0": 2.0, "f1": 0.0, "f2": 0.0, "f3": 0.0})
    assert e.columns == ["f0", "f1", "f2", "f3"] and e.top(1)[0][0] == "f0"
    assert e.prediction == pytest.approx(model.predict(np.array([[2.0, 0, 0, 0]]))[0])


def test_bad_input_names_the_missing_column() -> None:
    predictor = _predictor(RandomForestRegressor(n_estimators=3), X, Y_REG)
    with pytest.raises(InvalidInput, match="row lacks the model's input column x2"):
        explain_row(predictor, {"x0": 1.0, "x1": 2.0, "x3": 0.0})
    with pytest.raises(InvalidInput, match=r"background lacks .* columns x1, x3"):
        explain_row(predictor, X.iloc[[0]], X[["x0", "x2"]])
    with pytest.raises(InvalidInput, match="one row at a time"):
        explain_row(predictor, X.iloc[:2])
    with pytest.raises(InvalidInput, match="mistyped"):
        explain_row(predictor, {"x0": "high", "x1": 2.0, "x2": 0.0, "x3": 0.0})
    with pytest.raises(InvalidInput, match="data lacks"):
        global_importance(predictor, X.drop(columns="x1"))


@pytest.mark.parametrize("model", [LogisticRegression(), _pipeline(), Formula()])
def test_no_background_where_one_is_needed_is_refused_clearly(model: Any) -> None:
    x = X_CAT if isinstance(model, type(_pipeline())) else X
    predictor = _predictor(model, x, None if isinstance(model, Formula) else Y_CAT)
    with pytest.raises(InvalidInput, match="needs a background dataset: pass a sample"):
        explain_row(predictor, x.iloc[[0]])


def test_top_sorts_by_absolute_contribution() -> None:
    e = Explanation(["a", "b", "c"], [1, 2, 3], [0.1, -0.5, 0.3], 0.0, -0.1, "P(class=1)", "m")
    assert e.top(2) == [("b", 2, -0.5), ("c", 3, 0.3)]
    assert e.top(10)[-1] == ("a", 1, 0.1)
