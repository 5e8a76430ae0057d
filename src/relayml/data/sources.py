"""Dataset work done next to the user's code: log a source as a version, load a version back.

A source (:mod:`relayml.data.readers`: pandas, Arrow, Parquet/CSV, SQL) is read and put in
canonical form, hashed, profiled and written as Parquet with one fixed writer configuration;
the Parquet blob is uploaded, then the version is registered. These talk to any backend through
the port, so the same code serves the embedded store and a remote `relay server`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from relayml.artifacts.blobs import sha256_of_file
from relayml.data.canonical import content_hash, schema_of
from relayml.data.profile import profile_table
from relayml.data.readers import prepare_dataset
from relayml.domain.data import DatasetVersion
from relayml.domain.ports import Backend
from relayml.domain.validation import check_name
from relayml.errors import InvalidInput

__all__ = ["DataBackend", "load_dataset", "log_dataset", "write_parquet"]

# The operations these helpers need; both transports implement the full Backend protocol.
DataBackend = Backend


# -- Parquet, log, load ----------------------------------------------------------------------


def write_parquet(table: pa.Table, path: str | Path) -> Path:
    """Write a table as Parquet with relayml's one writer configuration."""
    pq.write_table(
        table,
        str(path),
        compression="zstd",
        compression_level=3,
        version="2.6",
        use_dictionary=True,
        write_statistics=True,
        row_group_size=1 << 20,
        data_page_size=1 << 20,
    )
    return Path(path)


def log_dataset(
    backend: DataBackend,
    project: str,
    name: str,
    data: Any,
    *,
    description: str = "",
    source: Mapping[str, Any] | None = None,
    column_types: Mapping[str, str | pa.DataType] | None = None,
) -> DatasetVersion:
    """Store data as a version of a dataset; the same data again gives the same version."""
    check_name(name, "dataset")
    table, described = prepare_dataset(data, column_types=column_types)
    if source:
        described = {**described, **dict(source)}
    digest = content_hash(table)
    profile = profile_table(table)
    with tempfile.TemporaryDirectory(prefix="relay-dataset-") as tmp:
        path = write_parquet(table, Path(tmp) / "data.parquet")
        sha256, _size = backend.upload_blob(path)
    return backend.create_dataset_version(
        project,
        name,
        content_hash=digest,
        sha256=sha256,
        rows=table.num_rows,
        columns=table.num_columns,
        schema=schema_of(table),
        profile=profile,
        source=described,
        description=description,
    )


def _cache_root(backend: Any) -> Path:
    settings = getattr(backend, "settings", None)
    home = Path(settings.home) if settings is not None else Path(".relay")
    return home / "cache" / "datasets"


def load_dataset(
    backend: DataBackend,
    project: str,
    ref: str,
    *,
    as_: Literal["pandas", "arrow"] = "pandas",
) -> Any:
    """The version a reference names (customers@3, customers@latest, customers), loaded."""
    if as_ not in ("pandas", "arrow"):
        raise InvalidInput(f"as_={as_!r}: load a dataset as 'pandas' or 'arrow'.")
    version = backend.get_dataset_version(project, ref)
    path = _cache_root(backend) / f"{version.sha256}.parquet"
    if not (path.is_file() and sha256_of_file(path)[0] == version.sha256):
        backend.fetch_blob(version.sha256, path)  # verified against its hash
    table = pq.read_table(path)
    return table.to_pandas() if as_ == "pandas" else table
