"""LocalBackend loads each service's module on the first use of one of its operations: the table
that says where each operation lives (relayml.backend.SERVICES) must match the classes."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relayml.backend import SERVICES, LocalBackend
from relayml.config import get_settings
from relayml.domain.ports import Backend
from relayml.tracking.local import LocalTracking


def _service(target: str) -> type:
    module, name = target.split(":")
    found: type = getattr(importlib.import_module(module), name)
    return found


@pytest.mark.parametrize("target", sorted(SERVICES))
def test_the_table_names_every_function_of_each_service_and_nothing_else(target: str) -> None:
    service = _service(target)
    functions = {n for n, v in vars(service).items() if inspect.isfunction(v)}
    assert set(SERVICES[target]) == functions
    assert len(SERVICES[target]) == len(functions)  # no name twice


def test_no_operation_is_in_two_services_or_in_tracking() -> None:
    owners: dict[str, list[str]] = {}
    for target, names in SERVICES.items():
        for name in names:
            owners.setdefault(name, []).append(target)
    assert {n: o for n, o in owners.items() if len(o) > 1} == {}
    assert set(owners) & set(vars(LocalTracking)) == set()


def test_every_operation_of_the_port_is_a_method_of_a_local_backend(tmp_path: Path) -> None:
    backend = LocalBackend(get_settings(home=tmp_path))
    try:
        port = {
            n
            for part in Backend.__mro__
            if part.__module__.startswith("relayml.domain.ports")
            for n, v in vars(part).items()
            if inspect.isfunction(v) and not n.startswith("__")
        }
        missing = sorted(n for n in port if not inspect.ismethod(getattr(backend, n, None)))
        assert missing == []
        with pytest.raises(AttributeError, match="no_such_operation"):
            backend.no_such_operation  # type: ignore[attr-defined]  # noqa: B018
    finally:
        backend.close()


# Opens a LocalBackend on a fresh store, lists the models of a project and prints the relayml
# service modules loaded, and which of fsspec and the promotion gates listing loaded.
LIST_MODELS = """
import json, sys
import relayml.backend
from relayml.config import get_settings
backend = relayml.backend.LocalBackend(get_settings())
backend.create_project("p")
assert backend.list_models("p") == []
listed = [m for m in ("fsspec", "relayml.models.promotion") if m in sys.modules]
view = backend.with_actor("someone")
assert view.list_models("p") == [] and view.actor == "someone"
backend.close()
services = [m for m in sys.modules if m.startswith("relayml.") and m.endswith(".local")]
print(json.dumps({"services": sorted(services), "listing loaded": listed}))
"""


def test_a_service_module_loads_when_one_of_its_operations_is_first_used(tmp_path: Path) -> None:
    env = {**os.environ, "RELAY_HOME": str(tmp_path)}
    for name in ("RELAY_SERVER_URL", "RELAY_DATABASE_URL", "RELAY_ARTIFACTS_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", LIST_MODELS], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["services"] == ["relayml.models.local", "relayml.tracking.local"]
    assert loaded["listing loaded"] == []  # no artifact store, no promotion gates to list
