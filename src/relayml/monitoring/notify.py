"""Telling people about alerts: a JSON POST to a webhook (retried) and a line in the log; and
starting a retraining pipeline when a rule says so."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from relayml.tls import tls_context

__all__ = ["post_webhook", "start_retraining"]

log = logging.getLogger("relayml.alerts")


def post_webhook(
    url: str, payload: dict[str, Any], *, attempts: int = 3, backoff: float = 0.5
) -> dict[str, Any]:
    """POST the payload as JSON; retry on errors and 5xx. Returns what happened."""
    error = ""
    for attempt in range(1, attempts + 1):
        try:
            response = httpx.post(url, json=payload, timeout=10, verify=tls_context())
            if response.status_code < 500:
                delivered = response.status_code < 400
                return {
                    "to": url,
                    "status": "delivered" if delivered else "refused",
                    "http_status": response.status_code,
                    "attempts": attempt,
                }
            error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if attempt < attempts:
            time.sleep(backoff * 2 ** (attempt - 1))
    log.error("alert webhook %s failed after %d attempts: %s", url, attempts, error)
    return {"to": url, "status": "failed", "error": error, "attempts": attempts}


def start_retraining(target: str, folder: Path) -> dict[str, Any]:
    """Start `relay pipelines run TARGET` in the background; its output goes to a log file."""
    folder.mkdir(parents=True, exist_ok=True)
    output = folder / f"retrain-{int(time.time())}.log"
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "relayml.cli", "pipelines", "run", target],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    log.info("started retraining %s (pid %d, log %s)", target, process.pid, output)
    return {"to": f"pipeline {target}", "status": "started", "pid": process.pid, "log": str(output)}
