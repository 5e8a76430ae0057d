"""Signed checkpoints of the audit chain's head, on demand and on a schedule.

A checkpoint is the head (entry id, hash) at a time, signed with the server's Ed25519 key
(``relayml.governance.keys``) and stored in ``audit_checkpoints``; exported as a JSON file it
lets ``relay audit verify --checkpoint`` catch a rewrite of the whole tail of the log, which a
chain alone cannot show (whoever rewrites it can recompute every hash, but cannot sign).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import select

from relayml.domain.audit_chain import (
    AuditCheckpoint,
    AuditVerification,
    checkpoint_message,
)
from relayml.errors import InvalidInput, StoreNotReady
from relayml.governance import keys
from relayml.governance.audit import to_datetime
from relayml.governance.verify import Signed, verify_chain
from relayml.store import Store, now_ms
from relayml.store.schema_identity import audit_checkpoints, audit_head

__all__ = [
    "CheckpointScheduler",
    "check_signature",
    "create_checkpoint",
    "list_checkpoints",
    "verify_audit",
]

log = logging.getLogger("relayml.audit")
MAX_CHECKPOINTS = 1000


def create_checkpoint(
    store: Store, key_file: Path, actor: str, *, only_if_moved: bool = False
) -> AuditCheckpoint | None:
    """Sign the current head with the server key (created if missing) and store it.

    With only_if_moved, returns None without signing when the newest stored checkpoint already
    covers the head (the scheduler's case)."""
    key = keys.load_or_create_key(key_file)
    kid = keys.key_id(key)
    with store.write() as conn:
        head = conn.execute(select(audit_head.c.entry_id, audit_head.c.hash)).first()
        if head is None:
            raise StoreNotReady(
                "the audit chain's head (table audit_head) is missing: there is nothing to sign. "
                "Run `relay audit verify` and restore the row from a backup."
            )
        if only_if_moved:
            newest = conn.execute(
                select(audit_checkpoints.c.entry_id, audit_checkpoints.c.hash)
                .order_by(audit_checkpoints.c.id.desc())
                .limit(1)
            ).first()
            if newest is not None and tuple(newest) == tuple(head):
                return None
        at = now_ms()
        signature = keys.sign(key, checkpoint_message(head.entry_id, head.hash, at, kid))
        values = {
            "at": at,
            "entry_id": head.entry_id,
            "hash": head.hash,
            "key_id": kid,
            "signature": signature,
            "created_by": actor,
        }
        new_id = conn.execute(audit_checkpoints.insert().values(**values)).inserted_primary_key
    assert new_id is not None
    return AuditCheckpoint(
        id=new_id[0], public_key=keys.public_pem(key), signed_at=to_datetime(at), **values
    )


def list_checkpoints(store: Store, key_file: Path, limit: int = 20) -> list[AuditCheckpoint]:
    """The newest stored checkpoints first (public_key filled when signed by the server key)."""
    if not 1 <= limit <= MAX_CHECKPOINTS:
        raise InvalidInput(f"limit must be between 1 and {MAX_CHECKPOINTS}, got {limit}.")
    key = keys.load_private_key(key_file)
    kid, pem = (keys.key_id(key), keys.public_pem(key)) if key else ("", "")
    with store.read() as conn:
        rows = conn.execute(
            select(audit_checkpoints).order_by(audit_checkpoints.c.id.desc()).limit(limit)
        ).all()
    return [
        AuditCheckpoint(
            id=row.id,
            entry_id=row.entry_id,
            hash=row.hash,
            at=row.at,
            key_id=row.key_id,
            signature=row.signature,
            public_key=pem if row.key_id == kid else "",
            created_by=row.created_by,
            signed_at=to_datetime(row.at),
        )
        for row in rows
    ]


def check_signature(checkpoint: AuditCheckpoint, trusted: str | None, key_file: Path) -> str | None:
    """Why a checkpoint cannot be trusted (None when it can): its signature must verify with the
    public key it carries, whose id it names, and that key must be the trusted one (given as PEM
    or base64) or else the server's own."""
    if not checkpoint.public_key:
        return (
            "the checkpoint carries no public_key; export it again with `relay audit checkpoint`."
        )
    public = keys.parse_public_key(checkpoint.public_key)
    if keys.key_id(public) != checkpoint.key_id:
        return (
            f"the checkpoint's key id {checkpoint.key_id} is not the id of the public key it "
            "carries: the file was edited."
        )
    message = checkpoint_message(
        checkpoint.entry_id, checkpoint.hash, checkpoint.at, checkpoint.key_id
    )
    if not keys.signature_valid(public, message, checkpoint.signature):
        return (
            "the checkpoint's signature does not verify with its public key: the file was "
            "edited or forged."
        )
    if trusted is not None:
        expected = keys.key_id(keys.parse_public_key(trusted))
        whose = "the key given with --public-key"
    else:
        server = keys.load_private_key(key_file)
        if server is None:
            return (
                f"cannot tell whether the checkpoint was signed by this server: its key file "
                f"{key_file} does not exist here. Pass the server's public key with --public-key "
                "(or run the check where RELAY_AUDIT_KEY_FILE is)."
            )
        expected = keys.key_id(server)
        whose = "this server's key"
    if expected != checkpoint.key_id:
        return (
            f"the checkpoint was signed by key {checkpoint.key_id[:16]}..., not by {whose} "
            f"({expected[:16]}...): it was not made by this server, so it proves nothing here."
        )
    return None


def _stored(store: Store, key_file: Path) -> tuple[list[Signed], list[str], str | None]:
    """The stored checkpoints signed by the server key, as points the chain must hold; notes on
    the others; and why a stored one cannot be trusted (a forged or edited row), if one cannot."""
    key = keys.load_private_key(key_file)
    if key is None:
        return [], [f"stored checkpoints not checked: no server key at {key_file} here"], None
    kid, public = keys.key_id(key), key.public_key()
    points: list[Signed] = []
    others = 0
    with store.read() as conn:
        rows = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.id)).all()
    for row in rows:
        if row.key_id != kid:
            others += 1
            continue
        message = checkpoint_message(row.entry_id, row.hash, row.at, row.key_id)
        if not keys.signature_valid(public, message, row.signature):
            return (
                [],
                [],
                (
                    f"stored checkpoint {row.id} (entry {row.entry_id}) does not verify with the "
                    "server's key: the row was forged or edited in the database."
                ),
            )
        moment = to_datetime(row.at)
        when = moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else str(row.at)
        points.append(Signed(row.entry_id, row.hash, f"stored checkpoint {row.id} ({when})"))
    notes = [f"{others} stored checkpoint(s) signed by another key were not checked"]
    return points, notes if others else [], None


def verify_audit(
    store: Store,
    key_file: Path,
    checkpoint: AuditCheckpoint | None = None,
    public_key: str | None = None,
) -> AuditVerification:
    """Walk the chain: every stored checkpoint signed by the server key, and a given checkpoint
    (after checking its signature), must still be in it."""
    points, notes, forged = _stored(store, key_file)
    refused = None
    if checkpoint is not None:
        refused = check_signature(checkpoint, public_key, key_file)
        if refused is not None:
            refused = f"the checkpoint was refused: {refused}"
        points.append(Signed(checkpoint.entry_id, checkpoint.hash, "the checkpoint file"))
    failed = refused or forged
    if failed is not None:
        return AuditVerification(
            ok=False,
            entries=0,
            head_entry_id=0,
            head_hash="",
            entry_id=checkpoint.entry_id if refused and checkpoint else None,
            problem="checkpoint",
            message=failed,
            checkpoint_entry_id=checkpoint.entry_id if checkpoint else None,
        )
    result = verify_chain(store, points, checkpoint.entry_id if checkpoint else None)
    return result.model_copy(update={"notes": notes}) if notes else result


class CheckpointScheduler:
    """A daemon thread that checkpoints the head every `interval` seconds when it moved."""

    def __init__(self, store: Store, key_file: Path, interval: float, actor: str) -> None:
        self.store, self.key_file, self.interval, self.actor = store, key_file, interval, actor
        self.made = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="relay-audit-checkpoints")
        self._thread.daemon = True

    def start(self) -> None:
        """Begin the timer (the first checkpoint comes after one interval)."""
        self._thread.start()

    def run_once(self) -> AuditCheckpoint | None:
        """Checkpoint the head now unless the newest checkpoint covers it."""
        made = create_checkpoint(self.store, self.key_file, self.actor, only_if_moved=True)
        if made is not None:
            self.made += 1
        return made

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:
                log.exception("checkpointing the audit chain failed")

    def stop(self) -> None:
        """Stop the timer and wait for a checkpoint in progress."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
