"""Both backends load each service's class on the first use of one of its operations
(relayml.operations): the table that says where each operation lives must match the classes,
and a service is imported when, and only when, one of its operations is used."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relayml import backend as local
from relayml.client import http, services
from relayml.config import get_settings
from relayml.domain.ports import Backend
from relayml.domain.ports_tracking import TrackingPort
from relayml.operations import GROUPS
from relayml.tracking.local import LocalTracking

TABLES = {
    "local": (local.SERVICES, local.LocalBackend),
    "http": (services.SERVICES, http.HttpBackend),
}
CASES = [(kind, target) for kind, (table, _) in TABLES.items() for target in sorted(table)]


def _service(target: str) -> type:
    module, name = target.split(":")
    found: type = getattr(importlib.import_module(module), name)
    return found


def _functions(cls: type) -> set[str]:
    return {n for n, v in vars(cls).items() if inspect.isfunction(v)}


@pytest.mark.parametrize(("kind", "target"), CASES, ids=[f"{k}-{t}" for k, t in CASES])
def test_the_table_names_every_function_of_each_service_and_nothing_else(
    kind: str, target: str
) -> None:
    table, backend = TABLES[kind]
    listed = {name for names in table.values() for name in names}  # set on it once loaded
    own = _functions(LocalTracking) if kind == "local" else _functions(backend) - listed
    # the HTTP services declare the transport's functions (_send, _json) that HttpBackend has
    assert set(table[target]) == _functions(_service(target)) - own
    assert len(table[target]) == len(set(table[target]))  # no name twice


@pytest.mark.parametrize("kind", sorted(TABLES))
def test_no_operation_is_in_two_services(kind: str) -> None:
    owners: dict[str, list[str]] = {}
    for target, names in TABLES[kind][0].items():
        for name in names:
            owners.setdefault(name, []).append(target)
    assert {n: o for n, o in owners.items() if len(o) > 1} == {}


PORT = {
    n
    for part in Backend.__mro__
    if part.__module__.startswith("relayml.domain.ports")
    for n, v in vars(part).items()
    if inspect.isfunction(v) and not n.startswith("__")
}


def test_the_groups_and_tracking_are_the_port() -> None:
    tracking = {
        n for n, v in vars(TrackingPort).items() if inspect.isfunction(v) and not n.startswith("__")
    }
    grouped = [name for names in GROUPS.values() for name in names]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) | tracking == PORT
    assert set(grouped) & tracking == set()


def test_every_operation_of_the_port_is_a_method_of_each_backend(tmp_path: Path) -> None:
    backends: list[Backend] = [
        local.LocalBackend(get_settings(home=tmp_path)),
        http.HttpBackend(get_settings(home=tmp_path, server_url="http://127.0.0.1:9")),
    ]
    for backend in backends:
        try:
            missing = sorted(n for n in PORT if not inspect.ismethod(getattr(backend, n, None)))
            assert missing == [], type(backend).__name__
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

# An HttpBackend on a port where nothing listens: asking for the models imports the model
# service's module (then the call fails to connect, with relayml's own error).
HTTP_MODELS = """
import json, sys
from relayml.client import HttpBackend
from relayml.config import get_settings
from relayml.errors import ServerUnavailable
backend = HttpBackend(get_settings(server_url="http://127.0.0.1:9", http_timeout=2))
before = sorted(m for m in sys.modules if m.startswith("relayml.client."))
try:
    backend.list_models("p")
except ServerUnavailable:
    pass
after = sorted(m for m in sys.modules if m.startswith("relayml.client."))
print(json.dumps({"before": before, "after": after}))
"""


def _run(code: str, home: Path) -> dict[str, list[str]]:
    env = {**os.environ, "RELAY_HOME": str(home)}
    for name in ("RELAY_SERVER_URL", "RELAY_DATABASE_URL", "RELAY_ARTIFACTS_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_a_local_service_loads_when_one_of_its_operations_is_first_used(tmp_path: Path) -> None:
    loaded = _run(LIST_MODELS, tmp_path)
    assert loaded["services"] == ["relayml.models.local", "relayml.tracking.local"]
    assert loaded["listing loaded"] == []  # no artifact store, no promotion gates to list


def test_an_http_service_loads_when_one_of_its_operations_is_first_used(tmp_path: Path) -> None:
    loaded = _run(HTTP_MODELS, tmp_path)
    assert loaded["before"] == ["relayml.client.http", "relayml.client.services"]
    assert loaded["after"] == [
        "relayml.client.http",
        "relayml.client.models",
        "relayml.client.services",
    ]
