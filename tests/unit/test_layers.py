"""Dependencies point down only: a walk over every import of src/relayml (docs/architecture.md).

domain < stores < services < interfaces. relayml.errors and relayml.config sit under all of
them (they import nothing of relayml); the domain may import relayml.errors alone. Imports under
`if TYPE_CHECKING:` count too: a type names a dependency as much as a call does. The bare package
(`import relayml`, for its __file__ or __version__) loads nothing, so anyone may import it. Web
and command-line frameworks belong to the interfaces alone.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from relayml.domain.ports import Backend

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "relayml"

FOUNDATION, DOMAIN, STORES, SERVICES, INTERFACES = range(5)
LAYER_NAMES = ["foundation", "domain", "stores", "services", "interfaces"]

LAYERS = {
    "errors": FOUNDATION,
    "config": FOUNDATION,
    "operations": FOUNDATION,  # the lazy service loading of both backends; imports no relayml
    "tls": FOUNDATION,  # the one TLS context of relayml's HTTP clients; imports no relayml
    "domain": DOMAIN,
    "store": STORES,
    "artifacts": STORES,
    "predictions": STORES,
    "projects": SERVICES,
    "tracking": SERVICES,
    "data": SERVICES,
    "features": SERVICES,
    "pipelines": SERVICES,
    "lineage": SERVICES,
    "models": SERVICES,
    "deployments": SERVICES,
    "serving": SERVICES,
    "monitoring": SERVICES,
    "governance": SERVICES,
    "identity": SERVICES,
    "imports": SERVICES,
    "reports": SERVICES,
    "interop": SERVICES,
    "schedules": SERVICES,
    "cli": INTERFACES,
    "api": INTERFACES,
    "web": INTERFACES,
    "serve": INTERFACES,
    "sdk": INTERFACES,
    "sdk_data": INTERFACES,
    "sdk_models": INTERFACES,
    "sdk_runs": INTERFACES,
    "client": INTERFACES,
    "scaffold": INTERFACES,
    "demo": INTERFACES,  # the demo's story drives the CLI, the SDK and the servers
    "backend": INTERFACES,
    "transport": INTERFACES,
    "__init__": INTERFACES,
}


# Third-party packages that make a module an interface (HTTP apps, command lines, pages).
FRAMEWORKS = {"fastapi", "starlette", "uvicorn", "typer", "rich", "jinja2"}


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top not in LAYERS:
        raise AssertionError(f"{module}: put relayml.{top} in a layer (tests/unit/test_layers.py)")
    return LAYERS[top]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, relative ones resolved."""
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target == "relayml":  # from relayml import projects: the names are modules
                found += [(node.lineno, f"relayml.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, target))
    return found


def _violations() -> list[str]:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_of(path)
        own = _layer(module)
        for line, target in _imports(path):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if target.split(".")[0] in FRAMEWORKS and own != INTERFACES:
                wrong.append(f"{where} {module} ({LAYER_NAMES[own]}) imports {target}")
            if not target.startswith("relayml.") or target == "relayml.__version__":
                continue
            theirs = _layer(target)
            if own == DOMAIN and target != "relayml.errors" and theirs != DOMAIN:
                wrong.append(f"{where} {module} (domain) imports {target}: only relayml.errors")
            elif theirs > own:
                wrong.append(
                    f"{where} {module} ({LAYER_NAMES[own]}) imports {target} "
                    f"({LAYER_NAMES[theirs]})"
                )
    return wrong


def test_every_package_is_in_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        _layer(_module_of(path))


def test_imports_point_down_only() -> None:
    wrong = _violations()
    assert not wrong, "imports from a lower layer to a higher one:\n" + "\n".join(wrong)


def test_the_walk_sees_each_kind_of_import(tmp_path: Path) -> None:
    found = dict(
        (target, line)
        for line, target in _imports(PACKAGE / "tracking" / "local.py")
        + _imports(PACKAGE / "store" / "__init__.py")
    )
    assert "relayml.projects" in found  # from relayml import projects as project_service
    assert "relayml.store.engine" in found
    assert "relayml.domain.clock" in found
    assert "relayml" in dict((t, n) for n, t in _imports(PACKAGE / "models" / "bundle_wheel.py"))


@pytest.mark.parametrize(
    "name",
    [
        n
        for part in Backend.__mro__
        if part.__module__.startswith("relayml.domain.ports")
        for n, v in vars(part).items()
        if inspect.isfunction(v) and not n.startswith("_")
    ],
)
def test_each_port_method_says_what_and_raises(name: str) -> None:
    doc = inspect.getdoc(getattr(Backend, name)) or ""
    assert doc and "\n" not in doc, f"Backend.{name} needs a one-line 'what / raises' docstring"
