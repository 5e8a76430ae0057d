"""Users, personal API tokens, passwords and single sign-on (see docs/security.md)."""
