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

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relayml.errors import InvalidInput
from relayml.models.flavors import XGBoostBoosterModel
from relayml.models.predictor import Predictor
from relayml.models.signature import prepare_input
from relayml.monitoring._treeshap import node_values, tree_shap

__all__ = ["Explanation", "explain_row", "global_importance"]

_EXACT_MAX_INPUTS = 12
_BACKGROUND_ROWS = 200
_ROW_BUDGET = 2**17  # model calls to explain one row
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


@dataclass
class _Result:
    phi: np.ndarray  # (rows, inputs)
    base: np.ndarray
    pred: np.ndarray
    outputs: list[str]
    method: str


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
    result = _explain(predictor, frame, bg, np.random.default_rng(seed), _ROW_BUDGET)
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
        exact, used, pairs = _plan(inputs, min(len(frame), _BACKGROUND_ROWS), _GLOBAL_ROW_BUDGET)
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
) -> _Result:
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
    return _shapley(predictor, rows, background, rng, budget)


def _pick(predictor: Predictor, score: Any, what: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per row: the column of score explained, its value, and its name.

    score is (rows, 1) for a regression value or a binary classifier's raw score (the positive
    class's), (rows, classes) for probabilities or multiclass raw scores. what: "value", "P",
    "log-odds" or "decision score".
    """
    score = np.asarray(score, dtype=np.float64).reshape(len(score), -1)
    n, width = score.shape
    k = np.argmax(score, axis=1) if width > 2 else np.full(n, width - 1)
    value = score[np.arange(n), k]
    if what == "value":
        if width > 1:
            raise InvalidInput("only single-output regression models can be explained.")
        return k, value, ["predicted value"] * n
    classes = predictor.signature.classes or list(getattr(predictor.native, "classes_", []))
    labels = [classes[i] if i < len(classes) else i for i in k + (width == 1)]
    if what == "P":
        return k, value, [f"P(class={c})" for c in labels]
    if width == 1:
        return k, value, [f"{what} of P(class={c})" for c in labels]
    return k, value, [f"raw score of class {c}" for c in labels]


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


def _numbers(values: np.ndarray) -> np.ndarray:
    """predict() output as one float per row, or InvalidInput when it is not one number."""
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise InvalidInput(
            "only models with one numeric output (or class probabilities) can be explained; "
            f"this one gives {values.dtype} values of shape {values.shape[1:] or 'scalar'}."
        )
    return values.astype(np.float64)


def _linear(predictor: Predictor, rows: pd.DataFrame, background: pd.DataFrame) -> _Result:
    native = predictor.native
    prepared, x = _model_matrix(predictor, rows, np.float64)
    mean = _model_matrix(predictor, background, np.float64)[1].mean(axis=0)
    coef = np.atleast_2d(np.asarray(native.coef_, dtype=np.float64))
    intercept = np.broadcast_to(np.asarray(native.intercept_, dtype=np.float64), coef.shape[:1])
    if predictor.signature.task == "classification":
        what = "log-odds" if "Logistic" in type(native).__name__ else "decision score"
        k, pred, outputs = _pick(predictor, native.decision_function(prepared), what)
    else:
        k, pred, outputs = _pick(predictor, _numbers(predictor.predict(rows)), "value")
    phi = coef[k] * (x - mean)
    method = f"linear (exact): coef * (x - mean of {len(background)} background rows)"
    features = getattr(native, "feature_names_in_", None)
    return _Result(
        _to_inputs(phi, predictor, features), intercept[k] + coef[k] @ mean, pred, outputs, method
    )


def _boosted_library(predictor: Predictor, rows: pd.DataFrame, kind: str) -> _Result:
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
    k, pred, outputs = _pick(predictor, raw, "log-odds" if classifier else "value")
    n, width = len(rows), np.asarray(raw).reshape(len(rows), -1).shape[1]
    chosen = np.asarray(contrib, dtype=np.float64).reshape(n, width, -1)[np.arange(n), k]
    if not classifier and not np.allclose(_numbers(predictor.predict(rows)), pred, rtol=1e-5):
        outputs = ["raw score (before the link function)"] * n
    return _Result(
        _to_inputs(chosen[:, :-1], predictor, features),
        chosen[:, -1],
        pred,
        outputs,
        f"tree SHAP (exact, path-dependent, by {name})",
    )


def _sklearn_trees(predictor: Predictor, rows: pd.DataFrame) -> _Result:
    """sklearn trees, forests (mean of trees) and gradient boosting (raw score) by tree SHAP."""
    from sklearn.base import is_classifier
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

    native = predictor.native
    prepared, x = _model_matrix(predictor, rows, np.float32)  # sklearn trees compare float32
    boosted = isinstance(native, GradientBoostingClassifier | GradientBoostingRegressor)
    classifier = is_classifier(native)
    if boosted and classifier:
        what = "log-odds" if getattr(native, "loss", "") == "log_loss" else "raw score"
        k, pred, outputs = _pick(predictor, native.decision_function(prepared), what)
    elif classifier:
        k, pred, outputs = _pick(predictor, native.predict_proba(prepared), "P")
    else:
        k, pred, outputs = _pick(predictor, _numbers(native.predict(prepared)), "value")
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
    return _Result(_to_inputs(phi, predictor, features), base, pred, outputs, method)


def _plan(inputs: int, n_background: int, budget: int) -> tuple[bool, int, int]:
    """(exact?, background rows, antithetic permutation pairs) within about budget model calls."""
    if inputs <= _EXACT_MAX_INPUTS:
        return True, min(n_background, _BACKGROUND_ROWS, max(8, budget >> inputs)), 0
    return False, min(n_background, _BACKGROUND_ROWS), max(2, budget // (2 * (inputs + 1)))


def _shapley(
    predictor: Predictor,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    rng: np.random.Generator,
    budget: int,
) -> _Result:
    """Interventional Shapley values over the input columns: exact, or by sampled permutations."""
    n, inputs = rows.shape
    k: np.ndarray | None = None
    if predictor.signature.task == "classification":
        if not predictor.has_proba:
            raise InvalidInput(
                "this classifier gives labels without probabilities, so there is no number to "
                "explain; log a model with predict_proba()."
            )
        k, _, outputs = _pick(predictor, predictor.predict_proba(rows), "P")
    else:
        outputs = ["predicted value"] * n
    exact, used, pairs = _plan(inputs, len(background), budget)
    bg = background.iloc[np.sort(rng.choice(len(background), used, replace=False))]
    if exact:
        masks = (np.arange(2**inputs)[:, None] >> np.arange(inputs)) & 1 == 1
        value = _evaluate(predictor, rows, bg, np.repeat(masks, used, axis=0)[None], k)
        v = value.reshape(n, 2**inputs, used).mean(axis=2)
        size = masks.sum(axis=1)
        weight = [math.factorial(s) * math.factorial(max(inputs - s - 1, 0)) for s in size]
        phi = np.zeros((n, inputs))
        for i in range(inputs):
            without = np.flatnonzero(~masks[:, i])
            phi[:, i] = (v[:, without | (1 << i)] - v[:, without]) @ np.take(weight, without)
        method = f"exact Shapley over {inputs} inputs, {used} background rows"
        return _Result(phi / math.factorial(inputs), v[:, 0], v[:, -1], outputs, method)
    orders = rng.permuted(np.tile(np.arange(inputs), (n, pairs, 1)), axis=2)
    orders = np.concatenate([orders, orders[:, :, ::-1]], axis=1)  # antithetic pairs
    steps = np.argsort(orders, axis=2)[:, :, None, :] < np.arange(inputs + 1)[:, None]
    which = np.repeat(np.tile(np.arange(pairs) % used, 2), inputs + 1)  # one bg row per pair
    value = _evaluate(predictor, rows, bg, steps.reshape(n, -1, inputs), k, which)
    value = value.reshape(n, 2 * pairs, inputs + 1)
    marginal = np.zeros((n, 2 * pairs, inputs))
    np.put_along_axis(marginal, orders, np.diff(value, axis=2), axis=2)
    paired = (marginal[:, :pairs] + marginal[:, pairs:]) / 2
    error = float((paired.std(axis=1, ddof=1) / math.sqrt(pairs)).max())
    method = (
        f"sampled Shapley over {inputs} inputs: {pairs} antithetic permutation pairs, "
        f"{used} background rows, seeded; std. error <= {error:.2g}"
    )
    base, pred = value[:, :, 0].mean(axis=1), value[:, 0, -1]
    return _Result(paired.mean(axis=1), base, pred, outputs, method)


def _evaluate(
    predictor: Predictor,
    rows: pd.DataFrame,
    bg: pd.DataFrame,
    masks: np.ndarray,
    k: np.ndarray | None,
    which: np.ndarray | None = None,
) -> np.ndarray:
    """The explained output for each row and mask: the row's values where True, else bg's.

    masks is (1 or rows, calls, inputs); call i uses background row which[i] (default: cycling).
    """
    calls = masks.shape[1]
    which = np.arange(calls) % len(bg) if which is None else which
    out = np.zeros((len(rows), calls))
    chunk = max(1, _ROW_BUDGET // calls)
    for lo in range(0, len(rows), chunk):
        part = rows.iloc[lo : lo + chunk]
        mask = masks if masks.shape[0] == 1 else masks[lo : lo + chunk]
        design = pd.DataFrame(
            {
                name: np.where(
                    mask[:, :, j], part[name].to_numpy()[:, None], bg[name].to_numpy()[which]
                ).ravel()
                for j, name in enumerate(rows.columns)
            }
        )
        if k is None:
            values = _numbers(predictor.predict(design))
        else:
            chosen = np.repeat(k[lo : lo + chunk], calls)
            values = predictor.predict_proba(design)[np.arange(len(design)), chosen]
        out[lo : lo + chunk] = values.reshape(len(part), calls)
    return out
