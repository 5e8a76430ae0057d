"""A wide training frame (hundreds of features from several sets, the shape of Feast's #3003)
through training_frame on every transport: the values are the point-in-time ones, columns keep
the order asked for, and no step inserts columns one by one (pandas warns, warnings are errors)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from relayml.domain.features import Entity, Feature, FeatureSet, Source
from relayml.domain.ports import Backend
from relayml.features import training_frame
from relayml.features.declare import specs_of

ACCOUNT = Entity("account", join_keys=["account"])
WIDTH = 120  # features per set: more than pandas' 100 blocks before it warns of fragmentation


def _set(backend: Backend, project: str, index: int, rng: np.random.Generator) -> FeatureSet:
    from relayml.data.sources import log_dataset

    n = 400
    frame = pd.DataFrame(
        {
            "account": rng.choice([f"acct-{k}" for k in range(40)], n),
            "event_time": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 90 * 86_400, n), unit="s"),
            **{f"w{index}_{f}": rng.normal(size=n) for f in range(WIDTH)},
            f"label{index}": rng.choice(["a", "b"], n),
        }
    )
    log_dataset(backend, project, f"wide{index}", frame)
    names = [c for c in frame.columns if c.startswith(("w", "label"))]
    return FeatureSet(
        name=f"wide{index}",
        entity=ACCOUNT,
        source=Source(dataset=f"wide{index}"),
        features=[Feature(n) for n in names],
        event_time="event_time",
    )


def test_a_wide_training_frame_holds_the_point_in_time_values(
    backend: Backend, project: str
) -> None:
    rng = np.random.default_rng(5)
    sets = [_set(backend, project, i, rng) for i in range(3)]
    backend.apply_features(project, specs_of([ACCOUNT, *sets]))
    entities = pd.DataFrame(
        {
            "account": rng.choice([f"acct-{k}" for k in range(45)], 300),
            "event_time": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 100 * 86_400, 300), unit="s"),
        },
        index=pd.Index(rng.integers(0, 50, 300), name="row"),  # repeated labels are kept
    )
    refs = [f"{fs.name}:{f.name}" for fs in sets for f in fs.features]
    refs.insert(5, refs.pop(-1))  # one feature out of its set's order
    frame = training_frame(entities, refs, backend=backend, project=project, name=None)
    assert list(frame.columns) == ["account", "event_time", *(r.split(":")[1] for r in refs)]
    assert frame.index.equals(entities.index)
    for fs in sets:  # each row against the latest of its account at or before its time
        from relayml.data.sources import load_dataset

        source = load_dataset(
            backend, project, backend.get_dataset_version(project, fs.source.dataset or "").ref,
            as_="pandas",
        )  # fmt: skip
        source = source.sort_values("event_time", kind="stable")
        for i in range(0, len(entities), 37):
            account, at = entities["account"].iloc[i], entities["event_time"].iloc[i]
            seen = source[(source["account"] == account) & (source["event_time"] <= at)]
            name = fs.features[-2].name
            if seen.empty:
                assert pd.isna(frame[name].iloc[i])
            else:
                assert frame[name].iloc[i] == seen[name].iloc[-1]
                assert frame[fs.features[-1].name].iloc[i] == seen[fs.features[-1].name].iloc[-1]
