"""Model risk report benchmark: `relay report model` on a large store; time to build, file size.

    python benchmarks/report.py [--quick] [--versions N] [--runs N] [--predictions N]
                                [--days N] [--reps 3] [--profile FILE] [--write-results]

The store (SQLite, in benchmarks/.work/report-<scale>/, kept and reused between runs of the same
scale; --fresh builds it again) holds one project with:
- --runs runs (default 100,000; --quick 2,000), each with 3 params and 3 metrics;
- --versions versions of the model churn (default 1,000; --quick 20), each from one of the runs,
  each evaluated by region; every 5th version goes to staging and then to production, so the
  environments' timeline has a few hundred stretches;
- --predictions rows in the prediction log of churn@production (default 1,000,000; --quick
  20,000), spread over --days days (default 120), with probabilities and inputs as the model
  server logs them; outcomes for 10% of them; a few experts' flags; an alert rule.
The store is built through the services (runs with their params and metrics in two calls each,
versions, promotions); the prediction log is written in Arrow batches by the log's own writer and
its closed days compacted, as `relay predictions compact` does.

Measured: building the report of the version in production, as html, md and pdf, each --reps
times (medians); its size; and how much smaller the HTML is than the raw prediction log it
summarises. No open-source peer builds this report (MLflow's model card request is open; SageMaker
model cards are a hosted service), so the ratios printed are against the data itself: report
bytes per raw log byte. With --profile FILE the html build runs once under cProfile as well, and
the 25 costliest functions (cumulative) are printed.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import time
from pathlib import Path
from typing import Any

_HERE = str(Path(__file__).resolve().parent)
# benchmarks/profile.py would shadow the standard library's profile, which cProfile imports
sys.path[:] = [p for p in sys.path if p not in (_HERE, "")]
import cProfile  # noqa: E402
import pstats  # noqa: E402

sys.path.insert(0, _HERE)

import _common as c  # noqa: E402

FULL = {"versions": 1_000, "runs": 100_000, "predictions": 1_000_000}
QUICK = {"versions": 20, "runs": 2_000, "predictions": 20_000}
DAY_MS = 86_400_000
CHUNK = 50_000  # prediction rows per append
FEATURES = ["tenure", "charges", "region"]


def _customers(rows: int, seed: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    churned = (rng.random(rows) < 1 / (1 + np.exp(0.05 * tenure - 1))).astype(int)
    return pd.DataFrame(
        {
            "tenure": tenure,
            "charges": rng.normal(65, 20, rows).round(2),
            "region": rng.choice(["north", "south", "east"], rows),
            "churned": churned,
        }
    )


def _fit(frame: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [("num", StandardScaler(), ["tenure", "charges"]), ("cat", OneHotEncoder(), ["region"])]
    )
    model = Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=300))])
    return model.fit(frame[FEATURES], frame["churned"])


def _runs(backend: Any, project: str, count: int) -> list[str]:
    ids = []
    start = 1_700_000_000_000
    for i in range(count):
        run = backend.create_run(project, "sweep", name=f"run-{i}", start_time=start + i * 1000)
        backend.end_run(
            run.id,
            "FINISHED",
            end_time=start + i * 1000 + 900,
            params={"C": str(0.1 + i % 10), "depth": str(i % 7), "seed": str(i)},
            points=[("auc", 0.7 + (i % 100) / 1000, 0, start + i * 1000 + 500),
                    ("loss", 0.5 - (i % 100) / 1000, 0, start + i * 1000 + 500),
                    ("rows", 2_000.0, 0, start + i * 1000 + 500)],
        )  # fmt: skip
        ids.append(run.id)
        if (i + 1) % 10_000 == 0:
            c.log(f"  {i + 1:,} runs")
    return ids


def _versions(backend: Any, project: str, count: int, run_ids: list[str]) -> int:
    import relayml as relay

    frame = _customers(2_000, seed=3)
    holdout = _customers(1_000, seed=5)
    first = relay.log_model(
        _fit(frame), "churn", frame[FEATURES].head(5), datasets=["customers"],
        description="Scores churn risk.",
    )  # fmt: skip
    relay.evaluate(first.ref, holdout, "churned", by=["region"], dataset="holdout")
    evaluation = backend.list_evaluations(project, first.ref)[0]
    result = evaluation.model_dump(include={"dataset", "target", "task", "rows", "metrics"})
    result["segments"] = evaluation.segments
    step = max(len(run_ids) // count, 1)
    for n in range(2, count + 1):
        version = backend.create_model_version(
            project, "churn", flavor=first.flavor, files=first.files, signature=first.signature,
            requirements=first.requirements, details=first.details,
            run_id=run_ids[(n * step) % len(run_ids)], description=f"Version {n} of the sweep.",
        )  # fmt: skip
        backend.create_evaluation(project, version.ref, result)
        if n % 5 == 0 or n == count:
            backend.promote(project, version.ref, "staging", reason="sweep winner")
            backend.promote(project, version.ref, "production", reason="sweep winner")
        if n % 200 == 0:
            c.log(f"  {n:,} versions")
    if count == 1:
        backend.promote(project, first.ref, "staging")
        backend.promote(project, first.ref, "production")
    return count


def _predictions(home: Path, backend: Any, project: str, count: int, days: int) -> int:
    """Rows as the model server logs them, written in batches by the log's own writer."""
    import numpy as np

    from relayml.predictions.layout import deployment_key, deployment_partition
    from relayml.predictions.logs import PredictionLogs

    version = backend.get_model_version(project, "churn@production").version
    logs: PredictionLogs = backend.logs
    rng = np.random.default_rng(11)
    end = (int(time.time() * 1000) // DAY_MS) * DAY_MS
    start = end - days * DAY_MS
    partition = deployment_partition(project, deployment_key("churn", "production"))
    labelled: list[str] = []
    truths: list[int] = []
    with logs.writer("predictions", name="bench-predictions") as log:
        for offset in range(0, count, CHUNK):
            rows = min(CHUNK, count - offset)
            stamps = np.sort(rng.integers(start, end, rows)).astype(np.int64)
            score = rng.random(rows)
            # as the server makes them: the time in ms (12 hex digits), then 12 more
            ids = [f"{int(at):012x}{offset + i:012x}" for i, at in enumerate(stamps)]
            log.append(
                partition,
                {
                    "timestamp": stamps,
                    "prediction_id": ids,
                    "model": ["churn"] * rows,
                    "version": np.full(rows, version, dtype=np.int64),
                    "variant": ["main"] * rows,
                    "mode": ["live"] * rows,
                    "latency_ms": rng.gamma(2.0, 1.5, rows),
                    "prediction": (score > 0.5).astype(np.int64),
                    "probabilities": np.column_stack([1 - score, score]),
                    "score": score,
                    "input.tenure": rng.integers(1, 72, rows),
                    "input.charges": rng.normal(66 + 3 * offset / count, 20, rows).round(2),
                    "input.region": rng.choice(["north", "south", "east"], rows).tolist(),
                },
            )
            picked = rng.random(rows) < 0.1
            labelled += [i for i, p in zip(ids, picked, strict=True) if p]
            truths += (
                (score[picked] + rng.normal(0, 0.3, int(picked.sum())) > 0.5).astype(int).tolist()
            )
            log.flush()
    for at in range(0, len(labelled), 100_000):
        backend.log_outcomes(project, labelled[at : at + 100_000], truths[at : at + 100_000],
                             model="churn")  # fmt: skip
    logs.compact_closed_days(project)  # one file per closed day, as `relay predictions compact`
    written = logs.read("predictions", project, columns=["timestamp"]).num_rows
    assert written == count, f"the log holds {written:,} rows, not {count:,}"
    for pid in labelled[:5]:
        backend.flag_prediction(project, pid, "unexpected", comment="looks wrong")
    backend.set_alert_rules(
        project,
        "alerts:\n  - name: accuracy low\n    model: churn\n    env: production\n"
        "    figure: accuracy\n    below: 0.6\n    window: day\n",
    )
    return count


def build_store(home: Path, scale: dict[str, int], days: int) -> None:
    """The benchmark store, through the services."""
    import relayml as relay
    from relayml.domain.serving import Variant

    kpi = {"name": "churn_rate", "unit": "%", "direction": "decrease", "target": -10}
    relay.init(project="bench", home=home, user="ada", description="Benchmark of the risk report",
               business_question="reduce churn by 10%", kpis=[kpi])  # fmt: skip
    relay.log_dataset("customers", _customers(2_000, seed=3))
    relay.log_dataset("holdout", _customers(1_000, seed=5))
    backend = relay.get_backend()
    with c.clock() as t:
        run_ids = _runs(backend, "bench", scale["runs"])
    c.log(f"{scale['runs']:,} runs in {c.fmt_seconds(t[0])}")
    with c.clock() as t:
        _versions(backend, "bench", scale["versions"], run_ids)
    c.log(f"{scale['versions']:,} versions in {c.fmt_seconds(t[0])}")
    backend.deploy("bench", "churn", "production", "single", [Variant(version=None, weight=100)])
    with c.clock() as t:
        _predictions(home, backend, "bench", scale["predictions"], days)
    c.log(f"{scale['predictions']:,} predictions in {c.fmt_seconds(t[0])}")
    relay.init(project="bench", home=home.parent / "teardown")  # closes the store


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Scale flags: --versions, --runs, --predictions (defaults 1,000 / 100,000 / "
        "1,000,000; --quick: 20 / 2,000 / 20,000) and --days over which the predictions spread. "
        "Prints build time and size per format, and the ratio of each report's size to the raw "
        "prediction log (no peer builds this report).",
    )
    parser.add_argument("--quick", action="store_true", help="smoke scale: 20 / 2,000 / 20,000")
    for name in FULL:
        parser.add_argument(f"--{name}", type=int, help=f"default {FULL[name]:,}")
    parser.add_argument("--days", type=int, default=120, help="days of predictions (120)")
    parser.add_argument("--reps", type=int, default=3, help="builds per format (median)")
    parser.add_argument("--formats", default="html,md,pdf", help="html,md,pdf")
    parser.add_argument("--fresh", action="store_true", help="build the store again")
    parser.add_argument("--profile", type=Path, help="also profile one html build into FILE")
    parser.add_argument("--write-results", action="store_true", help="update RESULTS.md")
    args = parser.parse_args()
    scale = dict(QUICK if args.quick else FULL)
    for name in FULL:
        if getattr(args, name) is not None:
            scale[name] = getattr(args, name)
    tag = f"{scale['versions']}v-{scale['runs']}r-{scale['predictions']}p-{args.days}d"
    home = c.WORK_DIR / f"report-{tag}" / "home"
    if args.fresh and home.parent.exists():
        shutil.rmtree(home.parent)
    if not (home.parent / "built").exists():
        shutil.rmtree(home.parent, ignore_errors=True)  # a build that stopped half-way
        home.parent.mkdir(parents=True)
        c.log(f"building the store {tag} in {home}")
        with c.clock() as t:
            build_store(home, scale, args.days)
        (home.parent / "built").write_text(f"{t[0]:.1f}\n")
    build_seconds = float((home.parent / "built").read_text())

    from relayml.backend import LocalBackend
    from relayml.config import get_settings

    backend = LocalBackend(get_settings(home=home, user="rita"))
    raw = _folder_bytes(Path(backend.logs.url("predictions")))  # the artifacts are local here
    rows = []
    sampler = c.LoadSampler()
    try:
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            backend.build_model_report("bench", "churn", fmt="html")
            profiler.disable()
            profiler.dump_stats(args.profile)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            print(out.getvalue())
        for fmt in args.formats.split(","):
            times, size = [], 0
            for _ in range(args.reps):
                with c.clock() as t:
                    report = backend.build_model_report("bench", "churn", fmt=fmt)
                times.append(t[0])
                size = report.size
            rows.append([fmt, c.fmt_seconds(c.median(times)), f"{size:,}",
                         f"{size / raw:.2e}" if raw else "-"])  # fmt: skip
    finally:
        load = sampler.stop()
        backend.close()
    title = (
        f"relay report model at {scale['versions']:,} versions, {scale['runs']:,} runs, "
        f"{scale['predictions']:,} predictions over {args.days} days "
        f"(store built in {c.fmt_seconds(build_seconds)}; raw prediction log {raw:,} bytes)"
    )
    headers = ["format", "build (median)", "bytes", "bytes / raw log byte"]
    c.print_table(title, headers, rows)
    print(f"load: {load}")
    if args.write_results:
        info = c.machine_info()
        body = (
            f"## Model risk report ({time.strftime('%Y-%m-%d')})\n\n{title}.\n\nMachine: "
            + ", ".join(f"{k} {v}" for k, v in info.items())
            + f"; relayml {c.git_state()}. Load seen: {load}.\n\n"
            + c.markdown_table(headers, rows)
        )
        c.write_results_section("report", body)


if __name__ == "__main__":
    main()
