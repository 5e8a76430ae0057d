"""Pipelines benchmark: what relayml adds to each step of a pipeline whose steps are all cached.

    python benchmarks/pipelines.py [--quick] [--reps 5] [--no-dask] [--write-results]

A chain of 20 steps (each reads the previous step's small DataFrame) runs once, so that every
step is stored and cached; then it runs again, and again: every step is CACHED. The time of a
cached run divided by 20 is relayml's overhead per step: building the DAG, a cache key, a cache
lookup, the blob check and a recorded step run with its audit entry. Goal: <= 20 ms per step.

Also shown: the first (uncached) run per step, whose steps do almost nothing, so it is the cost
of running and storing a step (Parquet, blob, cache entry); and the cached run on a Dask
LocalCluster (2 worker processes), where each step is one task.

There is no peer in the `bench` extra for cached pipelines, so relayml runs alone. Embedded
SQLite in a fresh temp folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

STEPS = 20
GOAL_MS = 20.0


def make_pipeline(steps: int) -> Any:
    """A chain of `steps` steps; step i adds i to a column of a 100-row frame."""
    import pandas as pd

    from relayml.pipelines import pipeline, step

    @step
    def start(rows: int) -> pd.DataFrame:
        return pd.DataFrame({"x": range(rows)})

    @step
    def add(frame: pd.DataFrame, amount: int) -> pd.DataFrame:
        return frame.assign(x=frame.x + amount)

    @pipeline(name="bench:chain")
    def chain(rows: int = 100) -> Any:
        frame = start(rows)
        for i in range(1, steps):
            frame = add(frame, i)
        return {"frame": frame}

    return chain


def timed_run(chain: Any, backend: Any, executor: str | None = None) -> tuple[float, set[str]]:
    """Seconds for one run and the statuses its steps ended in."""
    start = time.perf_counter()
    run = chain.run(backend=backend, project="bench", executor=executor)
    seconds = time.perf_counter() - start
    return seconds, {s.status for s in run.steps}


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=c.BENCH_DIR,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke test)")
    parser.add_argument("--reps", type=int, default=None, help="cached runs timed (default 9)")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask figure")
    parser.add_argument(
        "--write-results",
        action="store_true",
        help="update the pipelines section of benchmarks/RESULTS.md",
    )
    args = parser.parse_args(argv)
    reps = args.reps or (3 if args.quick else 9)
    began = time.perf_counter()
    load = c.LoadSampler()

    from relayml.backend import LocalBackend
    from relayml.config import get_settings

    chain = make_pipeline(STEPS)
    root = Path(tempfile.mkdtemp(prefix="relay-bench-pipelines-"))
    figures: list[c.Figure] = []
    notes: list[str] = []
    try:
        backend = LocalBackend(get_settings(home=root / "home", user="bench"))
        backend.create_project("bench")
        first, statuses = timed_run(chain, backend)
        assert statuses == {"FINISHED"}, statuses
        c.log(f"first run: {c.fmt_seconds(first)} for {STEPS} steps")
        cached: list[float] = []
        for _ in range(reps):
            seconds, statuses = timed_run(chain, backend)
            assert statuses == {"CACHED"}, statuses
            cached.append(seconds)
        per_step = c.median(cached) / STEPS * 1000
        c.log(f"cached runs: median {c.fmt_seconds(c.median(cached))} ({per_step:.2f} ms/step)")
        figures.append(
            c.Figure(f"cached re-run, {STEPS} steps, per step", "ms", per_step, None, GOAL_MS)
        )
        figures.append(
            c.Figure(
                f"first run, {STEPS} trivial steps, per step", "ms", first / STEPS * 1000, None
            )
        )
        notes.append(
            f"cached re-runs: {reps}, each {STEPS} steps CACHED; every repetition (ms per step): "
            + ", ".join(f"{s / STEPS * 1000:.2f}" for s in cached)
        )
        if not args.no_dask:
            from distributed import LocalCluster

            with LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster:
                address = cluster.scheduler_address.replace("tcp://", "dask://")
                on_dask: list[float] = []
                for _ in range(reps):
                    seconds, statuses = timed_run(chain, backend, address)
                    assert statuses == {"CACHED"}, statuses
                    on_dask.append(seconds)
            dask_ms = c.median(on_dask) / STEPS * 1000
            c.log(f"cached runs on Dask: {dask_ms:.2f} ms/step")
            figures.append(
                c.Figure(
                    f"cached re-run on Dask (2 workers), {STEPS} steps, per step",
                    "ms",
                    dask_ms,
                    None,
                )
            )
            notes.append(
                "on Dask each run connects a new client to the scheduler (included in the time)."
            )
        backend.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    notes.append(load.stop() + ".")
    rows = [f.cells() for f in figures]
    c.print_table("Pipelines: relayml's overhead per step", c.TABLE_HEADERS, rows)
    for note in notes:
        print(f"- {note}")
    if args.write_results:
        info = c.machine_info()
        body = [
            f"## Pipelines: overhead per cached step ({dt.date.today().isoformat()})",
            "",
            f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory']}, {info['os']}; "
            f"Python {info['python']}. relayml {c.version_of('relayml')} at {git_commit()}, "
            f"dask {c.version_of('dask')}. Embedded SQLite in a fresh temp folder. Command: "
            f"`python benchmarks/pipelines.py{' --quick' if args.quick else ''} --write-results`"
            f"; whole run {c.fmt_seconds(time.perf_counter() - began)}. No peer (none in the "
            "bench extra caches pipeline steps).",
            "",
            c.markdown_table(c.TABLE_HEADERS, rows),
            "",
            *[f"- {note}" for note in notes],
        ]
        c.write_results_section("pipelines", "\n".join(body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
