"""relayml's HTTP clients share one TLS context per process (relayml.tls): an alert webhook or an
OpenLineage event loads no CA bundle of its own (about 30 ms of CPU each time it did)."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from relayml.lineage.openlineage_out import emit
from relayml.monitoring.notify import post_webhook
from relayml.tls import tls_context


class _Accept(BaseHTTPRequestHandler):
    received: list[Any] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        _Accept.received.append(json.loads(self.rfile.read(length)))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_webhooks_and_lineage_events_load_no_ca_bundle_per_call(
    receiver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tls_context() is tls_context()  # built once: the first call loads the bundle
    loads: list[Any] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        load(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    _Accept.received.clear()
    for n in range(3):
        assert post_webhook(receiver + "/hook", {"alert": n})["status"] == "delivered"
        assert emit(receiver, {"eventType": "COMPLETE", "n": n}) is True
    assert len(_Accept.received) == 6  # every one arrived
    assert loads == []  # and none loaded the CA bundle again
