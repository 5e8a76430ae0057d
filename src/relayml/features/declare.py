"""Definitions declared in a Python module, gathered for `relay features apply module.py`.

Every module-level Entity, FeatureSet and on-demand feature set (``@on_demand``) is a
definition; other names are ignored. The module is imported under its file's stem, so that an
on-demand function's ``module:qualname`` resolves where that module is on PYTHONPATH.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from relayml.domain.features import Entity, FeatureSet, Spec, kind_of
from relayml.errors import InvalidInput
from relayml.features.ondemand import OnDemand

__all__ = ["load_definitions", "specs_of"]


def specs_of(objects: list[Any]) -> list[dict[str, Any]]:
    """The specs of declared objects (Entity, FeatureSet, OnDemand...), as the registry takes."""
    specs = []
    for item in objects:
        declared: Spec = item.definition if isinstance(item, OnDemand) else item
        spec: dict[str, Any] = declared.model_dump(mode="json")
        spec["kind"] = kind_of(declared)
        specs.append(spec)
    return specs


def load_definitions(path: str | Path) -> list[dict[str, Any]]:
    """Import the module at path and return the specs of the definitions it declares."""
    file = Path(path)
    if not file.is_file() or file.suffix != ".py":
        raise InvalidInput(f"{path}: not a Python file; pass the module that declares features.")
    name = file.stem
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"{path}: cannot be imported as a module.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(file.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{path}: a definition is invalid: {where}: {first['msg']}.") from None
    found = [
        value
        for key, value in vars(module).items()
        if not key.startswith("_") and isinstance(value, Entity | FeatureSet | OnDemand)
    ]
    if not found:
        raise InvalidInput(
            f"{path} declares no Entity, FeatureSet or on-demand feature set at module level."
        )
    return specs_of(found)
