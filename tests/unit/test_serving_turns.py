"""Costs a request at one connection no longer pays: the batch leader's turn of the event loop
when no other request is in flight (relayml.serving.batcher.InFlight), one write per
access-log line (relayml.serving.metrics.AccessLines), and finding the metrics' children by
their labels each time (ServerMetrics keeps them per label set)."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest

from relayml.serving.accesslog import AccessLines, AccessLog
from relayml.serving.batcher import Batcher, InFlight
from relayml.serving.metrics import ServerMetrics


def _leader_sees_the_turn(in_flight: InFlight | None) -> bool:
    """Whether a callback queued before a lone request ran before that request was predicted
    (it runs only if the leader gave the loop a turn)."""
    seen: list[bool] = []
    turned: list[bool] = []

    def run(items: Sequence[int]) -> list[int]:
        seen.append(bool(turned))
        return [i + 1 for i in items]

    batcher: Batcher[int, int] = Batcher(run, lambda _: 1, name="b-turn", in_flight=in_flight)
    batcher.inline = True

    async def main() -> int:
        asyncio.get_running_loop().call_soon(turned.append, True)
        return await batcher.submit(1)

    assert asyncio.run(main()) == 2
    return seen == [True]


def test_a_lone_request_skips_the_turn_others_in_flight_take_it() -> None:
    assert _leader_sees_the_turn(None)  # nobody counts the requests: always a turn
    assert not InFlight().alone()
    tasks: set[object] = set()
    watching = InFlight()
    watching.watch(tasks)
    tasks.add("this request")
    assert watching.alone() and not _leader_sees_the_turn(watching)
    tasks.add("another request")
    assert not watching.alone() and _leader_sees_the_turn(watching)


def test_requests_in_flight_together_still_join_one_batch() -> None:
    tasks: set[object] = set()
    in_flight = InFlight()
    in_flight.watch(tasks)
    batches: list[list[int]] = []

    def run(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        return [i * 2 for i in items]

    batcher: Batcher[int, int] = Batcher(run, lambda _: 1, name="b-join", in_flight=in_flight)
    batcher.inline = True

    async def main() -> list[int]:
        made = [asyncio.ensure_future(batcher.submit(i)) for i in range(12)]
        for task in made:  # as uvicorn counts a request: from the task's creation to its end
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return list(await asyncio.gather(*made))

    assert asyncio.run(main()) == [i * 2 for i in range(12)]
    assert batches == [list(range(12))]


class _Stream(io.TextIOWrapper):
    """A text stream over bytes that remembers each write reaching its buffer."""

    def __init__(self) -> None:
        self.raw_writes: list[bytes] = []
        outer = self

        class Raw(io.BytesIO):
            def write(self, data: Any) -> int:
                outer.raw_writes.append(bytes(data))
                return super().write(data)

        super().__init__(io.BufferedWriter(Raw()), encoding="utf-8", line_buffering=True)


def _line(i: int, pad: int = 0) -> bytes:
    return json.dumps({"i": i, "path": "/predict" + "x" * pad}).encode() + b"\n"


def test_access_lines_wait_for_the_delay_then_go_in_one_write() -> None:
    stream = _Stream()
    lines = AccessLines(stream, delay=0.05)

    async def main() -> tuple[int, int]:
        for i in range(20):
            lines.add(_line(i))
        before = len(stream.raw_writes)
        await asyncio.sleep(0.2)
        return before, len(stream.raw_writes)

    before, after = asyncio.run(main())
    assert (before, after) == (0, 1)
    assert stream.raw_writes[0] == b"".join(_line(i) for i in range(20))


def test_access_lines_are_written_whole_in_pieces_a_pipe_never_splits() -> None:
    stream = _Stream()
    lines = AccessLines(stream, delay=60, limit=100)
    sent = [_line(i, pad=i * 7) for i in range(100)]

    async def main() -> None:
        stream.write("a line of text first\n")
        for line in sent:
            lines.add(line)  # the 100th reaches the limit: written without waiting

    asyncio.run(main())
    writes = stream.raw_writes
    assert writes[0] == b"a line of text first\n"
    assert b"".join(writes[1:]) == b"".join(sent)
    assert len(writes) > 2 and all(len(w) <= 4096 and w.endswith(b"\n") for w in writes[1:])


@pytest.mark.parametrize("closed", [False, True])
def test_access_lines_outside_a_loop_or_after_close_are_written_at_once(closed: bool) -> None:
    plain = io.StringIO()  # no binary buffer: written as text
    lines = AccessLines(plain, delay=60)
    if closed:

        async def early() -> None:
            lines.add(_line(0))

        asyncio.run(early())
        assert plain.getvalue() == ""  # waiting for its delay
        lines.close()
        assert plain.getvalue() == _line(0).decode()
        asyncio.run(early())  # after close: at once, even in a loop
        assert plain.getvalue() == (_line(0) * 2).decode()
    else:
        lines.add(_line(1))
        assert plain.getvalue() == _line(1).decode()


def test_access_lines_left_waiting_are_written_when_the_interpreter_exits() -> None:
    script = (
        "import asyncio\n"
        "from relayml.serving.accesslog import AccessLines\n"
        "lines = AccessLines(delay=600)\n"
        "async def main():\n"
        '    lines.add(b\'{"path": "/predict"}\\n\')\n'
        "asyncio.run(main())\n"  # the loop is gone; its timer never fires
        "print('done', flush=True)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert ran.stdout == "done\n"
    assert '{"path": "/predict"}\n' in ran.stderr


def test_each_label_set_counts_apart_once_its_children_are_kept() -> None:
    metrics = ServerMetrics()
    for _ in range(3):
        metrics.request("/predict", 200, 0.002)
        metrics.predicted("churn", "v1", "live", 4, 0.001)
        metrics.batch("churn", "v1", 4)
    metrics.request("/predict", 422, 0.0004)
    metrics.request("/v2/models/{name}/infer", 200, 0.03)
    metrics.predicted("churn", "v2", "shadow", 2, 0.3)
    metrics.predicted("churn", "v2", "live", 5, 0.001)  # the same variant, another mode
    metrics.predicted("fraud", "v1", "live", 1, 0.001)
    metrics.batch("churn", "v2", 600)
    text = metrics.exposition().decode()
    expected = [
        'relay_http_requests_total{route="/predict",status="200"} 3.0',
        'relay_http_requests_total{route="/predict",status="422"} 1.0',
        'relay_http_requests_total{route="/v2/models/{name}/infer",status="200"} 1.0',
        'relay_http_request_duration_seconds_count{route="/predict"} 4.0',
        'relay_http_request_duration_seconds_bucket{le="0.0005",route="/predict"} 1.0',
        'relay_http_request_duration_seconds_sum{route="/v2/models/{name}/infer"} 0.03',
        'relay_predictions_total{mode="live",model="churn",variant="v1"} 12.0',
        'relay_predictions_total{mode="shadow",model="churn",variant="v2"} 2.0',
        'relay_predictions_total{mode="live",model="churn",variant="v2"} 5.0',
        'relay_predictions_total{mode="live",model="fraud",variant="v1"} 1.0',
        'relay_model_latency_seconds_count{model="churn",variant="v1"} 3.0',
        'relay_model_latency_seconds_bucket{le="0.25",model="churn",variant="v2"} 1.0',
        'relay_model_latency_seconds_count{model="churn",variant="v2"} 2.0',
        'relay_model_latency_seconds_count{model="fraud",variant="v1"} 1.0',
        'relay_batch_rows_count{model="churn",variant="v1"} 3.0',
        'relay_batch_rows_bucket{le="4.0",model="churn",variant="v1"} 3.0',
        'relay_batch_rows_bucket{le="512.0",model="churn",variant="v2"} 0.0',
        'relay_batch_rows_count{model="churn",variant="v2"} 1.0',
    ]
    missing = [line for line in expected if line not in text.splitlines()]
    assert not missing, text


def test_lines_waiting_on_a_closed_loop_go_with_the_next_loop_or_at_collection() -> None:
    stream = _Stream()
    lines = AccessLines(stream, delay=0.05)

    async def first() -> None:
        lines.add(_line(0))  # its flush is due on this loop, which ends first

    async def second() -> None:
        lines.add(_line(1))
        await asyncio.sleep(0.2)

    asyncio.run(first())
    assert stream.raw_writes == []
    asyncio.run(second())  # a new loop: the waiting line and the new one go together
    assert stream.raw_writes == [_line(0) + _line(1)]

    left = AccessLines(stream, delay=60)
    asyncio.run(_add_to(left))
    del left
    gc.collect()  # collected with a line waiting: written then
    assert stream.raw_writes[-1] == _line(0)


async def _add_to(lines: AccessLines) -> None:
    lines.add(_line(0))


def test_an_access_line_with_a_long_path_still_fits_one_write() -> None:
    stream = io.StringIO()
    lines = AccessLines(stream)

    async def app(*_: Any) -> None:
        return None

    log = AccessLog(app, ServerMetrics(), lines=lines)
    scope = {"type": "http", "method": "GET", "path": "/v2/" + "é" * 5000, "client": ("::1", 1)}
    log.finished(scope, 404, 0.001)
    lines.close()
    (line,) = stream.getvalue().splitlines()
    assert len(line.encode()) + 1 <= 4096
    assert json.loads(line)["path"].endswith("...")
