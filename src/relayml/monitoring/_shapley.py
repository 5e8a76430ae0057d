"""Model-agnostic Shapley values for relayml.monitoring.attributions: each input column one
player, its value replaced by background rows' where it is absent. Up to 12 inputs every one of
the 2^n coalitions is evaluated (exact); beyond, antithetic pairs of seeded random permutations
(sampled, with the largest standard error stated). Also what both this and the model-specific
methods explain (`pick`) and the result they hand back (`Result`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relayml.errors import InvalidInput
from relayml.models.predictor import Predictor

__all__ = ["BACKGROUND_ROWS", "ROW_BUDGET", "Result", "numbers", "pick", "plan", "shapley"]

EXACT_MAX_INPUTS = 12
BACKGROUND_ROWS = 200
ROW_BUDGET = 2**17  # model calls to explain one row


@dataclass
class Result:
    """What a method hands back: contributions per row and input, each row's base value and
    prediction, the name of the output explained, and the method's description."""

    phi: np.ndarray  # (rows, inputs)
    base: np.ndarray
    pred: np.ndarray
    outputs: list[str]
    method: str


def pick(predictor: Predictor, score: Any, what: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
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


def numbers(values: np.ndarray) -> np.ndarray:
    """predict() output as one float per row, or InvalidInput when it is not one number."""
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise InvalidInput(
            "only models with one numeric output (or class probabilities) can be explained; "
            f"this one gives {values.dtype} values of shape {values.shape[1:] or 'scalar'}."
        )
    return values.astype(np.float64)


def plan(inputs: int, n_background: int, budget: int) -> tuple[bool, int, int]:
    """(exact?, background rows, antithetic permutation pairs) within about budget model calls."""
    if inputs <= EXACT_MAX_INPUTS:
        return True, min(n_background, BACKGROUND_ROWS, max(8, budget >> inputs)), 0
    return False, min(n_background, BACKGROUND_ROWS), max(2, budget // (2 * (inputs + 1)))


def shapley(
    predictor: Predictor,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    rng: np.random.Generator,
    budget: int,
) -> Result:
    """Interventional Shapley values over the input columns: exact, or by sampled permutations."""
    n, inputs = rows.shape
    k: np.ndarray | None = None
    if predictor.signature.task == "classification":
        if not predictor.has_proba:
            raise InvalidInput(
                "this classifier gives labels without probabilities, so there is no number to "
                "explain; log a model with predict_proba()."
            )
        k, _, outputs = pick(predictor, predictor.predict_proba(rows), "P")
    else:
        outputs = ["predicted value"] * n
    exact, used, pairs = plan(inputs, len(background), budget)
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
        return Result(phi / math.factorial(inputs), v[:, 0], v[:, -1], outputs, method)
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
    return Result(paired.mean(axis=1), base, pred, outputs, method)


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
    chunk = max(1, ROW_BUDGET // calls)
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
            values = numbers(predictor.predict(design))
        else:
            chosen = np.repeat(k[lo : lo + chunk], calls)
            values = predictor.predict_proba(design)[np.arange(len(design)), chosen]
        out[lo : lo + chunk] = values.reshape(len(part), calls)
    return out
