"""Content-addressed blob storage on any fsspec filesystem."""

from relayml.artifacts.blobs import BlobStore

__all__ = ["BlobStore"]
