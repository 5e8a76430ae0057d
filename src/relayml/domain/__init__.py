"""Typed entities and the rules that need no I/O."""
