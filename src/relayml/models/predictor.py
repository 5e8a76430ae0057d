"""The predictor: one interface over every model flavor."""

from __future__ import annotations

from typing import Any

import numpy as np

from relayml.domain.models import Signature
from relayml.errors import InvalidInput
from relayml.models.flavors import predictable
from relayml.models.signature import prepare_input

__all__ = ["Predictor"]


class Predictor:
    """One interface over every flavor: predict, and predict_proba where the flavor has it.

    Input is checked against the signature first (see prepare_input), so a wrong column never
    reaches the model. Errors the model itself raises on valid input propagate unchanged.
    """

    def __init__(
        self,
        native: Any,
        signature: Signature,
        *,
        name: str = "",
        version: int | None = None,
        flavor: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        self.details: dict[str, Any] = dict(details or {})
        self.native = predictable(native)
        self.signature = signature
        self.name = name
        self.version = version
        self.flavor = flavor

    @property
    def has_proba(self) -> bool:
        """Whether predict_proba is available for this model."""
        return self.signature.has_proba and callable(getattr(self.native, "predict_proba", None))

    def predict(self, data: Any) -> np.ndarray:
        """Check the input against the signature and return the model's predictions."""
        return np.asarray(self.native.predict(prepare_input(self.signature, data)))

    def predict_proba(self, data: Any) -> np.ndarray:
        """Return class probabilities, one row per input row and one column per class."""
        if not self.has_proba:
            raise InvalidInput(
                f"{self._label()} gives no probabilities: "
                + (
                    "it is not a classifier"
                    if self.signature.task != "classification"
                    else "its model has no predict_proba()"
                )
                + "; call predict() instead."
            )
        return np.asarray(self.native.predict_proba(prepare_input(self.signature, data)))

    def _label(self) -> str:
        ref = self.name or "the model"
        if self.version is not None:
            ref = f"{ref}/{self.version}"
        return f"{ref} ({self.flavor})" if self.flavor else ref

    def __repr__(self) -> str:
        ref = self.name or "model"
        if self.version is not None:
            ref = f"{ref}/{self.version}"
        return f"<Predictor {ref} {self.flavor}>" if self.flavor else f"<Predictor {ref}>"
