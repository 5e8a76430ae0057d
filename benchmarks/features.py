"""Point-in-time join benchmark: relayml's join against pandas merge_asof, same process, same data.

    python benchmarks/features.py [--entities 1000000] [--source-rows 10000000] [--sets 5]
                                  [--features 50] [--keys 100000] [--ttl-days 90]
                                  [--string-keys] [--reps 1] [--smoke | --wide] [--feast]

The data, built once from a fixed seed: --sets feature sets of --source-rows rows in all, each row
a (customer_id, event_time, created_at) with --features / --sets float64 features; event times
spread over a year at nanosecond precision (so no two rows of a key share an event time and both
tools must give the same answer), created 0 to 3 days later. The entity frame: --entities rows
of (customer_id, event_time) over the same year, some customers never seen in any source. Every
set has a TTL of --ttl-days (90 by default; pandas gets it as merge_asof's tolerance, Feast as
its FeatureView's ttl). --wide is the shape of Feast's #3003 (17,000 entity rows, 1,000 features
from 10 sets of 17,000 rows, text keys).

relayml: relayml.features.training.join_feature_set per feature set with the entity frame
prepared once (relayml.features.pit_index.entity_keys, as training_frame does), the columns put
side by side, each set's source prepared in a cache folder (relayml.features.pit_cache, as
training_frame does per dataset version): timed cold (the first join: it sorts the source, writes
the cache and joins; the folder is new and empty each time) and warm (a later join: the cache,
written before timing, is read memory-mapped, its files in the OS page cache; the source frames
are not read). The peer: a plain pandas merge_asof per feature set (both frames sorted by time,
by=customer_id, backward, the TTL as tolerance), the columns put back in the entity frame's
order, timed as it always was (it has no cache). relayml without the cache
(RELAY_FEATURE_CACHE=false: each source prepared in memory at each join) is timed too, and
relayml's as-of-known join, cold and warm (pandas has no such join; Feast's is
filter_by_created_timestamp=True). Store I/O and logging the frame as a dataset are left out:
this times the join. Before timing, the answers of
relayml (from the frames, and through the cache) and pandas are compared on the whole data.

Each measurement runs in a child forked after the data is built, so each starts from the same
memory with the data resident; peak memory above that is the child's VmHWM minus its starting
VmRSS, after resetting the high-water mark (/proc/self/clear_refs). relayml and pandas alternate;
medians of --reps. Printed: seconds, peak MiB and the ratio to relayml warm; the better peer's
time over relayml's warm and over its cold one.

Feast (--feast, or --feast-python PATH for a Python that has feast installed): its local file
offline store in its own venv (benchmarks/.work/feast-venv, feast==0.67.0), run by
benchmarks/features_feast.py on the same data written as Parquet: get_historical_features with
one FeatureView per set, by event time and as-of-known, timed and measured inside that process.
Its answers are compared too, on the rows it returns: it leaves out every entity row whose entity
has source rows in a set but none at or before the row's time within the TTL (its left merge on
the keys, then a filter on the times, removes all of the row's candidates and so the row; relayml
and pandas answer such a row with nulls), and the run stops unless the rows it left out are
exactly those.
Run it at full scale on a quiet machine only; --smoke runs a tiny scale for a quick check.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SEED = 11
YEAR_NS = 365 * 86_400 * 10**9
START = 1_704_067_200 * 10**9  # 2024-01-01 UTC
CLEAR_REFS = Path("/proc/self/clear_refs")
MiB = 2**20


def build(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    """The entity frame and one source frame per feature set."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    per_set = args.source_rows // args.sets
    width = max(1, args.features // args.sets)

    def keys(values: Any) -> Any:
        return pd.Series(values).map("cust-{:07d}".format) if args.string_keys else values

    sources = []
    for s in range(args.sets):
        event = START + rng.integers(0, YEAR_NS, per_set)
        columns = {
            "customer_id": keys(rng.integers(0, args.keys, per_set)),
            "event_time": pd.to_datetime(event, utc=True),
            "created_at": pd.to_datetime(
                event + rng.integers(0, 3 * 86_400 * 10**9, per_set), utc=True
            ),
        }
        for f in range(width):
            columns[f"s{s}_f{f}"] = rng.normal(0.0, 1.0, per_set)
        sources.append(pd.DataFrame(columns))
    entities = pd.DataFrame(
        {
            "customer_id": keys(rng.integers(0, int(args.keys * 1.05), args.entities)),
            "event_time": pd.to_datetime(START + rng.integers(0, YEAR_NS, args.entities), utc=True),
        }
    )
    return entities, sources


def _feature_set(index: int, source: Any, ttl_days: int) -> Any:
    from datetime import timedelta

    from relayml.domain.features import Feature, FeatureSet, Source

    names = [c for c in source.columns if c.startswith(f"s{index}_")]
    return FeatureSet(
        name=f"set{index}",
        entity="customer",
        source=Source(dataset=f"set{index}"),
        features=[Feature(n) for n in names],
        created_time="created_at",
        ttl=timedelta(days=ttl_days) if ttl_days else None,
    )


def relayml_join(
    entities: Any,
    sources: list[Any],
    ttl_days: int,
    as_of_known: bool = False,
    cache: Path | None = None,
) -> Any:
    """relayml's point-in-time join of every feature set. With a cache folder, each set's source
    is prepared there (relayml.features.pit_cache, as training_frame does for a dataset version)
    or read from it when it is there already: the first join builds it (cold), later ones read
    it memory-mapped and do not touch the source frames (warm)."""
    from collections import deque
    from dataclasses import replace

    import pandas as pd

    from relayml.features.pit_cache import cached_index, cached_known
    from relayml.features.pit_index import build_index, entity_keys, known_part
    from relayml.features.pit_threads import in_threads
    from relayml.features.training import join_feature_set

    prepared = entity_keys(entities, "event_time", ["customer_id"])  # once, as training_frame

    def prepare(i: int) -> Any:  # a set's source, the sets at once (as training_frame)
        source = sources[i]
        names = [c for c in source.columns if c.startswith(f"s{i}_")]

        def build() -> Any:
            index = build_index(source, ["customer_id"], "event_time", "created_at")
            return replace(index, known=known_part(index)) if as_of_known and not cache else index

        if cache is None:
            return build()
        index = cached_index(cache, f"set{i}", build, names)
        return cached_known(cache, f"set{i}", index) if as_of_known else index

    parts = [entities]
    indexes = deque(in_threads(prepare, range(len(sources))))  # each dropped once joined
    for i, source in enumerate(sources):
        index = indexes.popleft()
        fs = _feature_set(i, source, ttl_days)
        values = join_feature_set(
            entities, "event_time", fs, ["customer_id"], None, [f.name for f in fs.features],
            as_of_known=as_of_known, entities=prepared, index=index,
        )  # fmt: skip
        parts.append(values)
    return pd.concat(parts, axis=1)


def pandas_join(entities: Any, sources: list[Any], ttl_days: int) -> Any:
    """A plain pandas merge_asof per feature set (the TTL as its tolerance), back in the entity
    frame's row order."""
    import pandas as pd

    tolerance = pd.Timedelta(days=ttl_days) if ttl_days else None
    left = entities.reset_index().sort_values("event_time", kind="stable")
    out = left
    for source in sources:
        right = source.drop(columns="created_at").sort_values("event_time", kind="stable")
        out = pd.merge_asof(
            out, right, on="event_time", by="customer_id", direction="backward",
            tolerance=tolerance,
        )  # fmt: skip
    return out.sort_values("index").set_index("index").rename_axis(None)


def _peak_above_start(fn: Callable[[], Any]) -> tuple[float, float]:
    """(seconds, peak MiB above the start) of fn, measured in this (forked) process."""

    def status(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
        return 0

    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        pass
    start = status("VmRSS:")
    began = time.perf_counter()
    fn()
    seconds = time.perf_counter() - began
    return seconds, (status("VmHWM:") - start) / MiB


def in_child(fn: Callable[[], Any]) -> tuple[float, float]:
    """Run fn in a forked child; its (seconds, peak MiB)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        try:
            result = _peak_above_start(fn)
        except BaseException as exc:
            result = (float("nan"), float("nan"))
            print(f"child failed: {exc!r}", file=sys.stderr)
        with os.fdopen(write, "wb") as pipe:
            pickle.dump(result, pipe)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    seconds, peak = pickle.loads(data)
    return float(seconds), float(peak)


def _features(frame: Any) -> list[str]:
    return [c for c in frame.columns if c.startswith("s") and "_f" in c]


def same_answers(entities: Any, sources: list[Any], ttl_days: int, cache: Path) -> None:
    """relayml (from the frames in memory, and through the cache folder, which this builds)
    and pandas agree on every value (NaN where both have none)."""

    theirs = pandas_join(entities, sources, ttl_days)
    for ours in (relayml_join(entities, sources, ttl_days),
                 relayml_join(entities, sources, ttl_days, cache=cache)):  # fmt: skip
        _agree(ours, theirs)
    relayml_join(entities, sources, ttl_days, True, cache=cache)  # as-of-known's part too


def _agree(ours: Any, theirs: Any) -> None:
    import numpy as np

    for column in _features(theirs):
        a = ours[column].to_numpy(dtype="float64", na_value=np.nan)
        b = theirs[column].to_numpy(dtype="float64", na_value=np.nan)
        if not np.allclose(a, b, equal_nan=True):
            raise SystemExit(f"relayml and pandas differ in {column}")


def feast_drops(entities: Any, sources: list[Any], ours: Any) -> Any:
    """The entity rows Feast's file offline store leaves out: those whose entity has rows in a
    feature set but none that counts at the row's time (none at or before it, or only older than
    the TTL). Its left merge on the keys and then its filter ``event <= T`` (and ``>= T - ttl``)
    remove every candidate of such a row, and with them the row; only rows whose entity has no
    source row at all keep their place with nulls. relayml (and pandas) answer them with nulls."""
    import numpy as np

    dropped = np.zeros(len(entities), dtype=bool)
    for i, source in enumerate(sources):
        seen = entities["customer_id"].isin(source["customer_id"]).to_numpy()
        dropped |= seen & ours[f"s{i}_f0"].isna().to_numpy()
    return dropped


def run_feast(
    python: str, entities: Any, sources: list[Any], answers: dict[str, Any], args: Any
) -> dict[str, list[tuple[float, float]]]:
    """Feast's (seconds, peak MiB) per mode ('relayml': by event time, 'as_of_known': with
    filter_by_created_timestamp), after checking its values against relayml's on the rows it
    returns and that the rows it leaves out are exactly those feast_drops names."""
    import json
    import subprocess
    import tempfile

    import numpy as np
    import pandas as pd

    figures: dict[str, list[tuple[float, float]]] = {mode: [] for mode in answers}
    with tempfile.TemporaryDirectory(prefix="relay-bench-feast-") as tmp:
        folder = Path(tmp)
        entities.assign(row_id=np.arange(len(entities))).to_parquet(folder / "entities.parquet")
        for i, source in enumerate(sources):
            source.to_parquet(folder / f"set{i}.parquet")
        script = Path(__file__).with_name("features_feast.py")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        for _ in range(args.reps):
            for mode, ours in answers.items():
                known = "1" if mode == "as_of_known" else "0"
                done = subprocess.run(
                    [python, str(script), str(folder), str(len(sources)), known,
                     str(args.ttl_days)],
                    capture_output=True, text=True, env=env, check=False,
                )  # fmt: skip
                if done.returncode != 0:
                    raise SystemExit(f"feast failed:\n{done.stderr[-3000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                theirs = pd.read_parquet(result["result"]).sort_values("row_id")
                theirs = theirs.reset_index(drop=True)
                _check_feast(entities, sources, answers["relayml"], ours, theirs, mode)
                figures[mode].append((float(result["seconds"]), float(result["peak_mib"])))
                _progress(f"feast ({mode})", figures[mode][-1])
    return figures


def _progress(name: str, figure: tuple[float, float]) -> None:
    """One measurement as it is taken (a long peer run that fails keeps the others)."""
    print(f"  {name}: {figure[0]:.3f} s, {figure[1]:.0f} MiB", flush=True)


def _check_feast(
    entities: Any, sources: list[Any], plain: Any, ours: Any, theirs: Any, mode: str
) -> None:
    """Feast left out the rows feast_drops names (by event time: its as-of-known blanks values
    created too late rather than dropping the row) and agrees with relayml on the others."""
    import numpy as np

    rows = theirs["row_id"].to_numpy()
    dropped = feast_drops(entities, sources, plain)
    mode = {"relayml": "by event time", "as_of_known": "as-of-known"}[mode]
    kept = np.ones(len(entities), dtype=bool)
    kept[rows] = False
    if not np.array_equal(kept, dropped):
        raise SystemExit(f"feast ({mode}) left out other rows than the ones it is known to drop")
    print(
        f"feast ({mode}) returned {len(rows):,} of {len(ours):,} entity rows: the "
        f"{int(dropped.sum()):,} it leaves out are exactly those whose entity has source rows "
        "but none at or before the row's time within the TTL (relayml: nulls); values compared "
        "on the rest"
    )
    for column in _features(ours):
        a = ours[column].to_numpy(dtype="float64", na_value=np.nan)[rows]
        b = theirs[column].to_numpy(dtype="float64", na_value=np.nan)
        if not np.allclose(a, b, equal_nan=True):
            raise SystemExit(f"relayml and feast ({mode}) differ in {column}")


def main() -> None:
    """Parse the scale, build the data, check the answers, time both, print the ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Prints seconds, peak MiB above the data, and the ratio peer / relayml.",
    )
    parser.add_argument("--entities", type=int, default=1_000_000, help="entity rows")
    parser.add_argument("--source-rows", type=int, default=10_000_000, help="rows of all sets")
    parser.add_argument("--sets", type=int, default=5, help="feature sets")
    parser.add_argument("--features", type=int, default=50, help="features in all")
    parser.add_argument("--keys", type=int, default=100_000, help="distinct customers")
    parser.add_argument("--ttl-days", type=int, default=90, help="TTL of every set (0: none)")
    parser.add_argument("--string-keys", action="store_true", help="customer ids as text")
    parser.add_argument("--reps", type=int, default=1, help="runs of each (median)")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny scale (2,000 entities, 20,000 rows)"
    )
    parser.add_argument(
        "--wide",
        action="store_true",
        help="Feast #3003's shape: 17,000 entity rows x 1,000 features from 10 sets of 17,000 "
        "rows, 1,000 text keys",
    )
    parser.add_argument(
        "--feast", action="store_true", help="also run Feast (its venv under benchmarks/.work)"
    )
    parser.add_argument("--feast-python", help="a Python with feast installed (implies --feast)")
    args = parser.parse_args()
    if args.smoke:
        args.entities, args.source_rows, args.keys = 2_000, 20_000, 500
    if args.wide:
        args.entities, args.features, args.sets, args.string_keys = 17_000, 1_000, 10, True
        args.source_rows, args.keys = 170_000, 1_000  # 17,000 rows per set
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    print(
        f"point-in-time join: {args.entities:,} entity rows x {args.features} features from "
        f"{args.sets} feature sets with {args.source_rows:,} source rows, {args.keys:,} "
        f"{'text' if args.string_keys else 'integer'} keys, TTL {args.ttl_days or 'none'} days "
        f"({os.cpu_count()} cores)"
    )
    entities, sources = build(args)
    ttl = args.ttl_days
    with tempfile.TemporaryDirectory(prefix="relay-bench-pit-") as tmp:
        _measure(args, entities, sources, ttl, Path(tmp))


def _measure(args: Any, entities: Any, sources: list[Any], ttl: int, root: Path) -> None:
    """Check the answers (which prepares the warm cache), time each job, print the figures."""
    warm = root / "warm"
    same_answers(entities, sources, ttl, warm)
    print(
        "cached per feature set (relayml.features.pit_cache; training_frame keeps it under "
        "$RELAY_HOME/cache/features per dataset version): the source's rows sorted by (key, "
        "event time), their search keys and times, each key's values, the float features as "
        "row-major matrices in that order; as-of-known adds its order by available time. "
        "cold = the first join: prepares and writes it, then joins; warm = a later join: reads "
        "it memory-mapped (its files in the OS page cache) and sorts only the entity rows; "
        "no cache = RELAY_FEATURE_CACHE=false: each set's source prepared in memory, then joined"
    )
    jobs: dict[str, Callable[[Path], Any]] = {
        "cold": lambda folder: relayml_join(entities, sources, ttl, cache=folder),
        "warm": lambda _: relayml_join(entities, sources, ttl, cache=warm),
        "memory": lambda _: relayml_join(entities, sources, ttl),
        "pandas": lambda _: pandas_join(entities, sources, ttl),
        "known_cold": lambda folder: relayml_join(entities, sources, ttl, True, cache=folder),
        "known_warm": lambda _: relayml_join(entities, sources, ttl, True, cache=warm),
    }
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in jobs}
    os.sync()  # the warm cache written out before the first measurement
    for rep in range(args.reps):
        for name, job in jobs.items():
            folder = root / f"{name}-{rep}"  # a cold job's own, empty: it prepares everything
            runs[name].append(in_child(lambda job=job, folder=folder: job(folder)))
            shutil.rmtree(folder, ignore_errors=True)
            os.sync()  # a cold job's files written out now, not during the next measurement
            _progress(name, runs[name][-1])
    if args.feast or args.feast_python:
        python = args.feast_python
        if python is None:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            import _common as c

            python = str(c.PeerEnv("feast", ["feast==0.67.0"], "feast").ensure())
        answers = {
            "relayml": relayml_join(entities, sources, ttl, cache=warm),
            "as_of_known": relayml_join(entities, sources, ttl, True, cache=warm),
        }
        feast = run_feast(python, entities, sources, answers, args)
        runs["feast"], runs["feast_known"] = feast["relayml"], feast["as_of_known"]
    _report(runs)


def _report(runs: dict[str, list[tuple[float, float]]]) -> None:
    figures = {
        name: (statistics.median(s for s, _ in values), statistics.median(m for _, m in values))
        for name, values in runs.items()
    }
    labels = {
        "cold": "relayml, first join (cold)",
        "warm": "relayml, cache ready (warm)",
        "memory": "relayml, no cache (in memory)",
        "pandas": "pandas merge_asof per set",
        "feast": "feast 0.67 local offline store",
        "known_cold": "relayml as-of-known, cold",
        "known_warm": "relayml as-of-known, warm",
        "feast_known": "feast 0.67, as-of-known",
    }
    print(f"{'tool':<34}{'seconds':>10}{'peak MiB':>10}{'peer/warm':>12}")
    for name, (seconds, peak) in figures.items():
        ours = figures["known_warm" if "known" in name else "warm"][0]
        print(f"{labels[name]:<34}{seconds:>10.3f}{peak:>10.0f}{seconds / ours:>11.2f}x")
    peers = [name for name in ("pandas", "feast") if name in figures]
    better = min(peers, key=lambda name: figures[name][0])
    for name in ("warm", "cold", "memory"):
        ratio = figures[better][0] / figures[name][0]
        print(
            f"relayml {labels[name].split(', ')[1]} is {ratio:.2f}x the speed of the better "
            f"peer, {labels[better]} (goal: >= 10x)"
        )
    if "feast_known" in figures:
        for name in ("known_warm", "known_cold"):
            ratio = figures["feast_known"][0] / figures[name][0]
            print(f"{labels[name]} is {ratio:.2f}x the speed of feast (no pandas equivalent)")


if __name__ == "__main__":
    main()
