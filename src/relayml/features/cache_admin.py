"""What the point-in-time join's cache holds on this machine, and pruning it.

The cache (features.pit_cache) grows by one folder per dataset version prepared for a feature
set, and one more for its as-of-known part. Nothing in it is ever needed: a missing folder costs
the next join its preparation, no more. So pruning removes, by rule, what is least likely to be
read again: folders of an older layout (never read), writers' leftovers (a join killed while
writing), and, when asked, folders no join has read for some days (each read marks its
manifest's modification time).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from relayml.features.pit_cache import FORMAT, cache_root

__all__ = ["CacheEntry", "cache_entries", "cache_root", "prune_cache"]

DAY_S = 86_400.0


@dataclass(frozen=True)
class CacheEntry:
    """One folder of the cache: its name, size, last read (epoch s) and state."""

    name: str
    bytes: int
    last_used: float
    state: str  # "current", "old format" or "unfinished"

    @property
    def idle_days(self) -> float:
        return max(0.0, (time.time() - self.last_used) / DAY_S)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _entry(folder: Path) -> CacheEntry:
    manifest = folder / "manifest.json"
    if folder.name.startswith(".") and folder.name.endswith(".tmp"):
        state = "unfinished"
    else:
        try:
            found = json.loads(manifest.read_text()).get("format")
        except (OSError, ValueError, AttributeError):
            found = None
        state = "current" if found == FORMAT else "old format"
    used = manifest if manifest.exists() else folder
    return CacheEntry(folder.name, _size(folder), used.stat().st_mtime, state)


def cache_entries(root: Path) -> list[CacheEntry]:
    """Every folder of the cache, most recently read first."""
    if not root.is_dir():
        return []
    entries = [_entry(p) for p in root.iterdir() if p.is_dir()]
    return sorted(entries, key=lambda e: -e.last_used)


def prune_cache(
    root: Path, unused_days: float | None = None, *, dry_run: bool = False
) -> list[CacheEntry]:
    """Remove folders of an older layout, writers' leftovers idle for an hour (a writer may
    still be at work on a younger one) and, with `unused_days`, folders not read for that many
    days; returns what was (or, with dry_run, would be) removed."""
    removed = []
    for entry in cache_entries(root):
        if entry.state == "unfinished":
            drop = entry.idle_days * 24 >= 1
        elif entry.state == "old format":
            drop = True
        else:
            drop = unused_days is not None and entry.idle_days >= unused_days
        if drop:
            removed.append(entry)
            if not dry_run:
                shutil.rmtree(root / entry.name, ignore_errors=True)
    return removed
