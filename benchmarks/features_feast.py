"""Feast's side of benchmarks/features.py, run by the Python of Feast's own venv.

    <feast venv>/bin/python benchmarks/features_feast.py DATA_DIR SETS [AS_OF_KNOWN [TTL_DAYS]]

DATA_DIR holds entities.parquet and set0.parquet ... (written by benchmarks/features.py). A
feature repository in DATA_DIR/repo gets one Entity and one FeatureView per set (FileSource with
event_time and created_at, a TTL of TTL_DAYS, 0 or absent: ten years, none in effect), then
get_historical_features over the local file offline store is timed (AS_OF_KNOWN 1:
filter_by_created_timestamp=True, Feast's as-of-known), with the peak memory above the start
(VmHWM after resetting it). Prints one JSON line: {"seconds", "peak_mib", "result"}, the result
as Parquet.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    """Build the repository, time the historical retrieval, print the figures."""
    import pandas as pd
    import pyarrow.parquet as pq
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.repo_config import RepoConfig
    from feast.types import Float64

    data, sets = Path(sys.argv[1]), int(sys.argv[2])
    known = len(sys.argv) > 3 and sys.argv[3] == "1"
    ttl_days = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    repo = data / "repo"
    repo.mkdir(exist_ok=True)
    store = FeatureStore(
        config=RepoConfig(
            project="bench",
            registry=str(repo / "registry.db"),
            provider="local",
            offline_store={"type": "file"},
            online_store={"type": "sqlite", "path": str(repo / "online.db")},
            entity_key_serialization_version=3,
            repo_path=str(repo),
        )
    )
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
    views, refs = [], []
    for i in range(sets):
        path = data / f"set{i}.parquet"
        names = [n for n in pq.read_schema(path).names if n.startswith(f"s{i}_")]
        views.append(
            FeatureView(
                name=f"set{i}",
                entities=[customer],
                ttl=timedelta(days=ttl_days or 3650),
                schema=[Field(name=n, dtype=Float64) for n in names],
                source=FileSource(
                    path=str(path),
                    timestamp_field="event_time",
                    created_timestamp_column="created_at",
                ),
            )
        )
        refs += [f"set{i}:{n}" for n in names]
    store.apply([customer, *views])
    entities = pd.read_parquet(data / "entities.parquet").rename(
        columns={"event_time": "event_timestamp"}
    )
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    start = _status("VmRSS:")
    began = time.perf_counter()
    job = store.get_historical_features(
        entity_df=entities, features=refs, filter_by_created_timestamp=known
    )
    frame = job.to_df()
    seconds = time.perf_counter() - began
    peak = (_status("VmHWM:") - start) / 2**20
    result = data / f"feast_result_{int(known)}.parquet"
    frame.to_parquet(result)
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "result": str(result)}))


if __name__ == "__main__":
    main()
