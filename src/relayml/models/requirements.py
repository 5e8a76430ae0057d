"""The pinned distributions a saved model needs to load and predict."""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib import metadata
from typing import Any

__all__ = ["requirements_for"]

# The libraries each flavor loads and predicts with, as import names.
_FLAVOR_MODULES: dict[str, tuple[str, ...]] = {
    "sklearn": ("sklearn",),
    "xgboost": ("xgboost",),
    "lightgbm": ("lightgbm",),
    "onnx": ("onnxruntime", "onnx"),
    "pyfunc": ("cloudpickle",),
}
# What relayml's predictor itself runs on.
_ALWAYS = ("numpy", "pandas")
_SELF = "relayml"


@lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


def _top(module: object) -> str | None:
    if not isinstance(module, str) or not module:
        return None
    return module.split(".")[0]


def _modules_of(value: Any) -> set[str]:
    """Top-level modules of a value's class (or of the value itself if it is a class/function)."""
    found: set[str] = set()
    if isinstance(value, type) or (callable(value) and hasattr(value, "__module__")):
        top = _top(getattr(value, "__module__", None))
        if top is not None:
            found.add(top)
    if not isinstance(value, type):
        top = _top(type(value).__module__)
        if top is not None:
            found.add(top)
    return found


def _class_modules(model: Any) -> set[str]:
    """Top-level modules of every class the object's class derives from."""
    found = {top for cls in type(model).__mro__ if (top := _top(cls.__module__)) is not None}
    return found | _modules_of(model)


def _is_estimator(value: Any) -> bool:
    return callable(getattr(value, "get_params", None)) and not isinstance(value, type)


def _estimator_modules(model: Any) -> set[str]:
    """Modules of an sklearn-style estimator and of every estimator or function among its params.

    get_params(deep=True) reaches Pipeline steps, ColumnTransformer transformers, FeatureUnion
    parts, ensembles' base estimators and FunctionTransformer functions alike.
    """
    found = _class_modules(model)
    try:
        params = model.get_params(deep=True)
    except Exception:  # a third-party get_params that needs more than this: keep the class
        return found
    for value in params.values():
        if value is None or isinstance(value, str | int | float | bool):
            continue
        found |= _modules_of(value)
        if isinstance(value, list | tuple):
            for item in value:
                # Pipeline steps are (name, estimator) pairs.
                for part in item if isinstance(item, tuple) else (item,):
                    if not isinstance(part, str | int | float | bool) and part is not None:
                        found |= _modules_of(part)
    return found


def _pyfunc_modules(model: Any) -> set[str]:
    """Modules of the object's classes and of its attribute values, one level deep."""
    found = _class_modules(model)
    attributes = getattr(model, "__dict__", None)
    if not isinstance(attributes, dict):
        return found
    for value in attributes.values():
        if isinstance(value, dict):
            parts = list(value.values())
        elif isinstance(value, list | tuple | set | frozenset):
            parts = list(value)
        else:
            parts = [value]
        for part in parts:
            if part is None or isinstance(part, str | int | float | bool | bytes):
                continue
            found |= _estimator_modules(part) if _is_estimator(part) else _modules_of(part)
    return found


def _pin(distribution: str) -> str | None:
    try:
        return f"{distribution}=={metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return None


def requirements_for(model: Any, flavor: str) -> list[str]:
    """Exact 'name==version' pins of what the model needs, relayml included; sorted, unique."""
    modules = set(_ALWAYS) | set(_FLAVOR_MODULES.get(flavor, ()))
    if flavor == "pyfunc":
        modules |= _pyfunc_modules(model)
    elif _is_estimator(model):
        # sklearn estimators and the sklearn wrappers of XGBoost and LightGBM.
        modules |= _estimator_modules(model)
    distributions = _distributions()
    names: set[str] = set()
    for module in modules:
        if module in sys.stdlib_module_names or module == _SELF or module.startswith("_"):
            continue
        names.update(distributions.get(module, ()))
    names.discard(_SELF)
    pins = {pin for name in names if (pin := _pin(name)) is not None}
    pins.add(f"{_SELF}=={metadata.version(_SELF)}")
    return sorted(pins, key=str.lower)
