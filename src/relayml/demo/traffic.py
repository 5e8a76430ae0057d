"""The demo's traffic simulator: the CRM scoring each simulated day's customers through a
replaying model server, the outcomes that arrive later, the weekly CRM loads, and the on-call
webhook endpoint (relayml.demo.weeks tells the story around it)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd

import relayml as relay
from relayml.demo.production import FEATURES, loopback
from relayml.demo.story import customers
from relayml.errors import NotFound

WEEKS = 8
LABEL_LAG = 2  # days until a customer's outcome is known


@dataclass(frozen=True)
class Scale:
    """How much traffic the simulation sends."""

    per_day: int  # customers scored per simulated day
    today: int  # customers in today's A/B test
    holdout: int  # labelled customers in the refreshed holdout


FULL = Scale(per_day=400, today=3000, holdout=3000)
FAST = Scale(per_day=200, today=800, holdout=3000)


def first_day(today: datetime | None = None) -> datetime:
    """Day 0 of the simulation: eight weeks ago, so that day 55 is today.

    Each simulated day's customers are scored at 09:00 UTC, or earlier when the demo runs
    before 09:00 (on the minute, at midnight at the earliest): day 55's customers are scored
    today, and a replay may not log the future.
    """
    now = today or datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    at = min(timedelta(hours=9), (now - midnight) // timedelta(minutes=1) * timedelta(minutes=1))
    return midnight - timedelta(days=7 * WEEKS - 1) + at


class Hooks:
    """The on-call channel's webhook: an HTTP endpoint that keeps what it is sent."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(size) or b"{}"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/oncall"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Traffic:
    """The simulator's side: customers, their answers, and the outcomes still to come."""

    def __init__(self, url: str, scale: Scale, hooks: Hooks) -> None:
        self.url = url
        self.scale = scale
        self.hooks = hooks
        self.heard = 0  # webhook deliveries already shown
        self.next_id = 0
        self.crm: list[pd.DataFrame] = []  # snapshots not yet loaded by the data engineer
        self.pending: list[tuple[datetime, list[str], list[int]]] = []  # outcomes to come

    def day(self, moment: datetime, seed: int, drifted: bool) -> pd.DataFrame:
        """Score one simulated day's customers at `moment`; returns them with their answers."""
        people = customers(self.scale.per_day, seed, drifted, self.next_id)
        self.next_id += len(people)
        self.crm.append(
            people[["customer_id", *FEATURES]].assign(
                snapshot_time=moment - timedelta(hours=8), loaded_at=moment - timedelta(hours=7)
            )
        )
        answers = self.score(people, moment)
        self.pending.append((moment, answers["prediction_ids"], people["churned"].tolist()))
        return people.assign(variant_version=answers["versions"])

    def score(self, people: pd.DataFrame, moment: datetime | None) -> dict[str, Any]:
        """POST the customers to the model server (stamped with `moment` when given)."""
        rows = people[["customer_id", *FEATURES]].to_dict("records")
        headers = {} if moment is None else {"X-Relay-Time": moment.isoformat()}
        response = loopback().post(self.url + "/predict", json={"instances": rows}, headers=headers)
        if response.is_error:  # the server's own words, not only its status
            raise RuntimeError(f"the model server answered {response.status_code}: {response.text}")
        answers: dict[str, Any] = response.json()
        return answers

    def outcomes_known_by(self, moment: datetime) -> int:
        """Log the outcomes that have arrived by `moment` (LABEL_LAG days after scoring)."""
        arrived = [p for p in self.pending if p[0] + timedelta(days=LABEL_LAG) <= moment]
        self.pending = [p for p in self.pending if p[0] + timedelta(days=LABEL_LAG) > moment]
        ids = [i for _, day_ids, _ in arrived for i in day_ids]
        values = [v for _, _, day_values in arrived for v in day_values]
        if ids:
            relay.log_outcomes(ids, values, model="churn")
        return len(ids)

    def load_crm(self) -> str:
        """The data engineer's weekly load: the week's snapshots as a new dataset version."""
        previous = pd.concat(self.crm, ignore_index=True)
        self.crm = []
        try:
            before = relay.load_dataset("crm_customers@latest")
            previous = pd.concat([before, previous], ignore_index=True)
        except NotFound:
            pass
        return relay.log_dataset("crm_customers", previous).ref
