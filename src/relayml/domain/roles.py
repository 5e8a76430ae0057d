"""Names shared by every layer, kept free of imports so the CLI starts fast."""

from __future__ import annotations

__all__ = ["ENVIRONMENTS", "ROLES"]

# The environments a version moves through, in order.
ENVIRONMENTS = ("development", "staging", "production")

# The roles a project member can hold (approval rules name them; domain/permissions.py says
# what each may do).
ROLES = (
    "owner",
    "data_scientist",
    "data_engineer",
    "ml_engineer",
    "software_engineer",
    "devops",
    "risk_manager",
    "auditor",
    "subject_matter_expert",
    "viewer",
)
