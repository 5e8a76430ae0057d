"""HttpBackend: the same operations as LocalBackend, spoken over HTTP to a `relay server`."""

from relayml.client.http import HttpBackend

__all__ = ["HttpBackend"]
