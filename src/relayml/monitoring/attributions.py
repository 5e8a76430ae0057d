"""Attributions (the algorithms): how much each input column moved one prediction, and
importance per model. `relayml.monitoring.explanations` is the service that applies them to
logged predictions and model versions.

    explain_row(predictor, row, background)    one prediction -> Explanation
    global_importance(predictor, data)         mean |contribution| per input column

Contributions are Shapley values over the model's INPUT columns (its signature's) and add up:
base_value + sum(contributions) == prediction. The method depends on the model (`.native`):

    sklearn DecisionTree, RandomForest, ExtraTrees, GradientBoosting (one output)
        tree SHAP, path-dependent, exact (Lundberg et al. 2020; computed here)    no background
    XGBoost, LightGBM (sklearn wrappers or Boosters)
        the library's own exact tree SHAP (pred_contribs / pred_contrib)          no background
    sklearn linear models (identity link; not Poisson/Gamma/Tweedie)
        exact: coef * (x - background mean)                                     background needed
    anything else (Pipelines incl. ColumnTransformer/OneHotEncoder, ONNX, pyfunc, ...)
        <= 12 inputs: exact interventional Shapley over all 2^n coalitions      background needed
        more inputs: sampled Shapley, antithetic permutation pairs (seeded)     background needed

Path-dependent tree SHAP needs no background: the trees' training covers stand in for it. The
model-agnostic methods treat each input column as one player, so a column one-hot encoded inside
a Pipeline gets one contribution (the exact Shapley value of the column), not one per category.
They use at most 200 background rows (fewer with many inputs: 2^n * rows stays near 2^17 model
calls); sampling spends as many calls, each antithetic pair against one background row, and
`method` states the largest standard error of a contribution. global_importance spends 2^13
calls per row and explains fewer rows than max_rows when a model is costly to explain.

What is explained (`output`): for regression the predicted value; for classifiers P(class=c),
c the positive class (binary) or the predicted one (multiclass). Boosted trees and linear
classifiers are additive in their raw score, so they explain that: "log-odds of P(class=c)"
(binary) or "raw score of class c" (multiclass). Additivity holds to float rounding (1e-9) for
every method, the sampled one included; XGBoost computes in float32: there to ~1e-6 relative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relayml.errors import InvalidInput
from relayml.models.flavors import XGBoostBoosterModel
from relayml.models.predictor import Predictor
from relayml.models.signature import prepare_input
from relayml.monitoring._shapley import (
    BACKGROUND_ROWS,
    ROW_BUDGET,
    Result,
    numbers,
    pick,
    plan,
    shapley,
)
from relayml.monitoring._treeshap import node_values, tree_shap

__all__ = ["Explanation", "explain_row", "global_importance"]

_GLOBAL_ROW_BUDGET = 2**13  # model calls per row in global_importance
_GLOBAL_BUDGET = 2**20  # model calls for all rows of global_importance
_TREE_BUDGET = 2**27  # array steps of tree SHAP for all rows of global_importance (~10 s)


@dataclass(frozen=True)
class Explanation:
    """Per-input contributions to one prediction: base_value + sum(contributions) == prediction."""

    columns: list[str]
    values: list[Any]
    contributions: list[float]
    base_value: float
    prediction: float
    output: str
    method: str

    def top(self, n: int = 10) -> list[tuple[str, Any, float]]:
        """The n inputs with the largest |contribution|: (column, value, contribution)."""
        order = sorted(range(len(self.columns)), key=lambda i: -abs(self.contributions[i]))
        return [(self.columns[i], self.values[i], self.contributions[i]) for i in order[:n]]


def explain_row(
    predictor: Predictor,
    row: Mapping[str, Any] | pd.DataFrame,
    background: pd.DataFrame | None = None,
    *,
    seed: int = 0,
) -> Explanation:
    """Explain one prediction: each input column's contribution to the model's output."""
    frame = _frame(predictor, pd.DataFrame([dict(row)]) if isinstance(row, Mapping) else row, "row")
    if len(frame) != 1:
        raise InvalidInput(f"explain one row at a time; got {len(frame)} rows.")
    bg = None if background is None else _frame(predictor, background, "background")
    result = _explain(predictor, frame, bg, np.random.default_rng(seed), ROW_BUDGET)
    return Explanation(
        columns=list(frame.columns),
        values=[v.item() if isinstance(v, np.generic) else v for v in frame.iloc[0].tolist()],
        contributions=[float(v) for v in result.phi[0]],
        base_value=float(result.base[0]),
        prediction=float(result.pred[0]),
        output=result.outputs[0],
        method=result.method,
    )


def global_importance(
    predictor: Predictor, data: pd.DataFrame, *, max_rows: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Mean |contribution| per input column over (a sample of) data, largest first.

    data doubles as the background. Fewer than max_rows are explained when the model is costly
    to explain (see _affordable_rows): at least 16.
    """
    background = _frame(predictor, data, "data")
    rng = np.random.default_rng(seed)
    rows = min(max_rows, _affordable_rows(predictor.native, background))
    frame = background
    if len(frame) > rows:
        frame = frame.iloc[np.sort(rng.choice(len(frame), rows, replace=False))]
    means = np.abs(_explain(predictor, frame, background, rng, _GLOBAL_ROW_BUDGET).phi).mean(0)
    order = sorted(range(len(means)), key=lambda i: -means[i])
    return {str(frame.columns[i]): float(means[i]) for i in order}


def _affordable_rows(native: Any, frame: pd.DataFrame) -> int:
    """How many rows global_importance can explain within its budget (at least 16)."""
    kind, inputs = _kind(native), int(frame.shape[1])
    if kind == "agnostic":  # model calls per row
        exact, used, pairs = plan(inputs, min(len(frame), BACKGROUND_ROWS), _GLOBAL_ROW_BUDGET)
        cost = (2**inputs) * used if exact else 2 * pairs * (inputs + 1)
        return max(16, int(_GLOBAL_BUDGET // cost))
    if kind == "sklearn-trees":  # leaves * (features per path)^2 array steps per row
        trees = [e.tree_ for e in np.ravel(getattr(native, "estimators_", [native]))]
        depth = min(inputs, max(int(t.max_depth) for t in trees)) + 1
        return max(16, _TREE_BUDGET // (sum(int(t.n_leaves) for t in trees) * depth**2))
    return len(frame)


def _frame(predictor: Predictor, data: Any, what: str) -> pd.DataFrame:
    """The signature's columns of data, checked and converted; InvalidInput naming what lacks."""
    names = [spec.name for spec in predictor.signature.inputs]
    if not isinstance(data, pd.DataFrame):
        raise InvalidInput(f"the {what} must be a pandas DataFrame or a dict of input values.")
    missing = [name for name in names if name not in data.columns]
    if missing:
        s = "s" if len(missing) > 1 else ""
        raise InvalidInput(f"the {what} lacks the model's input column{s} {', '.join(missing)}.")
    if data.empty:
        raise InvalidInput(f"the {what} has no rows.")
    prepared = prepare_input(predictor.signature, data[names].reset_index(drop=True))
    return prepared if isinstance(prepared, pd.DataFrame) else pd.DataFrame(prepared, columns=names)


def _kind(native: Any) -> str:
    """Which method explains the model: xgboost, lightgbm, sklearn-trees, linear or agnostic."""
    modules = {cls.__module__.split(".")[0] for cls in type(native).__mro__}
    if isinstance(native, XGBoostBoosterModel) or "xgboost" in modules:
        return "xgboost"
    if "lightgbm" in modules:
        return "lightgbm"
    if "sklearn" in modules:
        from sklearn import ensemble as ens
        from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor
        from sklearn.svm import LinearSVC, LinearSVR
        from sklearn.tree import BaseDecisionTree

        trees = (
            *(BaseDecisionTree, ens.RandomForestClassifier, ens.RandomForestRegressor),
            *(ens.ExtraTreesClassifier, ens.ExtraTreesRegressor),
            *(ens.GradientBoostingClassifier, ens.GradientBoostingRegressor),
        )
        if isinstance(native, trees):
            return "sklearn-trees" if getattr(native, "n_outputs_", 1) == 1 else "agnostic"
        linear = any(c.__module__.startswith("sklearn.linear_model") for c in type(native).__mro__)
        glm = isinstance(native, GammaRegressor | PoissonRegressor | TweedieRegressor)
        if (linear or isinstance(native, LinearSVC | LinearSVR)) and not glm:
            return "linear" if hasattr(native, "coef_") else "agnostic"
    return "agnostic"


def _explain(
    predictor: Predictor,
    rows: pd.DataFrame,
    background: pd.DataFrame | None,
    rng: np.random.Generator,
    budget: int,
) -> Result:
    kind = _kind(predictor.native)
    if kind in ("xgboost", "lightgbm"):
        return _boosted_library(predictor, rows, kind)
    if kind == "sklearn-trees":
        return _sklearn_trees(predictor, rows)
    if background is None:
        raise InvalidInput(
            f"explaining this model ({type(predictor.native).__name__}) needs a background "
            "dataset: pass a sample of its training data (only tree models need none)."
        )
    if kind == "linear":
        return _linear(predictor, rows, background)
    return shapley(predictor, rows, background, rng, budget)


def _model_matrix(predictor: Predictor, rows: pd.DataFrame, dtype: Any) -> tuple[Any, np.ndarray]:
    """The rows as the model takes them, and as a float matrix in the model's feature order."""
    prepared = prepare_input(predictor.signature, rows)
    names = getattr(predictor.native, "feature_names_in_", None)
    table = prepared if names is None or not hasattr(prepared, "columns") else prepared[list(names)]
    return prepared, np.asarray(table, dtype=dtype).astype(np.float64)


def _to_inputs(phi: np.ndarray, predictor: Predictor, features: Any) -> np.ndarray:
    """Contributions per model feature as contributions per signature input (in its order)."""
    names = [spec.name for spec in predictor.signature.inputs]
    if features is not None and set(features) <= set(names):
        index = [names.index(f) for f in features]
    elif phi.shape[1] == len(names):
        index = list(range(len(names)))
    else:
        raise InvalidInput(f"the model has {phi.shape[1]} features, its signature {len(names)}.")
    out = np.zeros((phi.shape[0], len(names)))
    out[:, index] = phi
    return out


def _linear(predictor: Predictor, rows: pd.DataFrame, background: pd.DataFrame) -> Result:
    native = predictor.native
    prepared, x = _model_matrix(predictor, rows, np.float64)
    mean = _model_matrix(predictor, background, np.float64)[1].mean(axis=0)
    coef = np.atleast_2d(np.asarray(native.coef_, dtype=np.float64))
    intercept = np.broadcast_to(np.asarray(native.intercept_, dtype=np.float64), coef.shape[:1])
    if predictor.signature.task == "classification":
        what = "log-odds" if "Logistic" in type(native).__name__ else "decision score"
        k, pred, outputs = pick(predictor, native.decision_function(prepared), what)
    else:
        k, pred, outputs = pick(predictor, numbers(predictor.predict(rows)), "value")
    phi = coef[k] * (x - mean)
    method = f"linear (exact): coef * (x - mean of {len(background)} background rows)"
    features = getattr(native, "feature_names_in_", None)
    return Result(
        _to_inputs(phi, predictor, features), intercept[k] + coef[k] @ mean, pred, outputs, method
    )


def _boosted_library(predictor: Predictor, rows: pd.DataFrame, kind: str) -> Result:
    """XGBoost's and LightGBM's own exact tree SHAP, of the raw score."""
    native, prepared = predictor.native, prepare_input(predictor.signature, rows)
    if kind == "xgboost":
        import xgboost

        booster = native.booster if isinstance(native, XGBoostBoosterModel) else native
        booster = booster.get_booster() if hasattr(booster, "get_booster") else booster
        try:
            iterations = (0, int(booster.best_iteration) + 1)
        except AttributeError:  # no early stopping: every tree
            iterations = (0, 0)
        matrix = xgboost.DMatrix(prepared, enable_categorical=True)
        contrib = booster.predict(matrix, pred_contribs=True, iteration_range=iterations)
        raw = booster.predict(matrix, output_margin=True, iteration_range=iterations)
        features, name = booster.feature_names, "XGBoost"
    else:
        contrib = native.predict(prepared, pred_contrib=True)
        raw = native.predict(prepared, raw_score=True)
        features, name = getattr(native, "booster_", native).feature_name(), "LightGBM"
    classifier = predictor.signature.task == "classification"
    k, pred, outputs = pick(predictor, raw, "log-odds" if classifier else "value")
    n, width = len(rows), np.asarray(raw).reshape(len(rows), -1).shape[1]
    chosen = np.asarray(contrib, dtype=np.float64).reshape(n, width, -1)[np.arange(n), k]
    if not classifier and not np.allclose(numbers(predictor.predict(rows)), pred, rtol=1e-5):
        outputs = ["raw score (before the link function)"] * n
    return Result(
        _to_inputs(chosen[:, :-1], predictor, features),
        chosen[:, -1],
        pred,
        outputs,
        f"tree SHAP (exact, path-dependent, by {name})",
    )


def _sklearn_trees(predictor: Predictor, rows: pd.DataFrame) -> Result:
    """sklearn trees, forests (mean of trees) and gradient boosting (raw score) by tree SHAP."""
    from sklearn.base import is_classifier
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

    native = predictor.native
    prepared, x = _model_matrix(predictor, rows, np.float32)  # sklearn trees compare float32
    boosted = isinstance(native, GradientBoostingClassifier | GradientBoostingRegressor)
    classifier = is_classifier(native)
    if boosted and classifier:
        what = "log-odds" if getattr(native, "loss", "") == "log_loss" else "raw score"
        k, pred, outputs = pick(predictor, native.decision_function(prepared), what)
    elif classifier:
        k, pred, outputs = pick(predictor, native.predict_proba(prepared), "P")
    else:
        k, pred, outputs = pick(predictor, numbers(native.predict(prepared)), "value")
    phi, base = np.zeros(x.shape), np.zeros(len(x))
    for c in np.unique(k):
        at = np.flatnonzero(k == c)
        if boosted:
            rate = float(native.learning_rate)
            trees = [(e.tree_, e.tree_.value[:, 0, 0], rate) for e in native.estimators_[:, c]]
            x32 = np.ascontiguousarray(x[at], dtype=np.float32)
            leaves = sum(rate * t.value[t.apply(x32), 0, 0] for t, _, _ in trees)
            offset = pred[at] - leaves  # the init estimator's raw prediction
        else:
            estimators = getattr(native, "estimators_", [native])
            share = 1 / len(estimators)
            trees = [(e.tree_, node_values(e.tree_, int(c), classifier), share) for e in estimators]
            offset = np.zeros(len(at))
        phi[at], expected = tree_shap(trees, x[at])
        base[at] = offset + expected
    features = getattr(native, "feature_names_in_", None)
    method = "tree SHAP (exact, path-dependent)"
    return Result(_to_inputs(phi, predictor, features), base, pred, outputs, method)
