"""The MLflow aliases (``champion``, ...) of imported versions, set where relay server's MLflow
API reads them: after an import, ``models:/churn@champion`` loads the version MLflow's alias
named, and the registry answers the alias as MLflow did.

An alias names an MLflow version; it is set on the relayml version imported from it (their
numbers may differ). Aliases that name a relayml environment (dev, staging, production) are not
set: an environment moves by promotion, through the project's gates and approvals; they stay
in the version's ``details.mlflow.aliases``. An alias already where MLflow has it is left alone,
so importing again writes nothing.

The embedded store is written through the interop service (audited as any alias); a relay
server through its own MLflow API, with the client's token.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from relayml.domain.models import ENVIRONMENTS
from relayml.errors import RelayError, ServerUnavailable
from relayml.interop import mlflow_registry
from relayml.tls import tls_context

__all__ = ["AliasBook", "alias_book", "import_aliases"]


class AliasBook(Protocol):
    """Where a registry's MLflow aliases are read and set."""

    def current(self, project: str, name: str) -> dict[str, int]:
        """alias -> relayml version of a model's MLflow aliases (environments left out)."""
        ...

    def set(self, project: str, name: str, alias: str, version: int) -> None:
        """Point an MLflow alias at a relayml version."""
        ...


class _StoreAliases:
    def __init__(self, store: Any, actor: str) -> None:
        self.store, self.actor = store, actor

    def current(self, project: str, name: str) -> dict[str, int]:
        return mlflow_registry.aliases_of(self.store, project, name)

    def set(self, project: str, name: str, alias: str, version: int) -> None:
        mlflow_registry.set_alias(self.store, self.actor, project, name, alias, version)


class _ServerAliases:
    """A relay server's MLflow API (which finds a model by its name alone)."""

    def __init__(self, backend: Any) -> None:
        settings = backend.settings
        self.headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
        self.url = str(backend.url)
        self.timeout = float(settings.http_timeout)

    def _call(self, project: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = f"{self.url}/api/2.0/mlflow{path}"
        headers = {**self.headers, "X-Relay-Project": project}  # the name may be in several
        try:  # a few calls per model: a connection each, closed at once
            response = httpx.request(
                method, url, headers=headers, timeout=self.timeout, verify=tls_context(), **kwargs
            )
        except httpx.TransportError as exc:
            raise ServerUnavailable(
                f"cannot reach the relay server at {self.url} ({exc.__class__.__name__}: {exc})."
            ) from exc
        body: dict[str, Any] = response.json() if response.content else {}
        if response.status_code >= 400:
            raise RelayError(
                f"the relay server refused an MLflow alias ({response.status_code} "
                f"{body.get('error_code', '')}): {body.get('message', response.text[:200])}"
            )
        return body

    def current(self, project: str, name: str) -> dict[str, int]:
        model = self._call(project, "GET", "/registered-models/get", params={"name": name})
        aliases = model["registered_model"].get("aliases") or []
        return {
            str(a["alias"]): int(a["version"])
            for a in aliases
            if str(a["alias"]) not in ENVIRONMENTS
        }

    def set(self, project: str, name: str, alias: str, version: int) -> None:
        body = {"name": name, "alias": alias, "version": str(version)}
        self._call(project, "POST", "/registered-models/alias", json=body)


def alias_book(backend: Any) -> AliasBook:
    """The aliases of the backend's registry: its store when embedded, else its server."""
    store = getattr(backend, "store", None)
    if store is not None:
        return _StoreAliases(store, str(backend.actor))
    return _ServerAliases(backend)


def import_aliases(book: AliasBook, project: str, name: str, wanted: dict[str, int]) -> int:
    """Set each alias (alias -> relayml version) not already there; how many were set."""
    wanted = {a: v for a, v in wanted.items() if a not in ENVIRONMENTS}
    if not wanted:
        return 0
    now = book.current(project, name)
    changed = 0
    for alias, version in sorted(wanted.items()):
        if now.get(alias) != version:
            book.set(project, name, alias, version)
            changed += 1
    return changed
