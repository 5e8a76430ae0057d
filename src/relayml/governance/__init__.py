"""Governance: the audit log now; users, roles, approvals and the hash chain later."""
