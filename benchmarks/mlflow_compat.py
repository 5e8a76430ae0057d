"""MLflow compatibility benchmark: the same MLflow client script against `relay server` and
against `mlflow server` (SQLite backend, its artifact proxy), same machine, one run each.

    python benchmarks/mlflow_compat.py [--runs 10000] [--reps 1] [--write-results]

The script (benchmarks/_mlflow_compat_client.py, run by the real MLflow 3.x client in
.venv-mlflow3, made by scripts/provision-mlflow-clients.sh): one run with 10,000 metric points
through log_batch, one artifact, one model logged with registered_model_name, then a search with
a filter and an order-by (top 100) over an experiment of --runs runs (filled beforehand through
the same client, not timed). It prints seconds per phase for both servers and the ratios
(mlflow / relay), then per phase the time spent waiting on HTTP, the client's own work (wall
time outside HTTP) and the CPU time the client process used (the same code on both sides:
what caps the whole-script ratio; on a busy machine the wall time outside HTTP stretches with
other processes' load, the CPU time much less). Goals: >= 5x on the whole script, >= 20x on
the search.

The fill (create run, log_batch, set_terminated per run; 3 requests, the run URL not printed) is
the same on both servers: the experiment is made first, then --fill-procs client processes per
server fill it in slices of run numbers (run i has the same name, params and metrics on both),
both servers at once; only the script is timed, one server at a time.

Scale flags: --runs (runs searched; 10,000 for the recorded figure, e.g. 50 for a smoke run),
--reps (timed script runs per server, alternating; medians are printed), --fill-procs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

ROOT = Path(__file__).resolve().parents[1]
CLIENT = Path(__file__).resolve().parent / "_mlflow_compat_client.py"
MLFLOW_PYTHON = ROOT / ".venv-mlflow3" / "bin" / "python"
TOKEN = "relay_" + "bench-admin-token-" + "0123456789abcdefghijklmnop"
PHASES = ("log_batch", "artifact", "log_model", "search", "script")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "MLFLOW_"))}
    env.pop("PYTHONPATH", None)
    return {**env, **extra}


def start_relay(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`relay server` (auth on, as it starts by default) on loopback."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update(RELAY_HOME=str(home), RELAY_USER="bench", RELAY_BOOTSTRAP_TOKEN=TOKEN,
               RELAY_MONITOR_INTERVAL="0")  # fmt: skip
    log = open(home / "server.log", "wb")  # noqa: SIM115 - open while the server runs
    command = [sys.executable, "-m", "relayml.cli", "server", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/healthz")
    return process, url


def start_mlflow(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`mlflow server` with a SQLite store and its artifact proxy on loopback."""
    port = _free_port()
    command = [
        str(MLFLOW_PYTHON.parent / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
        "--artifacts-destination", str(home / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = open(home / "server.log", "wb")  # noqa: SIM115 - open while the server runs
    process = subprocess.Popen(command, env=_env(), cwd=home, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/health")
    return process, url


def client(url: str, *args: str, token: str | None) -> dict[str, Any]:
    """Run the MLflow client side once; its JSON answer."""
    extra = {"MLFLOW_TRACKING_URI": url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    if token:
        extra["MLFLOW_TRACKING_TOKEN"] = token
    if args[0] == "populate":  # set_terminated reads the run back only to print its URL
        extra["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    done = subprocess.run(
        [str(MLFLOW_PYTHON), str(CLIENT), *args],
        env=_env(**extra), capture_output=True, text=True, timeout=7200,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-4000:])
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def fill(side: str, url: str, token: str | None, runs: int, procs: int) -> float:
    """Fill the experiment with runs 0..runs-1 through `procs` client processes; seconds."""
    start = time.perf_counter()
    client(url, "populate", "bench", "0", token=token)  # the experiment, made once
    size = max(1, -(-runs // max(1, procs)))
    slices = [(first, min(size, runs - first)) for first in range(0, runs, size)]
    with ThreadPoolExecutor(max(1, len(slices))) as pool:
        done = pool.map(
            lambda s: client(url, "populate", "bench", str(s[1]), str(s[0]), token=token), slices
        )
        assert sum(d["runs"] for d in done) == runs
    seconds = time.perf_counter() - start
    c.log(f"{side}: filled {runs} runs in {seconds:.0f} s ({runs / seconds:.0f} runs/s)")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the searched experiment")
    parser.add_argument("--reps", type=int, default=1, help="timed script runs per server")
    parser.add_argument(
        "--fill-procs", type=int, default=2, help="client processes filling each server"
    )
    parser.add_argument("--write-results", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    if not MLFLOW_PYTHON.exists():
        sys.exit(f"no MLflow client at {MLFLOW_PYTHON}: run scripts/provision-mlflow-clients.sh")
    scratch = Path(tempfile.mkdtemp(prefix="mlflow-compat-"))
    servers: dict[str, tuple[subprocess.Popen[bytes], str, str | None]] = {}
    try:
        for side, start in (("relay", start_relay), ("mlflow", start_mlflow)):
            home = scratch / side
            home.mkdir()
            process, url = start(home)
            servers[side] = (process, url, TOKEN if side == "relay" else None)
        c.log(f"filling both servers with {args.runs} runs through the client (not timed)")
        with ThreadPoolExecutor(2) as pool:
            filling = [
                pool.submit(fill, side, url, token, args.runs, args.fill_procs)
                for side, (_, url, token) in servers.items()
            ]
            for future in filling:
                future.result()
        timings: dict[str, list[dict[str, Any]]] = {"relay": [], "mlflow": []}
        for rep in range(args.reps):
            for side in ("relay", "mlflow"):  # alternating, never at once
                _, url, token = servers[side]
                timings[side].append(client(url, "script", "bench", token=token))
                c.log(f"rep {rep + 1} {side}: {timings[side][-1]}")
    finally:
        for process, _, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)
    rows = []
    for phase in PHASES:
        relay = c.median([t[phase] for t in timings["relay"]])
        mlflow = c.median([t[phase] for t in timings["mlflow"]])
        rows.append([phase, c.fmt_seconds(relay), c.fmt_seconds(mlflow), f"{mlflow / relay:.1f}x"])
    title = f"MLflow client script, search over {args.runs} runs (mlflow / relay)"
    c.print_table(title, ["phase", "relay server", "mlflow server", "ratio"], rows)
    reps = f"medians of {args.reps} alternating repetitions" if args.reps > 1 else "one repetition"
    split = []  # where each phase's time went: waiting on HTTP, or the client's own work
    for phase in PHASES:
        cells = [phase]
        for side in ("relay", "mlflow"):
            http = c.median([t[f"{phase}_http"] for t in timings[side]])
            own = c.median([t[phase] - t[f"{phase}_http"] for t in timings[side]])
            cpu = c.median([t[f"{phase}_cpu"] for t in timings[side]])
            cells += [c.fmt_seconds(http), c.fmt_seconds(own), c.fmt_seconds(cpu)]
        split.append(cells)
    heads = ["phase"] + [
        f"{side}: {what}" for side in ("relay", "mlflow") for what in ("HTTP", "client", "CPU")
    ]
    split_title = "The same phases: waiting on HTTP / the client's own work / the client's CPU"
    c.print_table(split_title, heads, split)
    own = c.median([t["script"] - t["script_http"] for t in timings["relay"]])
    cpu = c.median([t["script_cpu"] for t in timings["relay"]])
    whole = c.median([t["script"] for t in timings["mlflow"]])
    bound = (
        f"whole script if relay answered in no time: {whole / own:.1f}x (the client's own work); "
        f"{whole / cpu:.1f}x if, too, it never waited for a CPU (the client's CPU time)"
    )
    c.log(bound)
    if args.write_results:
        body = c.markdown_table(["phase", "relay server", "mlflow server", "ratio"], rows)
        parts = c.markdown_table(heads, split)
        c.write_results_section(
            "mlflow_compat",
            f"{title}, {reps}\n\n{body}\n\n{split_title}\n\n{parts}\n\nThe {bound}.\n",
        )


if __name__ == "__main__":
    main()
