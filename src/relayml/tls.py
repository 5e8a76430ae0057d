"""One TLS context per process for relayml's HTTP clients.

Loading the CA bundle costs about 30 ms of CPU, and ``httpx.get`` / ``httpx.post`` (or a new
``httpx.Client``) build a context each time. Every client relayml opens passes this one instead:
the platform client (``relayml.client.http``), OpenLineage events, alert webhooks, the MLflow
import. httpx still reads SSL_CERT_FILE and SSL_CERT_DIR itself, as it would for verify=True.
"""

from __future__ import annotations

import functools
import ssl

import httpx

__all__ = ["tls_context"]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS context httpx builds for verify=True (SSL_CERT_FILE or SSL_CERT_DIR as httpx reads
    them, else certifi's bundle), built once per process."""
    return httpx.create_ssl_context(verify=True, trust_env=True)
