"""`relay audit`: the audit log (who changed what), and its hash chain: verify, checkpoint, export.

relay audit [-n 50 --actor dana --kind policy --entity run:3f2a --since 7d]   list, newest first
relay audit verify [--checkpoint head.json [--public-key key.pem]]      walk the chain
relay audit checkpoint [--out head.json]      sign the head with the server key, export it
relay audit checkpoints                       the stored checkpoints, newest first
relay audit export --out audit.jsonl [filters]   JSON Lines, each entry with its hash
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from relayml.cli._common import (
    JsonOption,
    console,
    format_time,
    format_value,
    open_cli_backend,
    open_cli_tracking,
    print_error,
    print_json,
    table,
)
from relayml.errors import InvalidInput

if TYPE_CHECKING:
    from relayml.domain.audit_chain import AuditCheckpoint

__all__ = ["audit_app"]

AUDIT_PAGE = 10_000  # the most entries one read returns (relayml.governance.audit.MAX_PAGE)
_AGO = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

audit_app = typer.Typer(
    help="The audit log, newest first: who changed what, and when; and its tamper-evident "
    "hash chain (verify, checkpoint, export).\n\n"
    "Example: relay audit --kind policy --actor dana --since 7d -n 20\n\n"
    "More examples:\n\n"
    "  relay audit --entity run:3f2a9c --before 1200\n\n"
    "  relay audit checkpoint --out head.json\n\n"
    "  relay audit verify --checkpoint head.json\n\n"
    "  relay audit export --out audit.jsonl --since 2024-05-01",
    invoke_without_command=True,
    no_args_is_help=False,
)

SinceOption = Annotated[
    str | None,
    typer.Option(help="From this time: 2024-05-01, 2024-05-01T12:00, epoch ms, or 7d / 12h."),
]
UntilOption = Annotated[str | None, typer.Option(help="Before this time (same forms as --since).")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", "--user", "-u", help="Only changes by this user.")
]
KindOption = Annotated[
    str | None,
    typer.Option(
        "--kind",
        "-k",
        help="Only this entity type (project, experiment, run, model...) or action "
        "(policy, set_tags, run.end...).",
    ),
]
EntityOption = Annotated[
    str | None,
    typer.Option(
        "--entity", "-e", help="Only this entity type, or one entity: KIND[:ID] (run:3f2a9c)."
    ),
]


def _moment(text: str | None, option: str) -> int | None:
    """A time option: epoch ms, an ISO date or time (UTC if no zone), or an age like 7d / 12h."""
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    ago = re.fullmatch(r"(\d+)\s*([smhdw])", text)
    if ago:
        return int((time.time() - int(ago.group(1)) * _AGO[ago.group(2)]) * 1000)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a time; use an ISO date (2024-05-01), a time "
            "(2024-05-01T12:00), epoch milliseconds, or an age such as 30m, 12h, 7d.",
            param_hint=option,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _entity(entity: str | None, entity_id: str | None) -> tuple[str | None, str | None]:
    """--entity KIND[:ID] (and --id) as the query's entity_kind and entity_id."""
    if entity is None:
        return None, entity_id
    kind, _, given = entity.partition(":")
    if not kind.strip():
        raise typer.BadParameter(
            f"{entity!r} names no kind; write KIND or KIND:ID, e.g. run or run:3f2a9c.",
            param_hint="--entity",
        )
    if given and entity_id and given != entity_id:
        raise typer.BadParameter(
            f"--entity names id {given!r} and --id {entity_id!r}; give the id once.",
            param_hint="--entity",
        )
    return kind.strip(), given.strip() or entity_id


@audit_app.callback()
def audit(
    ctx: typer.Context,
    kind: KindOption = None,
    entity: EntityOption = None,
    entity_id: Annotated[
        str | None, typer.Option("--id", help="Only this entity (a run id, a project name...).")
    ] = None,
    actor: ActorOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    before: Annotated[
        int | None, typer.Option(help="Only entries older than this id (the next page).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=AUDIT_PAGE, help="At most this many.")
    ] = 50,
    json_output: JsonOption = False,
) -> None:
    """Show the audit log, newest first: who changed what, and when.

    Example: relay audit --kind policy --actor dana --since 7d --limit 20
    """
    if ctx.invoked_subcommand is not None:
        return
    entity_kind, entity_id = _entity(entity, entity_id)
    with open_cli_tracking() as backend:
        entries = backend.list_audit(
            kind=kind,
            actor=actor,
            since=_moment(since, "--since"),
            until=_moment(until, "--until"),
            before=before,
            limit=limit,
            entity_kind=entity_kind,
            entity_id=entity_id,
        )
    if json_output:
        print_json(entries)
        return
    out = console()
    out.print(
        table(
            ["id", "at", "actor", "action", "kind", "entity", "change"],
            (
                [
                    str(e.id),
                    format_time(e.at),
                    e.actor,
                    e.action,
                    e.entity_kind,
                    e.entity_id,
                    _change(e.before, e.after),
                ]
                for e in entries
            ),
        )
    )
    if not entries:
        out.print("No audit entries match.")
    elif len(entries) == limit:
        out.print(f"Older entries may match: add --before {entries[-1].id}")


def _change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    if before is None:
        return format_value(after) if after is not None else ""
    if after is None:
        return "deleted"
    changed = {
        k: after.get(k) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)
    }
    return format_value(changed)


def _read_checkpoint(path: Path) -> AuditCheckpoint:
    from pydantic import ValidationError

    from relayml.domain.audit_chain import AuditCheckpoint

    try:
        return AuditCheckpoint.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"cannot read the checkpoint file {path}: {exc.strerror}.") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "file"
        raise InvalidInput(
            f"{path} is not a checkpoint file ({where}: {first.get('msg')}); make one with "
            "`relay audit checkpoint --out head.json`."
        ) from None


def _read_key(text: str) -> str:
    """--public-key: a file holding the key, or the key itself (PEM or base64)."""
    candidate = Path(text)
    if len(text) < 4096 and "\n" not in text and candidate.is_file():
        return candidate.read_text()
    return text


@audit_app.command("verify")
def verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            "-c",
            help="A file from `relay audit checkpoint --out`: its signed head must still be in "
            "the chain (catches a rewrite of the whole tail).",
        ),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            help="The key the checkpoint must be signed with (a PEM file, or PEM/base64 text). "
            "Default: the server's own key."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Walk the audit chain, recomputing every hash; name the first entry that was changed,
    deleted, inserted or reordered. Exit code 1 when the chain is broken.

    Example: relay audit verify --checkpoint head.json
    """
    signed = _read_checkpoint(checkpoint) if checkpoint is not None else None
    key = _read_key(public_key) if public_key is not None else None
    with open_cli_backend() as backend:
        result = backend.verify_audit(signed, public_key=key)
    if json_output:
        print_json(result)
    elif result.ok:
        out = console()
        out.print(f"OK: {result.message}")
        for note in result.notes:
            out.print(f"Note: {note}.")
    else:
        print_error(f"the audit log was tampered with: {result.message}")
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write the signed checkpoint (with the public key) to this file."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Sign the chain's head (entry id, hash, time) with the server's Ed25519 key and store it;
    keep the exported file somewhere the database's administrators cannot write.

    Example: relay audit checkpoint --out head-$(date +%F).json
    """
    with open_cli_backend() as backend:
        made = backend.create_audit_checkpoint()
    if out is not None:
        out.write_text(made.model_dump_json(indent=1) + "\n")
    if json_output:
        print_json(made)
        return
    where = f"; written to {out}" if out is not None else ""
    console().print(
        f"Checkpoint {made.id}: entry {made.entry_id}, hash {made.hash}, key {made.key_id[:16]}"
        f"{where}."
    )


@audit_app.command("checkpoints")
def checkpoints(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 20,
    json_output: JsonOption = False,
) -> None:
    """List the stored checkpoints of the chain's head, newest first.

    Example: relay audit checkpoints -n 5
    """
    with open_cli_backend() as backend:
        found = backend.list_audit_checkpoints(limit)
    if json_output:
        print_json(found)
        return
    out = console()
    out.print(
        table(
            ["id", "signed at", "entry", "hash", "key", "by"],
            (
                [
                    str(c.id),
                    format_time(c.signed_at),
                    str(c.entry_id),
                    c.hash[:16],
                    c.key_id[:16],
                    c.created_by,
                ]
                for c in found
            ),
        )
    )
    if not found:
        out.print("No checkpoints yet: make one with `relay audit checkpoint`.")


@audit_app.command("export")
def export(
    out: Annotated[
        str, typer.Option("--out", "-o", help="The JSON Lines file to write (- : stdout).")
    ] = "-",
    kind: KindOption = None,
    entity: EntityOption = None,
    actor: ActorOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
) -> None:
    """Write the matching entries, oldest first, as JSON Lines: one entry per line with its
    chain hash (`at` in epoch ms as hashed). Streamed: any size of log.

    Example: relay audit export --out audit.jsonl --since 2024-05-01 --entity model:churn
    """
    entity_kind, entity_id = _entity(entity, None)
    filters = {
        "entity_kind": entity_kind,
        "entity_id": entity_id,
        "kind": kind,
        "actor": actor,
        "since": _moment(since, "--since"),
        "until": _moment(until, "--until"),
    }
    count = 0
    with open_cli_backend() as backend:
        entries = backend.export_audit(**filters)
        if out == "-":
            for entry in entries:
                sys.stdout.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
                count += 1
            return
        with open(out, "w", encoding="utf-8") as sink:
            for entry in entries:
                sink.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
                count += 1
    console().print(f"Wrote {count} audit entries to {out}.")
