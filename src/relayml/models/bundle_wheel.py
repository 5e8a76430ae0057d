"""What a bundle installs relayml from: a wheel built from the source tree relayml runs from (it
is not on a package index yet), and the model version's pinned requirements with relayml pinned
to that wheel (relayml.models.bundle writes both into the bundle)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

from relayml.errors import RelayError

__all__ = ["build_wheel", "pinned_requirements"]

_SELF = "relayml"
_SOURCE_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in")
_SOURCE_GLOBS = ("README*", "LICEN[CS]E*", "NOTICE*", "COPYING*")


def _source_root() -> Path | None:
    """The source tree relayml is installed from (src layout), or None for an installed wheel."""
    import relayml

    root = Path(relayml.__file__).resolve().parents[2]
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return root if project.get("project", {}).get("name") == _SELF else None


def build_wheel(wheels: Path, notes: list[str]) -> Path | None:
    """A wheel of relayml built from its installed source in wheels/, or None with a note."""
    root = _source_root()
    if root is None:
        notes.append(
            "no relayml wheel: relayml is not installed from a source tree, so requirements.txt "
            "installs relayml from the package index."
        )
        return None
    if importlib.util.find_spec("pip") is None:
        notes.append(
            "no relayml wheel: pip is not installed where the bundle was built, so "
            "requirements.txt installs relayml from the package index."
        )
        return None
    with tempfile.TemporaryDirectory(prefix="relay-wheel-") as tmp:
        source = Path(tmp) / "relayml"
        _copy_source(root, source)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
        command.append("--disable-pip-version-check")
        if _setuptools_here():
            command.append("--no-build-isolation")  # no download of the build backend
        command += [str(source), "-w", str(wheels)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    built = sorted(wheels.glob(f"{_SELF}-*.whl"))
    if done.returncode != 0 or not built:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise RelayError(
            f"building the relayml wheel from {root} failed (pip exit code {done.returncode}): "
            f"{tail}"
        )
    return built[-1]


def _copy_source(root: Path, target: Path) -> None:
    """Copy what a wheel is built from, so the build never writes into the source tree."""
    target.mkdir(parents=True)
    names = {name for name in _SOURCE_FILES if (root / name).is_file()}
    names |= {p.name for pattern in _SOURCE_GLOBS for p in root.glob(pattern) if p.is_file()}
    for name in names:
        shutil.copy2(root / name, target / name)
    shutil.copytree(
        root / "src",
        target / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )


def _setuptools_here() -> bool:
    try:
        major = int(metadata.version("setuptools").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return major >= 77  # what pyproject.toml's build-system asks for


def _requirement_name(line: str) -> str:
    return re.split(r"[\s=<>!~;\[@]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pinned_requirements(stored: list[str], wheel: Path | None, notes: list[str]) -> list[str]:
    """The stored pins, relayml pinned to the wheel that serves the bundle."""
    lines = [line for line in stored if _requirement_name(line) != _SELF]
    pinned = next((line for line in stored if _requirement_name(line) == _SELF), None)
    if wheel is None:
        lines.append(pinned or f"{_SELF}=={metadata.version(_SELF)}")
    else:
        own = f"{_SELF}=={wheel.name.split('-')[1]}"
        if pinned is not None and pinned != own:
            notes.append(f"relayml pinned to the bundled wheel ({own}); logged with {pinned}.")
        lines.append(own)
    return sorted(lines, key=str.lower)
