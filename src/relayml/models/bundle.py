"""Bundles: one model version with everything needed to serve it on its own.

    out/
      relay-bundle.json   the manifest: the version, its signature, files with their sha256
      model/              the version's files, verified against their hashes
      requirements.txt    the version's pinned requirements, relayml pinned to the wheel below
      wheels/             a wheel of the relayml that built the bundle (it is not on PyPI yet)
      Dockerfile          python:X.Y-slim serving the bundle on port 8000
      README.md           how to run it, and an example request

``python -m relayml.serve.bundle out/`` serves it with the model server of ``relay serve`` (see
relayml.serve.bundle). A bundle is built in a temporary folder next to ``out`` and renamed into
place, so a failed build leaves nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from relayml.domain.models import ModelVersion, Signature
from relayml.domain.ports import Backend
from relayml.errors import CorruptArtifact, InvalidInput, RelayError
from relayml.models import flavors
from relayml.models.bundle_wheel import build_wheel, pinned_requirements
from relayml.models.predictor import Predictor
from relayml.models.publish import fetch_files
from relayml.serving.tensors import v2_datatype

__all__ = [
    "MANIFEST",
    "build_bundle",
    "example_record",
    "image_tag",
    "load_bundle",
    "verify_bundle",
]

MANIFEST = "relay-bundle.json"
FORMAT = 1
_SELF = "relayml"
_PORT = 8000
_INSTALL_WHEELS = (
    "# Install: pip install --find-links wheels -r requirements.txt (relayml is in wheels/)\n"
)
_EXAMPLE_VALUES: dict[str, Any] = {"bool": False, "int64": 0, "float64": 0.0, "string": "text"}


def build_bundle(
    backend: Backend, project: str, ref: str, out: Path, *, force: bool = False
) -> Path:
    """Write a self-contained, servable bundle of a model version into out; return out."""
    out = Path(out).absolute()
    _check_out(out, force)
    version = backend.get_model_version(project, ref)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
    tmp.mkdir()  # (not mkdtemp: the bundle gets the usual permissions, not 0700)
    try:
        _write_bundle(backend, project, version, tmp)
        _place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"{out} is a file; --out names a directory for the bundle.")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise InvalidInput(
            f"{out} is not empty; choose a new or empty directory, "
            "or pass --force to replace the bundle in it."
        )
    if not (out / MANIFEST).is_file():
        raise InvalidInput(
            f"{out} holds files that are not a relay bundle (it has no {MANIFEST}); --force only "
            "replaces an earlier bundle. Choose a new or empty directory."
        )


def _place(tmp: Path, out: Path) -> None:
    """Rename the finished bundle to out, replacing an empty directory or an earlier bundle."""
    if not out.exists():
        os.rename(tmp, out)
        return
    old = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.old")
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_bundle(backend: Backend, project: str, version: ModelVersion, folder: Path) -> None:
    for f in version.files:
        path = PurePosixPath(f.path)
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise CorruptArtifact(
                f"{version.ref} lists a file path {f.path!r} outside its own folder; "
                "log the model again."
            )
    fetch_files(backend, version, folder / "model")  # CorruptArtifact if a blob changed
    notes: list[str] = []
    wheel = build_wheel(folder / "wheels", notes)
    requirements = pinned_requirements(version.requirements, wheel, notes)
    (folder / "requirements.txt").write_text(
        f"# Requirements of {version.ref} (project {project}), pinned when it was logged.\n"
        + (_INSTALL_WHEELS if wheel is not None else "# Install: pip install -r requirements.txt\n")
        + "".join(f"{line}\n" for line in requirements)
    )
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    manifest: dict[str, Any] = {
        "bundle_format": FORMAT,
        "project": project,
        "model": version.model,
        "version": version.version,
        "ref": version.ref,
        "flavor": version.flavor,
        "details": version.details,
        "signature": version.signature.model_dump(mode="json"),
        "requirements": requirements,
        "stored_requirements": list(version.requirements),
        "files": [
            {"path": f"model/{f.path}", "sha256": f.sha256, "size": f.size} for f in version.files
        ],
        "wheels": [_file_entry(folder, wheel)] if wheel is not None else [],
        "relayml_version": metadata.version(_SELF),
        "python_version": python,
        "built_at": datetime.now(UTC).isoformat(),
        "run_id": version.run_id,
        "description": version.description,
        "created_by": version.created_by,
        "created_at": version.created_at.isoformat(),
        "notes": notes,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    (folder / "Dockerfile").write_text(_dockerfile(python, wheel is not None))
    (folder / "README.md").write_text(_readme(version, python, wheel is not None, notes))


def _file_entry(folder: Path, path: Path) -> dict[str, Any]:
    return {
        "path": path.relative_to(folder).as_posix(),
        "sha256": _sha256(path),
        "size": path.stat().st_size,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _dockerfile(python: str, wheels: bool) -> str:
    find_links = "--find-links wheels " if wheels else ""
    copy_wheels = "COPY wheels/ ./wheels/\n" if wheels else ""
    probe = (
        "import sys, urllib.request; "
        f"sys.exit(urllib.request.urlopen('http://127.0.0.1:{_PORT}/v2/health/ready', "
        "timeout=3).status != 200)"
    )
    return (
        f"FROM python:{python}-slim\n"
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1\n"
        "WORKDIR /bundle\n"
        "COPY requirements.txt ./\n"
        f"{copy_wheels}"
        f"RUN pip install --no-cache-dir {find_links}-r requirements.txt\n"
        "COPY . /bundle\n"
        "RUN useradd --create-home --uid 10001 relay\n"
        "USER relay\n"
        f"EXPOSE {_PORT}\n"
        "HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \\\n"
        f'  CMD ["python", "-c", "{probe}"]\n'
        "# Arguments of `docker run IMAGE ...` are added: --log-dir /logs, --workers 2\n"
        'ENTRYPOINT ["python", "-m", "relayml.serve.bundle", "/bundle", '
        f'"--host", "0.0.0.0", "--port", "{_PORT}"]\n'
    )


def example_record(signature: Signature) -> dict[str, Any] | list[Any]:
    """A placeholder input row for the signature: a dict of columns, or a list for arrays."""
    values = {
        spec.name: _EXAMPLE_VALUES.get(spec.dtype, "2024-01-01T00:00:00")
        for spec in signature.inputs
    }
    return list(values.values()) if signature.input_kind == "ndarray" else values


def image_tag(model: str, version: int) -> str:
    """A Docker image name for a model version: lower case, e.g. churn-3."""
    return re.sub(r"[^a-z0-9_.-]+", "-", f"{model}-{version}".lower()).strip("-._") or "model"


def _infer_example(signature: Signature) -> dict[str, Any]:
    """An Open Inference Protocol V2 request of one placeholder row."""
    row = example_record(signature)
    if isinstance(row, list):
        dtype = signature.inputs[0].dtype if signature.inputs else "float64"
        tensor = {"name": "input-0", "shape": [1, len(row)], "datatype": v2_datatype(dtype)}
        return {"inputs": [{**tensor, "data": row}]}
    return {
        "inputs": [
            {"name": s.name, "shape": [1], "datatype": v2_datatype(s.dtype), "data": [row[s.name]]}
            for s in signature.inputs
        ]
    }


def _readme(version: ModelVersion, python: str, wheels: bool, notes: list[str]) -> str:
    find_links = "--find-links wheels " if wheels else ""
    tag = image_tag(version.model, version.version)
    body = json.dumps({"instances": [example_record(version.signature)]})
    infer = json.dumps(_infer_example(version.signature))
    columns = ", ".join(f"{s.name} ({s.dtype})" for s in version.signature.inputs)
    proba = ", `probabilities`" if version.signature.has_proba else ""
    text = f"""# {version.ref} ({version.flavor}), served on its own

Built by `relay models build` from project `{version.project}`. `relay-bundle.json` lists
every file with its sha256; the server refuses to start if one has changed. The server is the
one `relay serve {version.ref}` runs: Open Inference Protocol V2, `/predict` with prediction
ids, `/metrics`; settings such as `RELAY_SERVE_MAX_BATCH_ROWS` apply as they do there.

## Run it in a virtual environment (Python {python})

```sh
python{python} -m venv .venv
.venv/bin/pip install {find_links}-r requirements.txt
.venv/bin/python -m relayml.serve.bundle . --host 127.0.0.1 --port {_PORT}
```

## Run it with Docker

```sh
docker build -t {tag} .
docker run --rm -p {_PORT}:{_PORT} {tag}
```

## Call it

Inputs: {columns}.

```sh
curl -s http://127.0.0.1:{_PORT}/v2/health/ready
curl -s http://127.0.0.1:{_PORT}/v2/models/{version.model}
curl -s -X POST http://127.0.0.1:{_PORT}/predict -H 'Content-Type: application/json' \\
  -d '{body}'
curl -s -X POST http://127.0.0.1:{_PORT}/v2/models/{version.model}/infer \\
  -H 'Content-Type: application/json' -d '{infer}'
```

`/predict` takes one record or `{{"instances": [...]}}` and answers `predictions`,
`prediction_ids`{proba}. Input that does not match the signature gets HTTP 422 with
`{{"error": "..."}}`.

## The prediction log

Off by default: the server answers and keeps nothing. `--log-dir DIR` (a folder or an fsspec
URL such as `s3://bucket/relay-logs`) writes every prediction, request and outcome there as
Parquet, as `relay serve` does beside its artifact store:

```sh
.venv/bin/python -m relayml.serve.bundle . --log-dir ./logs
docker run --rm -p {_PORT}:{_PORT} -v "$PWD/logs:/logs" {tag} --log-dir /logs
```

(The image runs as uid 10001: give it a folder it may write, e.g. `chown 10001 logs`.)
"""
    if notes:
        text += "\n## Notes\n\n" + "".join(f"- {note}\n" for note in notes)
    return text


def verify_bundle(folder: Path) -> dict[str, Any]:
    """The bundle's manifest, once every file it lists matches its sha256."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise InvalidInput(
            f"{folder} is not a relay bundle: it has no {MANIFEST}. "
            "Build one with `relay models build REF --out DIR`."
        )
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
        files = [(str(f["path"]), str(f["sha256"])) for f in manifest["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            f"{path} is not a readable bundle manifest ({exc}); rebuild it."
        ) from exc
    rebuild = f"rebuild it with `relay models build {manifest.get('ref', 'REF')} --out DIR`."
    for name, expected in files:
        target = Path(folder) / name
        if ".." in PurePosixPath(name).parts or not target.is_file():
            raise CorruptArtifact(f"bundle file {name} is missing from {folder}; {rebuild}")
        actual = _sha256(target)
        if actual != expected:
            raise CorruptArtifact(
                f"bundle file {name} has sha256 {actual}, but {MANIFEST} says {expected}: "
                f"it changed after the bundle was built; {rebuild}"
            )
    return manifest


def load_bundle(folder: Path) -> tuple[dict[str, Any], Predictor]:
    """The manifest and the model of a bundle, once every file matches its sha256."""
    manifest = verify_bundle(folder)
    signature = Signature.model_validate(manifest["signature"])
    try:
        native = flavors.load_model(
            manifest["flavor"], Path(folder) / "model", manifest.get("details") or {}
        )
    except RelayError:
        raise
    except Exception as exc:
        hint = ""
        if isinstance(exc, ImportError):
            hint = " Install the bundle's requirements: pip install --find-links wheels -r "
            hint += "requirements.txt"
        raise InvalidInput(
            f"the model of {folder} could not be loaded: {type(exc).__name__}: {exc}.{hint}"
        ) from exc
    predictor = Predictor(
        native,
        signature,
        name=manifest["model"],
        version=manifest["version"],
        flavor=manifest["flavor"],
        details=manifest.get("details") or {},
    )
    return manifest, predictor
