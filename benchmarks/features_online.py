"""Online feature lookup benchmark: p50/p99 of looking N entities up through the API, against the
peer, the same rows read straight from the metadata database (what the API adds is the ratio).

    python benchmarks/features_online.py [--entities 100000] [--keys 100] [--lookups 1000]
                                         [--features 20] [--requests 10000] [--smoke]
    (the model-server goal: --features 50, p99 of a request by key at most 5 ms)

The data, built once from a fixed seed: --entities customers with one row each (--features
float64 features, event times in the last 10 days), logged as a dataset, applied as a feature
set with a 30-day TTL, promoted to staging and materialised (the materialisation is timed once).
Then a real `relay server` on loopback serves
GET /api/v1/projects/bench/feature-sets/customer/online?keys=... and --lookups requests of
--keys random keys each are timed from a client in this process (relayml.client, one
connection), alternating with the peer: the same keys read with one SELECT on the SQLite file
(by the table's primary key: definition id, environment, entity key, as the API reads them).
Printed: p50 and p99 in milliseconds of each, and the ratio API / SQL.

Then inside the model server: the feature set is also materialised in production, one linear
model on the --features features is logged twice, as `looked` (feature_inputs: the server looks
the entity up online) and `sent` (the features come in the request), and one `relay serve
looked/1 sent/1` on loopback answers --requests POST /predict of one random entity each, from
one connection, alternating: `looked` gets {"customer_id": k}, `sent` that entity's values.
Printed: p50 and p99 of each and the ratio looked / sent, what the lookup costs a request.
Run it at full scale on a quiet machine only; --smoke runs a tiny scale for a quick check.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TOKEN = "relay_bench_online_token_0123456789abcdef"


def build(home: Path, args: argparse.Namespace) -> float:
    """The feature set materialised in staging; returns the materialisation's seconds."""
    import pandas as pd

    from relayml.backend import LocalBackend
    from relayml.config import get_settings
    from relayml.data.sources import log_dataset
    from relayml.domain.features import Entity, Feature, FeatureSet, Source
    from relayml.features.declare import specs_of

    rng = np.random.default_rng(7)
    n = args.entities
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "event_time": now - pd.to_timedelta(rng.uniform(0, 10, n), unit="D"),
            **{f"f{i}": rng.normal(size=n) for i in range(args.features)},
        }
    )
    backend = LocalBackend(get_settings(home=home, user="bench"))
    backend.create_project("bench", business_question="how fast are lookups?")
    log_dataset(backend, "bench", "customers", frame)
    frame.to_parquet(home / "values.parquet")  # each entity's values, for the `sent` requests
    customer = Entity("customer", join_keys=["customer_id"])
    profile = FeatureSet(
        name="customer",
        entity=customer,
        source=Source(dataset="customers"),
        features=[Feature(f"f{i}", "float64") for i in range(args.features)],
        event_time="event_time",
        ttl=pd.Timedelta(days=30).to_pytimedelta(),
        checks=[],
    )
    backend.apply_features("bench", specs_of([customer, profile]))
    backend.promote_feature_set("bench", "customer", "staging")
    started = time.perf_counter()
    backend.materialize_feature_set("bench", "customer", "staging")
    seconds = time.perf_counter() - started
    backend.promote_feature_set("bench", "customer", "production")
    backend.materialize_feature_set("bench", "customer", "production")  # what relay serve reads
    log_models(backend, frame, args.features)
    backend.close()
    return seconds


def log_models(backend: Any, frame: Any, features: int) -> None:
    """The same linear model as `looked` (features looked up online) and `sent` (in the body)."""
    from sklearn.linear_model import LinearRegression

    from relayml.models.publish import log_model

    columns = [f"f{i}" for i in range(features)]
    x = frame[columns].head(1000)
    model = LinearRegression().fit(x, x.sum(axis=1))
    refs = [f"customer:{c}" for c in columns]
    log_model(backend, "bench", model, "looked", x.head(5), feature_inputs=refs)
    log_model(backend, "bench", model, "sent", x.head(5))


def time_model_server(home: Path, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    """Seconds of each /predict to `looked` (by key) and to `sent` (values in the body)."""
    import httpx
    import pandas as pd

    from tests.fixtures.net import free_port, stop_process, wait_for_port

    frame = pd.read_parquet(home / "values.parquet")
    port = free_port()
    env = {**os.environ, "RELAY_HOME": str(home), "RELAY_USER": "bench", "RELAY_PROJECT": "bench"}
    env.pop("RELAY_SERVER_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "relayml.cli", "serve", "looked/1", "sent/1", "--port", str(port),
         "--no-prediction-log", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    looked, sent = [], []
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        url = f"http://127.0.0.1:{port}/predict"
        with httpx.Client(timeout=30) as client:
            while client.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code != 200:
                time.sleep(0.1)
            rng = np.random.default_rng(5)
            columns = [f"f{i}" for i in range(args.features)]
            for k in rng.integers(0, args.entities, args.requests):
                row = {
                    c: float(v) for c, v in zip(columns, frame.iloc[int(k)][columns], strict=True)
                }
                started = time.perf_counter()
                a = client.post(url, params={"model": "looked"}, json={"customer_id": int(k)})
                looked.append(time.perf_counter() - started)
                started = time.perf_counter()
                b = client.post(url, params={"model": "sent"}, json=row)
                sent.append(time.perf_counter() - started)
                assert a.status_code == b.status_code == 200, (a.text, b.text)
                assert np.isclose(a.json()["predictions"][0], b.json()["predictions"][0])
    finally:
        stop_process(server)
    return looked, sent


def percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    return float(np.percentile(values, 50)) * 1000, float(np.percentile(values, 99)) * 1000


def main() -> None:
    """Build, serve, time both, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=100_000, help="customers materialised")
    parser.add_argument("--keys", type=int, default=100, help="keys per lookup")
    parser.add_argument("--lookups", type=int, default=1000, help="timed lookups of each")
    parser.add_argument("--features", type=int, default=20, help="float64 features")
    parser.add_argument(
        "--requests", type=int, default=10_000, help="timed model-server requests of each"
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny scale, for a quick check")
    args = parser.parse_args()
    if args.smoke:
        args.entities, args.keys, args.lookups, args.features = 200, 10, 20, 3
        args.requests = 30

    from relayml.client.http import HttpBackend
    from relayml.config import get_settings
    from relayml.features.online_store import entity_key
    from tests.fixtures.net import free_port, stop_process, wait_for_port

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        materialise = build(home, args)
        port = free_port()
        env = {**os.environ, "RELAY_HOME": str(home), "RELAY_USER": "bench",
               "RELAY_BOOTSTRAP_TOKEN": TOKEN}  # fmt: skip
        env.pop("RELAY_SERVER_URL", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "relayml.cli", "server", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for_port("127.0.0.1", port, timeout=60)
            client = HttpBackend(
                get_settings(home=home, server_url=f"http://127.0.0.1:{port}", token=TOKEN)
            )
            db = sqlite3.connect(home / "relay.db")
            # the feature set's definition id: with it the SELECT uses the table's primary key
            # (def_id, environment, entity_key), as the API's lookup does
            (def_id,) = db.execute(
                "SELECT DISTINCT def_id FROM feature_online WHERE environment = 'staging'"
            ).fetchone()
            rng = np.random.default_rng(3)
            api, sql = [], []
            for _ in range(args.lookups):
                keys = [entity_key([int(k)]) for k in rng.integers(0, args.entities, args.keys)]
                started = time.perf_counter()
                found = client.online_features("bench", "customer", keys, environment="staging")
                api.append(time.perf_counter() - started)
                assert len(found.rows) == len(keys)
                started = time.perf_counter()
                marks = ",".join("?" * len(keys))
                rows = db.execute(
                    f"SELECT entity_key, features, event_at FROM feature_online "
                    f"WHERE def_id = ? AND environment = 'staging' AND entity_key IN ({marks})",
                    [def_id, *keys],
                ).fetchall()
                sql.append(time.perf_counter() - started)
                assert rows
            db.close()
            client.close()
        finally:
            stop_process(server)
        looked, sent = time_model_server(home, args)
    (a50, a99), (s50, s99) = percentiles(api), percentiles(sql)
    (l50, l99), (n50, n99) = percentiles(looked), percentiles(sent)
    print(f"materialise {args.entities} entities x {args.features} features: {materialise:.2f} s")
    print(f"{'':<24}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'relayml API lookup':<24}{a50:>10.2f}{a99:>10.2f}")
    print(f"{'SQL on the table':<24}{s50:>10.2f}{s99:>10.2f}")
    print(f"{'ratio API / SQL':<24}{a50 / s50:>10.1f}{a99 / s99:>10.1f}")
    print(f"({args.lookups} lookups of {args.keys} keys each)")
    print(f"{'relay serve, by key':<24}{l50:>10.2f}{l99:>10.2f}")
    print(f"{'relay serve, values sent':<24}{n50:>10.2f}{n99:>10.2f}")
    print(f"{'ratio by key / sent':<24}{l50 / n50:>10.1f}{l99 / n99:>10.1f}")
    print(f"({args.requests} requests of one entity with {args.features} features each)")


if __name__ == "__main__":
    main()
