"""A pipeline named on the command line ('package.module:name' or 'path/to/file.py:name') and
its --param key=value pairs, each converted to the type its parameter declares (used by `relay
pipelines run` and `relay schedules add`)."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import sys
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relayml.errors import InvalidInput

if TYPE_CHECKING:
    from relayml.pipelines.runner import Pipeline

__all__ = ["load_pipeline", "parse_params"]

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def load_pipeline(target: str) -> Pipeline:
    """The pipeline named by 'package.module:name' or 'path/to/file.py:name'."""
    from relayml.pipelines.runner import Pipeline

    module_name, _, attribute = target.rpartition(":")
    if not module_name or not attribute:
        raise InvalidInput(
            f"{target!r} does not name a pipeline; write module:pipeline "
            "(flows.churn:churn_data) or path/to/file.py:pipeline."
        )
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise InvalidInput(f"cannot load pipeline {target!r}: {path} is not a file.")
        name = path.stem
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        sys.path.insert(0, str(path.resolve().parent))
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise InvalidInput(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    else:
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))  # like `python -m`: the current folder imports
        _forget_if_moved(module_name)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InvalidInput(
                f"cannot import module {module_name!r} ({exc}); run from the folder that holds "
                "it or install its package."
            ) from exc
    found = getattr(module, attribute, None)
    if not isinstance(found, Pipeline):
        names = sorted(k for k, v in vars(module).items() if isinstance(v, Pipeline))
        what = "does not exist" if found is None else "is not marked @relay.pipeline"
        raise InvalidInput(
            f"{module_name}:{attribute} {what} (pipelines in {module_name}: "
            f"{', '.join(names) or 'none'})."
        )
    return found  # the Dask executor ships its module to the workers


def _forget_if_moved(module_name: str) -> None:
    """Drop an imported package whose files are no longer the ones the path finds now (another
    folder's `flows` imported earlier in this process), so the import below reads the right one."""
    top = module_name.partition(".")[0]
    loaded = getattr(sys.modules.get(top), "__file__", None)
    if loaded is None:
        return
    found = importlib.machinery.PathFinder.find_spec(top, sys.path)
    if found is None or found.origin is None:
        return
    if Path(found.origin).resolve() != Path(loaded).resolve():
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]


def _kind(pipe: Pipeline, key: str) -> Any:
    parameter = pipe.signature.parameters[key]
    try:
        hints = typing.get_type_hints(pipe.fn)
    except Exception:  # unresolvable annotations: fall back to their text
        hints = {}
    hint = hints.get(key, parameter.annotation)
    names = {"int": int, "float": float, "bool": bool, "str": str}
    if isinstance(hint, str):
        hint = names.get(hint, hint)
    if hint in (int, float, bool, str):
        return hint
    default = parameter.default
    if default is not parameter.empty and type(default) in (int, float, bool, str):
        return type(default)
    return None


def parse_params(pipe: Pipeline, pairs: list[str]) -> dict[str, Any]:
    """key=value pairs, each converted to the type the pipeline's parameter declares."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(f"--param {pair!r} must look like key=value.")
        if key not in pipe.signature.parameters:
            takes = ", ".join(pipe.signature.parameters) or "none"
            raise InvalidInput(
                f"pipeline {pipe.name} has no parameter {key!r} (it takes: {takes})."
            )
        kind = _kind(pipe, key)
        try:
            if kind is bool:
                if text.lower() not in _TRUE | _FALSE:
                    raise ValueError(text)
                params[key] = text.lower() in _TRUE
            elif kind in (int, float):
                params[key] = kind(text)
            elif kind is str:
                params[key] = text
            else:
                try:
                    params[key] = json.loads(text)
                except ValueError:
                    params[key] = text
        except ValueError:
            raise InvalidInput(
                f"--param {key}={text!r}: pipeline {pipe.name} expects {kind.__name__} there."
            ) from None
    return params
