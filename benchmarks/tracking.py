"""Tracking benchmark: relayml against MLflow, same run, same machine, same data.

    python benchmarks/tracking.py [--quick] [--only a,b,c] [--reps 3] [--write-results]

(a) metric points logged one call at a time into one run, until durable;
(b) runs created, each with 5 params and 5 metrics;
(c) search with a metric filter and an order-by, top 100, at 10k and at 100k runs.

relayml runs in this process on embedded SQLite. MLflow (3.17, which pins pyarrow<26 and so
cannot share relayml's environment) runs in its own venv, benchmarks/.work/mlflow-venv, made on
first use, as a worker process of this script that answers one request at a time: the two sides
take turns, never run at once. Every store is a fresh temp folder on the same disk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

MLFLOW = c.PeerEnv("mlflow", ["mlflow==3.17.2"], "mlflow")

FILTER = "metrics.m0 > 0.5 and params.p1 = 'a'"
ORDER_BY = ["metrics.m0 DESC"]
TOP = 100
SEARCHES = 5
# MLflow takes ~3 min per search at 100k runs: it stops searching once its searches add up to this.
MLFLOW_SEARCH_BUDGET = 60.0
SEED = 42
# Runs MLflow's client creates in the bulk-filled store before the rest are copied with SQL.
VIA_CLIENT = 20

GOAL_POINTS = 100_000  # points/s, durable
GOAL_RUNS = 1_000  # runs/s
GOAL_SEARCH_MS = 50.0  # at 100k runs


def sizes(quick: bool) -> dict[str, int]:
    """How much work each figure does (--quick: ten times less)."""
    full = {
        "points": 100_000,  # (a) relayml, per call; MLflow log_batch
        "points_single": 2_000,  # (a) MLflow per call (265 points/s: all 100k would take 6 min)
        "batch": 1_000,  # (a) MLflow points per log_batch call
        "runs": 10_000,  # (b), and (c) small
        "big": 100_000,  # (c) large
    }
    if quick:
        return {k: (v if k == "batch" else v // 10) for k, v in full.items()}
    return full


# ======================================================================= MLflow side (its venv)


def mlflow_worker() -> None:
    """Serve MLflow measurements to the parent process (runs in the MLflow venv)."""
    import logging
    import warnings

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    warnings.filterwarnings("ignore")
    import mlflow  # type: ignore[import-not-found]
    import sqlalchemy
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param  # type: ignore[import-not-found]

    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)

    stores: dict[str, tuple[Any, str, Path]] = {}

    def fresh() -> tuple[Any, str, Path]:
        folder = Path(tempfile.mkdtemp(prefix="mlflow-bench-"))
        mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
        client = MlflowClient()
        exp_id = client.create_experiment("e", artifact_location=(folder / "artifacts").as_uri())
        return client, exp_id, folder

    def done(folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def metric_single(n: int) -> dict[str, Any]:
        client, exp_id, folder = fresh()
        run_id = client.create_run(exp_id).info.run_id
        values = c.metric_values(n)
        log_metric = client.log_metric
        with c.clock() as t:
            for i, v in enumerate(values):
                log_metric(run_id, "loss", v, step=i)
        client.set_terminated(run_id)
        stored = len(client.get_metric_history(run_id, "loss"))
        done(folder)
        return {"seconds": t[0], "stored": stored}

    def metric_batch(n: int, batch: int) -> dict[str, Any]:
        client, exp_id, folder = fresh()
        run_id = client.create_run(exp_id).info.run_id
        values = c.metric_values(n)
        with c.clock() as t:
            for start in range(0, n, batch):
                ts = int(time.time() * 1000)
                chunk = values[start : start + batch]
                points = [Metric("loss", v, ts, start + j) for j, v in enumerate(chunk)]
                client.log_batch(run_id, metrics=points)
        client.set_terminated(run_id)
        stored = len(client.get_metric_history(run_id, "loss"))
        done(folder)
        return {"seconds": t[0], "stored": stored}

    def add_runs(client: Any, exp_id: str, data: list[Any]) -> list[str]:
        ids = []
        for params, metrics in data:
            run_id = client.create_run(exp_id).info.run_id
            ts = int(time.time() * 1000)
            client.log_batch(
                run_id,
                metrics=[Metric(k, v, ts, 0) for k, v in metrics.items()],
                params=[Param(k, v) for k, v in params.items()],
            )
            client.set_terminated(run_id)
            ids.append(run_id)
        return ids

    def create_runs(n: int, keep: str | None = None) -> dict[str, Any]:
        client, exp_id, folder = fresh()
        data = list(c.run_data(n, SEED))
        with c.clock() as t:
            add_runs(client, exp_id, data)
        if keep:
            stores[keep] = (client, exp_id, folder)
        else:
            done(folder)
        return {"seconds": t[0]}

    def bulk_runs(n: int, keep: str) -> dict[str, Any]:
        """n runs: the first VIA_CLIENT through MLflow's client, the rest copied from the first
        with SQL, row for row in every table where MLflow put something of the first run."""
        client, exp_id, folder = fresh()
        data = list(c.run_data(n, SEED))
        head = min(VIA_CLIENT, n)
        with c.clock() as t:
            ids = add_runs(client, exp_id, data[:head])
            copied = _mlflow_copy_runs(folder / "mlflow.db", ids[0], data[head:])
        stores[keep] = (client, exp_id, folder)
        size = (folder / "mlflow.db").stat().st_size
        return {"seconds": t[0], "db_bytes": size, "copied": copied}

    def search(key: str) -> dict[str, Any]:
        client, exp_id, _ = stores[key]
        with c.clock() as t:
            runs = client.search_runs(
                [exp_id], filter_string=FILTER, order_by=ORDER_BY, max_results=TOP
            )
        return {"seconds": t[0], "m0": [r.data.metrics["m0"] for r in runs]}

    def drop(key: str) -> dict[str, Any]:
        if key in stores:
            done(stores.pop(key)[2])
        return {}

    print(
        f"mlflow worker: mlflow {mlflow.__version__}, sqlalchemy {sqlalchemy.__version__}",
        file=sys.stderr,
    )
    c.serve(
        {
            "versions": lambda: {
                "mlflow": mlflow.__version__,
                "sqlalchemy": sqlalchemy.__version__,
                "python": sys.version.split()[0],
            },
            "metric_single": metric_single,
            "metric_batch": metric_batch,
            "create_runs": create_runs,
            "bulk_runs": bulk_runs,
            "search": search,
            "drop": drop,
        }
    )
    for key in list(stores):
        drop(key)


def _mlflow_copy_runs(db: Path, template: str, data: list[Any]) -> dict[str, int]:
    """Copy run `template` once per item of data, with that item's params and metrics.

    The tables and columns come from the database MLflow made: every column of every table that
    holds the template's id is found, and the copy refuses to go on if one is not understood.
    """
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    holders: dict[str, list[str]] = {}  # table -> columns holding the template id
    for table in tables:
        for col in con.execute(f'PRAGMA table_info("{table}")'):
            hit = con.execute(
                f'SELECT 1 FROM "{table}" WHERE CAST("{col["name"]}" AS TEXT) LIKE ? LIMIT 1',
                (f"%{template}%",),
            ).fetchone()
            if hit:
                holders.setdefault(table, []).append(col["name"])
    expected = {
        "runs": ["run_uuid", "artifact_uri"],
        "params": ["run_uuid"],
        "metrics": ["run_uuid"],
        "latest_metrics": ["run_uuid"],
        "tags": ["run_uuid"],
    }
    if {t: sorted(cols) for t, cols in holders.items()} != {
        t: sorted(cols) for t, cols in expected.items()
    }:
        raise RuntimeError(f"MLflow's schema holds run ids in {holders}; update the copy")
    rows = {
        t: [dict(r) for r in con.execute(f'SELECT * FROM "{t}" WHERE run_uuid = ?', (template,))]
        for t in holders
    }
    if len(rows["runs"]) != 1:
        raise RuntimeError(f"run {template} is in MLflow's runs table {len(rows['runs'])} times")
    tag_keys = {r["key"] for r in rows["tags"]}
    if tag_keys != {"mlflow.runName"}:
        raise RuntimeError(f"MLflow's client set tags {tag_keys}; update the copy")
    out: dict[str, list[tuple[Any, ...]]] = {t: [] for t in rows}
    columns = {t: list(rows[t][0]) for t in rows}
    now = int(time.time() * 1000)
    for i, (params, metrics) in enumerate(data):
        new = f"{i:08d}{os.urandom(12).hex()}"
        name = f"bulk-{i}"
        for table, template_rows in rows.items():
            for r in template_rows:
                v = dict(r, run_uuid=new)
                if table == "runs":
                    v.update(
                        name=name,
                        artifact_uri=r["artifact_uri"].replace(template, new),
                        start_time=now + i,
                        end_time=now + i,
                    )
                elif table == "params":
                    v["value"] = params[r["key"]]
                elif table in ("metrics", "latest_metrics"):
                    v["value"] = metrics[r["key"]]
                elif table == "tags":
                    v["value"] = name
                out[table].append(tuple(v[k] for k in columns[table]))
    with con:
        for table in ("runs", "params", "metrics", "latest_metrics", "tags"):
            cols = ", ".join(f'"{k}"' for k in columns[table])
            marks = ", ".join("?" for _ in columns[table])
            con.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', out[table])
    con.close()
    return {t: len(v) for t, v in out.items()}


# ======================================================================= relayml side (here)


class Relay:
    """relayml in this process; each store in a fresh temp folder."""

    def __init__(self) -> None:
        import relayml as relay

        self.relay = relay
        self.folder: Path | None = None

    def fresh(self) -> Path:
        """Switch to a new empty store (relay.init closes the previous one, then it is deleted)."""
        old, self.folder = self.folder, Path(tempfile.mkdtemp(prefix="relay-bench-"))
        self.relay.init(project="bench", home=self.folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.folder

    def finish(self) -> None:
        """Delete the last store's folder (its open connection goes at exit)."""
        if self.folder is not None:
            self.relay.flush()
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def metric_points(self, n: int) -> dict[str, Any]:
        self.fresh()
        values = c.metric_values(n)
        with self.relay.start_run(experiment="e") as run:
            log_metric = run.log_metric
            start = time.perf_counter()
            for i, v in enumerate(values):
                log_metric("loss", v, step=i)
            calls = time.perf_counter() - start
            run.flush()
            seconds = time.perf_counter() - start
        stored = len(self.relay.get_backend().get_metric_history(run.id, "loss"))
        return {"seconds": seconds, "calls_seconds": calls, "stored": stored}

    def create_runs(self, n: int) -> dict[str, Any]:
        self.fresh()
        data = list(c.run_data(n, SEED))
        start_run = self.relay.start_run
        with c.clock() as t:
            for params, metrics in data:
                with start_run(experiment="e") as run:
                    run.log_params(params)
                    run.log_metrics(metrics, step=0)
        assert self.folder is not None
        return {"seconds": t[0], "db_bytes": _db_bytes(self.folder / "relay.db")}

    def search(self) -> dict[str, Any]:
        with c.clock() as t:
            page = self.relay.search_runs(filter=FILTER, order_by=ORDER_BY, max_results=TOP)
        return {"seconds": t[0], "m0": [r.metrics["m0"] for r in page.runs]}


def _db_bytes(db: Path) -> int:
    """Size of the database file, without its WAL (which shrinks at the next checkpoint)."""
    return db.stat().st_size


# ======================================================================= the benchmark


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.n = sizes(args.quick)
        self.reps: int = args.reps
        self.figures: list[c.Figure] = []
        self.details: list[list[str]] = []
        self.notes: list[str] = []
        self.relay = Relay()
        python = Path(args.mlflow_python) if args.mlflow_python else MLFLOW.ensure()
        c.log(f"starting the MLflow worker ({python})")
        self.mlflow = c.PeerProcess([str(python), str(Path(__file__).resolve()), "--worker"])
        self.versions = self.mlflow.call("versions")
        self.small_key = f"{self.n['runs'] // 1000}k runs"
        self.kept_small = False  # (b) left its last stores on both sides for (c)

    def detail(self, what: str, side: str, values: list[float], unit: str, per: int) -> float:
        """Record the repetitions of one measurement; returns the median seconds."""
        m = c.median(values)
        reps = ", ".join(c.fmt_seconds(v) for v in values)
        rate = "-" if unit == "ms" else c.fmt_rate(per / m, unit)
        self.details.append([what, side, str(len(values)), reps, c.fmt_seconds(m), rate])
        c.log(f"{what} [{side}]: median {c.fmt_seconds(m)} ({rate}) over {reps}")
        return m

    # -------------------------------------------------------------- (a)
    def points(self) -> None:
        n, single, batch = self.n["points"], self.n["points_single"], self.n["batch"]
        c.log(
            f"(a) {n:,} points per call (relayml), {single:,} per call and {n:,} by "
            f"log_batch({batch}) (MLflow), {self.reps} repetitions, alternating"
        )
        relay_s: list[float] = []
        relay_calls: list[float] = []
        ml_single: list[float] = []
        ml_batch: list[float] = []
        for _ in range(self.reps):
            r = self.relay.metric_points(n)
            assert r["stored"] == n, f"relayml stored {r['stored']} of {n} points"
            relay_s.append(r["seconds"])
            relay_calls.append(r["calls_seconds"])
            m = self.mlflow.call("metric_single", n=single)
            assert m["stored"] == single, m
            ml_single.append(m["seconds"])
            m = self.mlflow.call("metric_batch", n=n, batch=batch)
            assert m["stored"] == n, m
            ml_batch.append(m["seconds"])
        r_med = self.detail(f"{n:,} points, log_metric + flush", "relayml", relay_s, "points", n)
        self.detail(f"{n:,} points, the calls alone", "relayml", relay_calls, "points", n)
        s_med = self.detail(f"{single:,} points, log_metric", "mlflow", ml_single, "points", single)
        b_med = self.detail(f"{n:,} points, log_batch({batch})", "mlflow", ml_batch, "points", n)
        self.notes.append(
            f"(a) relayml logs {n:,} points one call each, then flush() (durable when it "
            f"returns); MLflow's log_metric is timed on {single:,} points (all {n:,} would take "
            f"minutes), its log_batch on all {n:,}, {batch:,} a call."
        )
        self.figures += [
            c.Figure(
                "(a) points, one call each, durable",
                "points/s",
                n / r_med,
                single / s_med,
                GOAL_POINTS,
            ),
            c.Figure(
                f"(a) relayml per call vs MLflow log_batch({batch})",
                "points/s",
                n / r_med,
                n / b_med,
                GOAL_POINTS,
            ),
        ]

    # -------------------------------------------------------------- (b)
    def runs(self, keep: bool) -> None:
        n = self.n["runs"]
        # MLflow's 10k runs take ~3 min each time: once at full size, --reps times in --quick.
        ml_reps = self.reps if self.args.quick else 1
        c.log(f"(b) {n:,} runs with 5 params + 5 metrics; relayml x{self.reps}, MLflow x{ml_reps}")
        relay_s: list[float] = []
        ml_s: list[float] = []
        for rep in range(self.reps):
            relay_s.append(self.relay.create_runs(n)["seconds"])
            if rep < ml_reps:
                # the last stores of both stay for (c) to search
                label = self.small_key if keep and rep == ml_reps - 1 else None
                ml_s.append(self.mlflow.call("create_runs", n=n, keep=label)["seconds"])
        r_med = self.detail(f"{n:,} runs created", "relayml", relay_s, "runs", n)
        m_med = self.detail(f"{n:,} runs created", "mlflow", ml_s, "runs", n)
        if ml_reps < self.reps:
            self.notes.append(f"(b) MLflow's {n:,} runs were timed once (it takes ~3 min).")
        self.figures.append(
            c.Figure(
                f"(b) runs created ({n // 1000}k, 5 params + 5 metrics)",
                "runs/s",
                n / r_med,
                n / m_med,
                GOAL_RUNS,
            )
        )
        self.kept_small = keep

    # -------------------------------------------------------------- (c)
    def search_both(self, label: str) -> tuple[float, float, bool]:
        """SEARCHES searches on each side, alternating; MLflow stops early past its budget."""
        relay_s: list[float] = []
        ml_s: list[float] = []
        same = True
        for _ in range(SEARCHES):
            r = self.relay.search()
            relay_s.append(r["seconds"])
            if sum(ml_s) < MLFLOW_SEARCH_BUDGET:
                m = self.mlflow.call("search", key=label)
                ml_s.append(m["seconds"])
                same = same and r["m0"] == m["m0"] and len(r["m0"]) == TOP
                if m["seconds"] > 10:
                    c.log(f"  one MLflow search at {label}: {c.fmt_seconds(m['seconds'])}")
        if len(ml_s) < SEARCHES:
            self.notes.append(
                f"(c) at {label} MLflow searched {len(ml_s)} time(s), not {SEARCHES}: one search "
                f"took {c.fmt_seconds(ml_s[0])} (it stops once its searches pass "
                f"{MLFLOW_SEARCH_BUDGET:.0f} s)."
            )
        r_med = self.detail(f"search, {label}", "relayml", relay_s, "ms", 1)
        m_med = self.detail(f"search, {label}", "mlflow", ml_s, "ms", 1)
        if not same:
            self.notes.append(f"(c) at {label}: relayml and MLflow returned DIFFERENT top {TOP}!")
        return r_med, m_med, same

    def search(self) -> None:
        small, big = self.n["runs"], self.n["big"]
        c.log(f"(c) search '{FILTER}' order by {ORDER_BY}, top {TOP}, median of {SEARCHES}")
        small_key, big_key = self.small_key, f"{big // 1000}k runs"
        if self.kept_small:
            self.notes.append(
                f"(c) the {small_key} stores are those of (b), filled through each one's client."
            )
        else:
            self.relay.create_runs(small)
            m = self.mlflow.call("bulk_runs", n=small, keep=small_key)
            self.notes.append(
                f"(c) the {small_key} stores: relayml's filled through its SDK, MLflow's "
                f"{VIA_CLIENT} through its client and the rest by SQL copies."
            )
        r10, m10, same10 = self.search_both(small_key)
        self.mlflow.call("drop", key=small_key)

        c.log(f"(c) filling {big:,} runs: relayml through its SDK, MLflow by SQL copies")
        r = self.relay.create_runs(big)
        big_rate = big / r["seconds"]
        self.detail(f"{big:,} runs created (to search)", "relayml", [r["seconds"]], "runs", big)
        m = self.mlflow.call("bulk_runs", n=big, keep=big_key)
        self.detail(
            f"{big:,} runs filled by SQL (to search)", "mlflow", [m["seconds"]], "runs", big
        )
        self.notes.append(
            f"(c) {big_key}: relayml's runs went through its SDK in {c.fmt_seconds(r['seconds'])}"
            f" ({big_rate:,.0f} runs/s, database {r['db_bytes'] / 2**20:.0f} MiB); MLflow's first "
            f"{VIA_CLIENT} through its client, the rest copied from the first in MLflow's own "
            f"tables with SQL in {c.fmt_seconds(m['seconds'])} (database "
            f"{m['db_bytes'] / 2**20:.0f} MiB)."
        )
        r100, m100, same100 = self.search_both(big_key)
        self.mlflow.call("drop", key=big_key)
        self.figures += [
            c.Figure(
                f"(b) runs created ({big // 1000}k, relayml only)",
                "runs/s",
                big_rate,
                None,
                GOAL_RUNS,
            ),
            c.Figure(f"(c) search top {TOP} at {small_key}", "ms", r10 * 1000, m10 * 1000),
            c.Figure(
                f"(c) search top {TOP} at {big_key}",
                "ms",
                r100 * 1000,
                m100 * 1000,
                None if self.args.quick else GOAL_SEARCH_MS,  # the goal is at 100k runs
            ),
        ]
        same = "yes" if same10 and same100 else "NO"
        self.notes.append(f"(c) both returned the same top {TOP} (m0 values, in order): {same}.")

    # -------------------------------------------------------------- report
    def report(self, only: set[str], seconds: float) -> None:
        c.print_table(
            "Repetitions", ["measurement", "tool", "n", "each", "median", "rate"], self.details
        )
        rows = [f.cells() for f in self.figures]
        headers = [h if h != "peer" else "mlflow" for h in c.TABLE_HEADERS]
        c.print_table(
            f"relayml {c.version_of('relayml')} vs MLflow {self.versions['mlflow']}"
            f" (tracking, SQLite){' --quick' if self.args.quick else ''}",
            headers,
            rows,
        )
        for note in self.notes:
            print(f"- {note}")
        print(f"- whole run: {c.fmt_seconds(seconds)}")
        if self.args.write_results:
            self.write(headers, rows, only, seconds)

    def write(self, headers: list[str], rows: list[list[str]], only: set[str], secs: float) -> None:
        m = c.machine_info()
        body = [
            f"## Tracking: relayml vs MLflow ({dt.date.today().isoformat()})",
            "",
            f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory']}, {m['os']}; Python "
            f"{m['python']}. relayml {c.version_of('relayml')} {c.git_state()} (SQLAlchemy "
            f"{c.version_of('sqlalchemy')}); MLflow {self.versions['mlflow']} (SQLAlchemy "
            f"{self.versions['sqlalchemy']}, its own venv). Both on SQLite files in fresh temp "
            f"folders on the same disk. Command: `python benchmarks/tracking.py "
            f"{' '.join(sys.argv[1:])}`; figures {', '.join(sorted(only))}; whole run "
            f"{c.fmt_seconds(secs)}. Medians of {self.reps} repetitions (searches: of "
            f"{SEARCHES}), relayml and MLflow alternating.",
            "",
            c.markdown_table(headers, rows),
            "",
            *[f"- {n}" for n in self.notes],
            "",
            "<details><summary>Every repetition</summary>",
            "",
            c.markdown_table(["measurement", "tool", "n", "each", "median", "rate"], self.details),
            "",
            "</details>",
        ]
        c.write_results_section("tracking", "\n".join(body))
        c.log(f"wrote {c.RESULTS}")

    def close(self) -> None:
        self.relay.finish()
        self.mlflow.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="ten times less work (smoke test)")
    parser.add_argument("--only", default="a,b,c", help="comma-separated figures: a, b, c")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per figure (default 3)")
    parser.add_argument(
        "--write-results",
        action="store_true",
        help="update the tracking section of benchmarks/RESULTS.md",
    )
    parser.add_argument("--mlflow-python", help="python of an existing MLflow 3 environment")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        mlflow_worker()
        return 0
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    if not only <= {"a", "b", "c"}:
        parser.error(f"--only takes a, b, c; got {args.only!r}")
    start = time.perf_counter()
    load = c.LoadSampler()
    bench = Bench(args)
    try:
        if "a" in only:
            bench.points()
        if "b" in only:
            bench.runs(keep="c" in only)
        if "c" in only:
            bench.search()
    finally:
        bench.close()
    bench.notes.append(load.stop() + ".")
    bench.report(only, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
