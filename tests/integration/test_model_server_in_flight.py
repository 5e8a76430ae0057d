"""The model server's uvicorn tells its batchers how many requests are in flight: a request
alone is predicted without a turn of the event loop, and requests in flight together still
join one batch. Served for real: uvicorn on a loopback socket, HTTP clients on connections."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time

import httpx

from relayml.backend import LocalBackend
from relayml.config import Settings
from relayml.serve.runner import ModelServer, http_server
from tests.fixtures.serving import ServedHome, record


def _batches(metrics: str) -> tuple[float, float]:
    """(batches of churn v2, those of one row) from a scrape."""
    count = re.search(
        r'^relay_batch_rows_count\{model="churn",variant="v2"\} (\S+)$', metrics, re.M
    )
    single = re.search(
        r'^relay_batch_rows_bucket\{le="1.0",model="churn",variant="v2"\} (\S+)$', metrics, re.M
    )
    assert count is not None and single is not None, metrics
    return float(count.group(1)), float(single.group(1))


def test_the_http_server_tells_the_batchers_what_is_in_flight(served_home: ServedHome) -> None:
    settings = Settings(home=served_home.home, user="dana")
    server = ModelServer(settings, LocalBackend(settings), "churn", ["churn/2"])
    server.runtime.load()
    assert not server.runtime.in_flight.alone()  # nothing counted yet: a leader takes its turn
    http = http_server(server)
    assert server.runtime.in_flight.alone()  # uvicorn's set of request tasks, empty
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    thread = threading.Thread(target=http.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not http.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        with httpx.Client() as one:  # one connection: every request alone in flight
            answers = [one.post(f"{url}/predict", json=record(i)) for i in range(20)]
            assert [a.status_code for a in answers] == [200] * 20
            assert _batches(one.get(f"{url}/metrics").text) == (20.0, 20.0)

        async def together() -> list[int]:
            limits = httpx.Limits(max_connections=60, max_keepalive_connections=0)
            async with httpx.AsyncClient(limits=limits) as many:
                sent = [many.post(f"{url}/predict", json=record(i)) for i in range(60)]
                return [r.status_code for r in await asyncio.gather(*sent)]

        assert asyncio.run(together()) == [200] * 60
        batches, single = _batches(httpx.get(f"{url}/metrics").text)
        assert batches - 20 < 60  # some of the 60 requests were predicted together
        assert single - 20 < batches - 20
        assert server.runtime.in_flight.alone()  # every request has finished
    finally:
        http.should_exit = True
        thread.join(30)
        sock.close()
        server.close()
    assert not thread.is_alive()
