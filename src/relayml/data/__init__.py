"""Datasets: versioned tables with their schema and profile, and declarative data checks.

The bytes move next to the user's code (``sources``: read any source, canonical form, content
hash, Parquet, upload; ``checks``: evaluate a check spec); the store keeps what was logged
(``datasets``). ``local`` and :mod:`relayml.client.data` give both transports the same calls.
"""
