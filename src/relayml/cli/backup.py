"""`relay db backup` and `relay db restore`: one archive of the metadata and artifact stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from relayml.cli._common import console, print_error, print_json, settings
from relayml.cli.admin import db_app

__all__ = ["db_backup", "db_restore"]


@contextmanager
def _bar(label: str, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar on standard error over the artifact files (None when quiet)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), console=Console(stderr=True)
    ) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


@db_app.command("backup")
def db_backup(
    out: Annotated[Path, typer.Option("--out", "-o", help="The archive file to write (tar).")],
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Back up the metadata database and the artifact store into one archive, online.

    SQLite is copied with its online backup API, PostgreSQL with pg_dump; artifacts by content.
    The archive holds the audit signing key too: keep it as secret as the database.

    Example: relay db backup --out relay-backup.tar
    """
    from relayml.artifacts import BlobStore
    from relayml.cli.admin import _open_store
    from relayml.store.backup import backup_store

    s = settings()
    store, _ = _open_store(s.resolved_database_url, upgrade=False)
    try:
        blobs = BlobStore(s.resolved_artifacts_url, s.artifacts_options)
        with _bar("artifacts", not quiet and not json_output) as progress:
            summary = backup_store(
                store, blobs, out, key_file=s.resolved_audit_key_file, progress=progress
            )
    finally:
        store.dispose()
    info = {
        "archive": str(summary.path),
        "schema_revision": summary.revision,
        "database": summary.dialect,
        "rows": sum(summary.counts.values()),
        "artifacts": summary.artifacts,
        "bytes": summary.size,
    }
    if json_output:
        print_json(info)
        return
    console().print(
        f"Backed up {info['rows']} rows (schema {summary.revision}) and {summary.artifacts} "
        f"artifact files to {summary.path} ({summary.size} bytes)."
    )


@db_app.command("restore")
def db_restore(
    archive: Annotated[Path, typer.Argument(help="An archive written by `relay db backup`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Replace a store that is not empty.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Restore an archive into RELAY_DATABASE_URL and RELAY_ARTIFACTS_URL, then verify it.

    Checks every hash in the archive first, migrates an older schema up, copies only the
    artifacts the store lacks, and walks the audit chain at the end.

    Example: RELAY_HOME=/srv/relay-restored relay db restore relay-backup.tar
    """
    from relayml.artifacts import BlobStore
    from relayml.backend import LocalBackend
    from relayml.store.restore import read_manifest, restore_store

    read_manifest(archive)  # a missing, foreign or newer archive is refused before any bar shows
    s = settings()
    blobs = BlobStore(s.resolved_artifacts_url, s.artifacts_options)
    with _bar("artifacts", not quiet) as progress:
        summary = restore_store(
            archive,
            s.resolved_database_url,
            blobs,
            replace=yes,
            key_file=s.resolved_audit_key_file,
            progress=progress,
        )
    out = console()
    before, now = summary.revision_in_archive, summary.revision_now
    migrated = f", migrated from schema {before} to {now}" if before != now else ""
    out.print(
        f"Restored {sum(summary.counts.values())} rows (schema {now}{migrated}); "
        f"{summary.artifacts_copied} artifact files copied, "
        f"{summary.artifacts_present} already present."
    )
    for note in summary.notes:
        out.print(f"Note: {note}.")
    local = s.model_copy(update={"server_url": None})
    backend = LocalBackend(local)
    try:
        result = backend.verify_audit()
    finally:
        backend.close()
    if result.ok:
        out.print(f"Audit chain OK: {result.message}")
    else:
        print_error(f"the restored audit log does not verify: {result.message}")
        raise typer.Exit(1)
