"""The ``review_overdue_days`` figure: how many days a model's periodic review is overdue.

The model inventory knows when each model's next review is due (one cadence of its risk tier
after its last validation, see relayml.domain.reports.REVIEW_CADENCE); this figure is the number
of days since that date (negative while the review is not due yet), so that a rule
``figure: review_overdue_days, above: 0`` fires, is delivered and resolves like any other. The
rule's env and window do not matter for it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from relayml.domain.alert_spec import RuleSpec
from relayml.domain.ports import Backend

__all__ = ["review_overdue_days"]

_DAY_SECONDS = 86_400


def review_overdue_days(
    backend: Backend, project: str, rule: RuleSpec, now: datetime
) -> tuple[float | None, str]:
    """(days past the review due date, or None when there is nothing to review; explanation)."""
    found = [e for e in backend.inventory([project]) if e.model == rule.model]
    if not found:
        return None, f"{rule.model} has never been in staging or production: nothing to review"
    entry = found[0]
    if entry.retired_at is not None:
        return None, f"{rule.model} is retired: no more reviews"
    if entry.next_review_due is None:
        return None, f"{rule.model} was never validated (no evaluation or gate run)"
    due = entry.next_review_due
    moment = now if now.tzinfo else now.replace(tzinfo=UTC)
    days = (moment - due).total_seconds() / _DAY_SECONDS
    tier = entry.risk_tier or "unrated"
    when = f"{due:%Y-%m-%d}"
    if days > 0:
        return days, f"review due {when} ({tier} tier), {days:.0f} days overdue"
    return days, f"next review due {when} ({tier} tier)"
