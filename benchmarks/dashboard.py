"""Dashboard benchmark: the server time of every web page on a large store, against MLflow's UI.

    python benchmarks/dashboard.py [--runs 100000] [--predictions 1000000] [--reps 20]
                                   [--home DIR] [--no-mlflow] [--profile PATH]

The store: the churn demo (`relay demo --fast`: a project, models, a deployment, people,
predictions), then --runs more runs (5 params + 5 metrics each, through the SDK, into the
experiment "bench" of the project) and --predictions more logged predictions of the churn
deployment (columns copied from the demo's own log, spread over the last 7 days). It is kept
under benchmarks/.work/dashboard-<runs>-<predictions>/ (or --home) and reused when it exists.

Every GET page of the web (found from the page routers, so pages added later are measured too)
is asked --reps times in this process through the ASGI app (httpx.ASGITransport; no network),
after one warm-up; median and p95 per page are printed against the goal (300 ms). Path
parameters are filled from the store (project, model, version, run id, dataset, feature, pipeline
run, prediction id, stored report; two runs for runs/compare); a page whose parameters the store
holds nothing for is listed as skipped.

The peer: `mlflow server` (the venv .venv-mlflow3, made by scripts/provision-mlflow-clients.sh)
on a SQLite store holding the same number of runs (the first ones through MLflow's client, the
rest copied with SQL, as benchmarks/tracking.py does), asked for the call its UI makes to show an
experiment's runs: POST ajax-api/2.0/mlflow/runs/search (100 runs, newest first). The ratio
printed is MLflow's time over relayml's runs page (or relayml's run search, if that page does not
exist). MLflow's times are over loopback HTTP; relayml's are in-process server time.

--profile PATH: run cProfile over that one page (e.g. /reports); prints its top 30 functions.
Small scale for a smoke run: --runs 200 --predictions 5000 --reps 3 --no-mlflow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = 300.0
MLFLOW_PYTHON = ROOT / ".venv-mlflow3" / "bin" / "python"
VIA_CLIENT = 20  # MLflow runs made through its client before the rest are copied with SQL
SEED = 42


# ======================================================================= the store


def build_store(home: Path, runs: int, predictions: int) -> None:
    """The churn demo, then ``runs`` runs and ``predictions`` logged predictions (once)."""
    stamp = home / ".bench-complete"
    if stamp.exists():
        c.log(f"reusing the store at {home}")
        return
    if home.exists():
        shutil.rmtree(home)
    home.parent.mkdir(parents=True, exist_ok=True)
    c.log("building the churn demo's store (two or three minutes)")
    subprocess.run(
        [sys.executable, "-m", "relayml.cli", "demo", "--fast", "--no-serve", "--home",
         str(home)],
        check=True, cwd=home.parent, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    os.environ["RELAY_HOME"] = str(home)
    import relayml as relay

    relay.init(project="churn", home=home)
    c.log(f"adding {runs:,} runs through the SDK")
    with c.clock() as t:
        for params, metrics in c.run_data(runs, SEED):
            with relay.start_run(experiment="bench") as run:
                run.log_params(params)
                run.log_metrics(metrics, step=0)
        relay.flush()
    c.log(f"  {runs:,} runs in {c.fmt_seconds(t[0])}")
    with c.clock() as t:
        _add_predictions(relay.get_backend(), predictions)
    c.log(f"  {predictions:,} predictions in {c.fmt_seconds(t[0])}")
    stamp.write_text(f"{runs} {predictions}\n")


def _add_predictions(backend: Any, rows: int, chunk: int = 100_000) -> None:
    """Rows shaped like the demo's own prediction log, spread over the last 7 days."""
    import numpy as np
    import pyarrow.parquet as pq

    from relayml.predictions.layout import deployment_partition

    partition = deployment_partition("churn", "churn-production")
    folder = Path(backend.logs.url("predictions")) / partition
    sample = pq.read_table(next(folder.rglob("*.parquet"))).to_pandas()
    rng = np.random.default_rng(SEED)
    writer = backend.logs.writer("predictions")
    now = int(time.time() * 1000)
    try:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            columns: dict[str, Any] = {}
            for name in sample.columns:
                column = sample[name]
                if name == "timestamp":
                    columns[name] = np.sort(rng.integers(now - 7 * 86_400_000, now, n))
                elif name == "prediction_id":
                    columns[name] = [f"bench{start + i:012d}" for i in range(n)]
                elif name == "latency_ms":
                    columns[name] = rng.lognormal(1.5, 0.6, n)
                elif column.dtype.kind == "f":
                    columns[name] = rng.normal(column.mean(), column.std() or 1.0, n)
                elif column.dtype.kind in "iu":
                    columns[name] = rng.choice(column.to_numpy(), n)
                else:
                    columns[name] = list(rng.choice(column.to_numpy(dtype=object), n))
            while not writer.append(partition, columns):
                writer.flush()
            writer.flush()
    finally:
        writer.close()


# ======================================================================= relayml's pages


def _app(home: Path) -> Any:
    os.environ["RELAY_HOME"] = str(home)
    os.environ["RELAY_MONITOR_INTERVAL"] = "0"
    from relayml.api.app import create_app
    from relayml.backend import LocalBackend
    from relayml.config import get_settings

    return create_app(LocalBackend(get_settings()), auth=False)  # the local user, an admin


def _store_values(backend: Any) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Path parameters from the store: shared ones, and those of one route (a pipeline run's
    id is not a tracking run's); a value the store does not hold is left out (page skipped)."""
    import pyarrow.compute as pc

    from relayml.domain.entities import AuditQuery

    found = backend.search_runs("churn", order_by=["start_time DESC"], max_results=2).runs
    values = {"project": "churn", "model": "churn", "version": "1", "environment": "production",
              "run_id": found[0].id if found else "", "experiment": "bench",
              "name": "churn"}  # fmt: skip
    routes: dict[str, dict[str, str]] = {}
    datasets = backend.list_datasets("churn")
    if datasets:
        routes["/projects/{project}/datasets/{name}"] = {"name": datasets[0].name}
    features = backend.list_feature_definitions("churn")
    if features:
        kind, name = features[0].kind, features[0].name
        routes["/projects/{project}/features/{kind}/{name}"] = {"kind": kind, "name": name}
    pipeline_runs = backend.list_pipeline_runs("churn", limit=1)
    if pipeline_runs:
        routes["/projects/{project}/pipelines/{run_id}"] = {"run_id": pipeline_runs[0].id}
    else:
        routes["/projects/{project}/pipelines/{run_id}"] = {"run_id": ""}
    ids = backend.logs.read("predictions", "churn", "churn-production", columns=["prediction_id"])
    real = ids.filter(pc.match_substring_regex(ids["prediction_id"], r"^[0-9a-f]{24}$"))
    if real.num_rows:  # the demo's own (the added rows' ids are not the server's kind)
        routes["/projects/{project}/predictions/{prediction_id}"] = {
            "prediction_id": real["prediction_id"][real.num_rows - 1].as_py()
        }
    reports = backend.list_audit(AuditQuery(kind="report.create", limit=1))
    if reports and (reports[0].after or {}).get("sha256"):
        project, model, version = reports[0].entity_id.split("/")
        routes["/reports/{project}/{model}/{version}/{sha256}"] = {
            "project": project, "model": model, "version": version,
            "sha256": reports[0].after["sha256"],
        }  # fmt: skip
    if len(found) == 2:
        routes["/projects/{project}/runs/compare"] = {"?": f"ids={found[0].id}&ids={found[1].id}"}
    return values, routes


def page_urls(app: Any) -> tuple[dict[str, str], list[str]]:
    """Every GET page route with its path (and needed query) parameters filled from the store;
    and those skipped because the store holds nothing to fill them with."""
    from starlette.routing import Route

    from relayml.web.pages import ROUTERS

    values, routes = _store_values(app.state.backend)
    urls, skipped = {}, []
    for router in ROUTERS:
        for route in router.routes:
            if not isinstance(route, Route) or "GET" not in (route.methods or ()):
                continue
            own = {**values, **routes.get(route.path, {})}
            params = re.findall(r"\{(\w+)(?::path)?\}", route.path)
            if any(not own.get(p) for p in params):
                skipped.append(route.path)
                continue
            pattern = r"\{(\w+)(?::path)?\}"
            url = re.sub(pattern, lambda m, own=own: quote(own[m.group(1)]), route.path)
            urls[route.path] = url + (f"?{own['?']}" if own.get("?") else "")
    return urls, skipped


async def _time_pages(app: Any, urls: dict[str, str], reps: int) -> dict[str, list[float]]:
    import httpx

    times: dict[str, list[float]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for template, url in urls.items():
            first = await client.get(url, headers={"accept": "text/html"})
            if first.status_code != 200:
                c.log(f"  {url}: answered {first.status_code}; not timed")
                continue
            for _ in range(reps):
                start = time.perf_counter()
                await client.get(url, headers={"accept": "text/html"})
                times.setdefault(template, []).append(time.perf_counter() - start)
    return times


async def _time_search(app: Any, reps: int) -> list[float]:
    import httpx

    body = {"experiments": ["bench"], "order_by": ["start_time DESC"], "max_results": 100}
    out = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(reps + 1):
            start = time.perf_counter()
            answer = await client.post("/api/v1/projects/churn/runs/search", json=body)
            out.append(time.perf_counter() - start)
            answer.raise_for_status()
    return out[1:]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# ======================================================================= MLflow


def mlflow_fill(db: Path, runs: int) -> None:
    """(In MLflow's venv.) An experiment with ``runs`` runs in a SQLite store; prints its id."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient  # type: ignore[import-not-found]
    from mlflow.entities import Metric, Param  # type: ignore[import-not-found]
    from tracking import _mlflow_copy_runs

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp_id = client.create_experiment("bench", artifact_location=(db.parent / "a").as_uri())
    data = list(c.run_data(runs, SEED))
    ids = []
    for params, metrics in data[:VIA_CLIENT]:
        run_id = client.create_run(exp_id).info.run_id
        ts = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, ts, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
        )
        client.set_terminated(run_id)
        ids.append(run_id)
    if runs > VIA_CLIENT:
        _mlflow_copy_runs(db, ids[0], data[VIA_CLIENT:])
    print(json.dumps({"experiment_id": exp_id}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_mlflow(folder: Path, runs: int, reps: int) -> list[float]:
    """The UI's runs search on `mlflow server` over ``runs`` runs; seconds per call."""
    import httpx

    if not MLFLOW_PYTHON.exists():
        raise SystemExit(
            f"{MLFLOW_PYTHON} is missing: run scripts/provision-mlflow-clients.sh (or --no-mlflow)"
        )
    db = folder / "mlflow.db"
    if db.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    c.log(f"filling MLflow's store with {runs:,} runs")
    made = subprocess.run(
        [str(MLFLOW_PYTHON), __file__, "--mlflow-fill", str(db), "--runs", str(runs)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    exp_id = json.loads(made.stdout.strip().splitlines()[-1])["experiment_id"]
    port = _free_port()
    server = subprocess.Popen(
        [str(MLFLOW_PYTHON.parent / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{db}",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/runs/search"
        body = {"experiment_ids": [exp_id], "max_results": 100, "run_view_type": "ACTIVE_ONLY",
                "order_by": ["attributes.start_time DESC"]}  # fmt: skip
        deadline = time.time() + 120
        while True:
            try:
                httpx.post(url, json=body, timeout=600).raise_for_status()
                break
            except httpx.HTTPError:
                if time.time() > deadline:
                    raise
                time.sleep(1)
        out = []
        with httpx.Client(timeout=600) as client:
            for _ in range(reps):
                start = time.perf_counter()
                answer = client.post(url, json=body)
                out.append(time.perf_counter() - start)
                answer.raise_for_status()
        return out
    finally:
        server.terminate()
        server.wait(timeout=30)


# ======================================================================= main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100_000, help="runs added to the demo's "
                        "store and to MLflow's (default 100,000)")  # fmt: skip
    parser.add_argument("--predictions", type=int, default=1_000_000, help="logged predictions "
                        "added to the demo's deployment (default 1,000,000)")  # fmt: skip
    parser.add_argument("--reps", type=int, default=20, help="timed requests per page (default 20)")
    parser.add_argument("--home", type=Path, default=None, help="the store's folder (default "
                        "benchmarks/.work/dashboard-<runs>-<predictions>, reused)")  # fmt: skip
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow comparison")
    parser.add_argument("--profile", default=None, help="cProfile one page path, e.g. /reports")
    parser.add_argument("--mlflow-fill", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mlflow_fill is not None:
        mlflow_fill(args.mlflow_fill, args.runs)
        return 0
    home = args.home or c.WORK_DIR / f"dashboard-{args.runs}-{args.predictions}" / "home"
    build_store(home.resolve(), args.runs, args.predictions)
    app = _app(home.resolve())
    urls, skipped = page_urls(app)
    if args.profile:
        return _profile(app, args.profile, args.reps)
    c.log(f"timing {len(urls)} pages x {args.reps}")
    times = asyncio.run(_time_pages(app, urls, args.reps))
    rows = []
    for template, values in times.items():
        med = statistics.median(values) * 1000
        flag = "ok" if med <= GOAL_MS else "SLOW"
        rows.append([template, f"{med:.1f}", f"{p95(values) * 1000:.1f}", flag])
    c.print_table(
        f"Server time per page, {args.runs:,} runs, {args.predictions:,} predictions (ms)",
        ["page", "median", "p95", f"goal {GOAL_MS:.0f} ms"], rows,
    )  # fmt: skip
    if skipped:
        print("not timed (the store holds nothing to fill their parameters): " + ", ".join(skipped))
    if not args.no_mlflow:
        runs_page = "/projects/{project}/runs"
        if runs_page in times:
            ours, label = times[runs_page], f"relayml page {runs_page}"
        else:
            ours, label = asyncio.run(_time_search(app, args.reps)), "relayml runs/search API"
        theirs = time_mlflow(home.parent / "mlflow", args.runs, max(3, args.reps // 4))
        r, m = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
        c.print_table(
            f"The runs of an experiment, {args.runs:,} runs (median ms)",
            ["relayml", "MLflow ajax-api runs/search", "MLflow / relayml"],
            [[f"{r:.1f} ({label})", f"{m:.1f}", f"{m / r:.1f}x"]],
        )
    app.state.backend.close()
    return 0


def _profile(app: Any, path: str, reps: int) -> int:
    """cProfile one page; its sync parts run in this thread (not a worker) to be seen."""
    import fastapi.dependencies.utils
    import fastapi.routing

    async def inline(func: Any, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    fastapi.routing.run_in_threadpool = inline  # type: ignore[assignment]
    fastapi.dependencies.utils.run_in_threadpool = inline  # type: ignore[assignment]
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p != here]  # benchmarks/profile.py is not the stdlib's
    sys.modules.pop("profile", None)
    import cProfile
    import pstats

    urls = {path: path}
    asyncio.run(_time_pages(app, urls, 1))  # warm
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(_time_pages(app, urls, reps))
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats("relayml|sqlalchemy|pyarrow", 30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
