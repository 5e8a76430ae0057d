"""One model version in a server: predicting a batch, naming its rows, deciding, logging.

Each batch is predicted once, its rows get prediction ids, the model's decision table (if any)
is applied, and the batch is handed to the log as one tuple of what is already at hand; the
log's thread makes the columns of many batches at once (relayml.serving.logrows), so a request
pays for a tuple, not for the log's columns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relayml.domain.decisions import DecisionResult, DecisionTable, decide
from relayml.domain.features_online import OnlineRow
from relayml.domain.serving import Variant
from relayml.errors import RelayError
from relayml.models.predictor import Predictor
from relayml.predictions import ParquetLog
from relayml.predictions.ids import new_prediction_ids
from relayml.predictions.layout import deployment_partition
from relayml.serving.batcher import Batcher, InFlight
from relayml.serving.codec import Columns, InputCodec
from relayml.serving.features import FeatureJoin
from relayml.serving.logbuffer import PredictionBuffer
from relayml.serving.logrows import Logged, RowBuilder

__all__ = [
    "LoadedVariant",
    "Prediction",
    "ServeOptions",
    "VariantContext",
]


@dataclass(frozen=True)
class ServeOptions:
    """How the server batches, logs and reloads."""

    max_batch_rows: int = 256
    max_wait: float = 0.0
    reload_interval: float = 1.0
    prediction_log: bool = True
    predict_in_thread: bool = False


@dataclass(frozen=True, slots=True)
class Prediction:
    """The answer for one request: a label or value per row, class probabilities, the rows'
    prediction ids and, when the model has a decision table, the action per row."""

    values: np.ndarray
    probabilities: np.ndarray | None
    ids: list[str] = field(default_factory=list)
    decisions: list[Any] | None = None
    features: list[dict[str, OnlineRow]] | None = None  # each row's looked-up values, by set


@dataclass(frozen=True)
class VariantContext:
    """Where a variant's answers go: its deployment's log partition and decision table."""

    project: str
    model: str
    partition: str
    log: ParquetLog | None = None
    decisions: DecisionTable | None = None
    decision_revision: int | None = None


_LogTargets = tuple[VariantContext, RowBuilder, RowBuilder, str, PredictionBuffer]
"""A context, its log builders (plain, keyed), its partition of the log, and the columns its
common batches are written into (relayml.serving.logbuffer)."""


class LoadedVariant:
    """One model version in memory, with its input codec and its batcher."""

    def __init__(
        self,
        predictor: Predictor,
        variant: Variant,
        label: str,
        passthrough: Sequence[str],
        options: ServeOptions,
        on_batch: Any = None,
        features: FeatureJoin | None = None,
        in_flight: InFlight | None = None,
    ) -> None:
        """With `features`, requests carry entity keys and the batch gets its features looked up;
        `in_flight` tells the batcher when no other request can join a batch."""
        self.predictor = predictor
        self.features = features
        self.version = int(predictor.version or 0)
        self.label = label
        self.mode = variant.mode
        self.weight = variant.weight
        signature = predictor.signature
        self.model_codec = InputCodec(signature)  # what the model takes
        request = features.request if features is not None else signature
        self.codec = InputCodec(request, passthrough)  # what a request carries
        self.classes = np.asarray(signature.classes) if signature.classes else None
        self.use_proba = predictor.has_proba and self.classes is not None
        names = self.model_codec.names
        self.as_array = self.model_codec.all_numeric and _takes_arrays(predictor.native, names)
        # rows the codec read as one float matrix hold JSON numbers only, so they are finite:
        # scikit-learn's own check of that (about a tenth of a small forest's predict) is skipped
        self._finite_context = _assume_finite() if self.as_array else None
        self.batcher: Batcher[Columns, Prediction] = Batcher(
            self._predict,
            lambda c: c.rows,
            max_rows=options.max_batch_rows,
            max_wait=options.max_wait,
            name=f"relay-{predictor.name}-{label}",
            on_batch=on_batch,
            in_flight=in_flight,
        )
        self.batcher.inline = not options.predict_in_thread
        self.context: VariantContext | None = None
        logged = [*self.codec.names, *self.model_codec.names]
        self._input_names = {name: f"input.{name}" for name in logged}
        self._logging: _LogTargets | None = None  # the current context's, once logged to

    def _predict(self, batch: Sequence[Columns]) -> list[Prediction]:
        """Predict a batch, name its rows, decide on them, log them once; split per request."""
        used: list[dict[str, OnlineRow]] | None = None
        if self.features is None:
            arrays, data = self.codec.batch_input(batch, as_array=self.as_array)
        else:  # one lookup for the whole batch; the log and decisions see the looked-up values
            rows = sum(item.rows for item in batch)
            arrays, used = self.features.complete(self.codec.join(batch), rows)
            model = self.model_codec
            data = model.to_model({n: arrays[n] for n in model.names}, as_array=self.as_array)
        if self._finite_context is not None and all(c.matrix is not None for c in batch):
            with self._finite_context():
                values, proba = self._model_answers(data)
        else:
            values, proba = self._model_answers(data)
        rows = sum(item.rows for item in batch)
        if rows != len(values):
            raise RelayError(f"the model returned {len(values)} predictions for {rows} rows.")
        now_ms = time.time_ns() // 1_000_000
        ids: list[str] = []
        for item in batch:
            if item.ids is not None:
                ids += item.ids
            else:  # a replayed request's ids carry its own time, as its log rows do
                ids += new_prediction_ids(
                    item.rows, now_ms if item.logged_at is None else item.logged_at
                )
        context = self.context
        decided = self._decide(context, arrays, values, proba)
        actions = decided.actions.tolist() if decided is not None else None
        if context is not None and context.log is not None:
            self._log(context, batch, arrays, values, proba, ids, decided, actions, now_ms)
        out: list[Prediction] = []
        start = 0
        for item in batch:
            end = start + item.rows
            out.append(
                Prediction(
                    values[start:end],
                    None if proba is None else proba[start:end],
                    ids[start:end],
                    None if actions is None else actions[start:end],
                    None if used is None else used[start:end],
                )
            )
            start = end
        return out

    def _model_answers(self, data: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """The model's answers for a batch, and its class probabilities when it has them."""
        native = self.predictor.native
        if self.use_proba:
            assert self.classes is not None
            proba = np.asarray(native.predict_proba(data), dtype=np.float64)
            return self.classes[proba.argmax(axis=1)], proba
        return np.asarray(native.predict(data)), None

    def _decide(
        self,
        context: VariantContext | None,
        arrays: dict[str, np.ndarray],
        values: np.ndarray,
        proba: np.ndarray | None,
    ) -> DecisionResult | None:
        if context is None or context.decisions is None:
            return None
        fields: dict[str, Any] = {**arrays, "prediction": values}
        if proba is not None and proba.shape[1] == 2:
            fields["score"] = proba[:, 1]
        return decide(context.decisions, fields)

    def _log(
        self,
        context: VariantContext,
        batch: Sequence[Columns],
        arrays: dict[str, np.ndarray],
        values: np.ndarray,
        proba: np.ndarray | None,
        ids: list[str],
        decided: DecisionResult | None,
        actions: list[Any] | None,
        now_ms: int,
    ) -> None:
        """Log the batch: the common shape written into its buffer's columns, any other handed
        to the log as it is (the log's thread makes its columns, in bulk)."""
        assert context.log is not None
        finished = time.perf_counter()
        keys: list[Any] | None = None
        if any(item.keys is not None for item in batch):
            keys = []
            for item in batch:
                keys += [None if k is None else str(k) for k in item.keys or [None] * item.rows]
        logging = self._logging
        if logging is None or logging[0] is not context:  # it changes with a redeploy
            if logging is not None:
                logging[4].retire()
            logging = self._logging = self._log_targets(context)
        rows: int | list[int]  # per request; a number when the batch is one request
        stamps: int | list[int]  # the logged time: now, or a replayed request's own
        latency: float | list[float]
        if len(batch) == 1:
            item = batch[0]
            rows = item.rows
            stamps = now_ms if item.logged_at is None else item.logged_at
            latency = (finished - item.received) * 1000 if item.received else 0.0
            # all-float rows: `arrays` are the columns of this matrix; the builder joins the
            # matrices of many batches at once instead of each column's arrays
            matrix = item.matrix if self.features is None else None
            if (
                matrix is not None
                and keys is None
                and decided is None
                and logging[4].add(ids, stamps, latency, values, proba, matrix, arrays)
            ):
                return  # written into the buffer's columns
        else:
            rows = [i.rows for i in batch]
            stamps = [now_ms if i.logged_at is None else i.logged_at for i in batch]
            latency = [(finished - i.received) * 1000 if i.received else 0.0 for i in batch]
            matrix = None
            if (
                self.features is None
                and keys is None
                and decided is None
                and all(i.matrix is not None for i in batch)
                and logging[4].add(
                    ids,
                    np.repeat(stamps, rows),  # each request's figures on each of its rows
                    np.repeat(latency, rows),
                    values,
                    proba,
                    np.concatenate([i.matrix for i in batch]),
                    arrays,
                )
            ):
                return
        rules = None if decided is None else decided.rule
        logged: Logged = (tuple(ids), rows, stamps, latency, values, proba, actions, rules, keys,
                          arrays, matrix)  # fmt: skip
        build = logging[2] if keys is not None else logging[1]
        context.log.append_built(logging[3], build, logged, len(ids))

    def _log_targets(self, context: VariantContext) -> _LogTargets:
        """Where a context's batches are logged: its builders (plain, keyed) and partition."""
        builders = [
            RowBuilder(
                context.model,
                self.version,
                self.label,
                self.mode,
                context.decision_revision,
                self._input_names,
                keyed,
            )
            for keyed in (False, True)
        ]
        partition = deployment_partition(context.project, context.partition)
        assert context.log is not None
        constants = {
            "model": context.model,
            "version": self.version,
            "variant": self.label,
            "mode": self.mode,
        }
        buffer = PredictionBuffer(context.log, partition, constants, self._input_names)
        return (context, builders[0], builders[1], partition, buffer)


def _takes_arrays(native: Any, names: list[str]) -> bool:
    """Whether a scikit-learn estimator fitted on a frame can take a float matrix instead.

    True for a plain estimator (not a pipeline or column transformer, which select columns by
    name) whose fitted feature names are the signature's columns in order; its remembered
    names are then dropped from this in-memory copy, so scikit-learn does not warn that the
    matrix has none. A 1-row DataFrame costs scikit-learn about 3x the predict itself.
    """
    module = type(native).__module__
    if not module.startswith("sklearn.") or module.startswith(
        ("sklearn.pipeline", "sklearn.compose")
    ):
        return False
    fitted = getattr(native, "feature_names_in_", None)
    if fitted is None or list(fitted) != names:
        return False
    try:
        del native.feature_names_in_
    except AttributeError:
        return False
    return True


def _assume_finite() -> Any:
    """A context in which scikit-learn does not check its input for NaN and infinity."""
    from functools import partial

    import sklearn

    return partial(sklearn.config_context, assume_finite=True)
