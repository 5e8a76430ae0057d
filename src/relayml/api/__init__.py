"""The HTTP API of `relay server` (FastAPI). OpenAPI at /openapi.json is the contract."""

from relayml.api.app import create_app

__all__ = ["create_app"]
