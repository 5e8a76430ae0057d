"""Serving benchmark: relayml's model server against MLflow, BentoML and a bare endpoint.

    python benchmarks/serving.py [--quick] [--duration 10] [--only relayml,mlflow,bentoml,bare]
                                 [--connections 1,16,64] [--write-results]

One scikit-learn model (GradientBoostingClassifier, 100 trees, 20 float features, fixed seed) is
trained once per run and pickled to benchmarks/.work/serving/; every server serves that same
fitted model and gets the same row, each in its own natural single-row JSON form:

- bare: benchmarks/serving_bare.py, Starlette + uvicorn calling `predict` on the event loop
  (orjson -> ndarray -> predict -> orjson): the physical limit. Body: a JSON list of 20 floats.
- relayml: `relay serve gbm/1` on a fresh RELAY_HOME where the model was registered with
  `run.log_model`, prediction log on (default) and off (`--no-prediction-log`); where
  `relay serve` does not exist yet (or with --relayml-server bundle|both), the bundle server
  `python -m relayml.serve.bundle` on a bundle of `relay models build` (the same model server,
  run without --log-dir, so without a prediction log; measured once). Body: one record
  {"f0": ...}.
- MLflow 3.17 (`mlflow models serve --env-manager local -w 1`, its own venv): the model saved
  with mlflow.sklearn in cloudpickle format (its skops default refuses tree models unless their
  types are trusted). MLflow accepts several single-row bodies; each is probed for a few seconds
  at 16 connections and the fastest is measured (--mlflow-formats).
- BentoML (its own venv): benchmarks/serving_bento.py, one worker, adaptive batching on.
  If it does not install or start, the results say why and the rest goes on.

Each server runs pinned to core 0 (`taskset -c 0`, with every process it starts), is warmed
up, then loaded by wrk (one thread, pinned to core 1, benchmarks/serving_wrk.lua) at 1, 16 and
64 connections for --duration seconds each, and stopped (its whole process group, also on
Ctrl-C or failure). Reported per point: successful req/s, p50 and p99 latency, failures
(non-2xx responses and socket errors), and the server's CPU time per request. The goals are at
16 connections: >= 10x MLflow's req/s, >= 1.3x the bare endpoint's (at 64 connections too),
p99 no worse than the bare endpoint's, and <= 10% of req/s lost with the prediction log on.
Then, for issue #11's goal at 1 connection (>= 90% of the bare endpoint's req/s and p99 <= 2x
its p99, log on), bare, relayml and relayml without the log are compared again in alternating
short rounds (--rounds, --round-seconds) at 1, 16 and 64 connections (those of --connections),
all servers up, loaded in turn: a VM's speed
drifts between two long points, and the medians of alternating rounds hold it the same for
all. The goals are judged on those medians when there are rounds, else on the long points.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

MLFLOW = c.PeerEnv("mlflow", ["mlflow==3.17.2"], "mlflow")
# 1.4.40 needs certifi>=2026.10.19, which the package index here does not have.
BENTOML_VERSION = "1.4.39"

SERVING_DIR = c.WORK_DIR / "serving"
LUA = c.BENCH_DIR / "serving_wrk.lua"
WRK = "/usr/bin/wrk"
SEED = 42
N_FEATURES = 20
N_TRAIN = 2_000
COLUMNS = [f"f{i}" for i in range(N_FEATURES)]
GOAL_AT = 16  # connections at which the goals are stated
MANY = 64  # connections at which relayml must keep its lead too
SERVER_CORE, LOAD_CORE = 0, 1
READY_TIMEOUT = 180.0  # seconds a server may take to load its model
REQUEST_TIMEOUT = "10s"  # wrk: a request slower than this counts as a failure (timeout)

GOAL_VS_MLFLOW = 10.0  # x MLflow's req/s
GOAL_VS_BARE = 1.3  # x the bare endpoint's req/s at 16 and 64 connections (issue #11)
GOAL_LOG_KEPT = 0.9  # req/s with the prediction log on, as a share of off
GOAL_ONE_RPS = 0.9  # at 1 connection: x the bare endpoint's req/s, log on
GOAL_ONE_P99 = 2.0  # at 1 connection: x the bare endpoint's p99 at most, log on
SETTLE_S = 1.5  # pause before each round: the last server's 1 s log flush lands in it

LISTEN = ["--host", "127.0.0.1", "--port", "{port}"]  # {port} is filled in at start
SERVERS = ("bare", "relayml", "mlflow", "bentoml")
MLFLOW_FORMATS = ("split", "records", "instances", "inputs")


# ======================================================================= inside a peer's venv


def mlflow_save(model_pkl: Path, row_json: Path, out: Path) -> None:
    """Save the pickled model as an MLflow model at `out` (runs in the MLflow venv)."""
    import pickle
    import warnings

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    warnings.filterwarnings("ignore")
    import mlflow  # type: ignore[import-not-found]
    import mlflow.sklearn  # type: ignore[import-not-found]
    import pandas as pd

    with model_pkl.open("rb") as f:
        model = pickle.load(f)
    row = json.loads(row_json.read_text())
    example = pd.DataFrame([row["values"]], columns=row["columns"])
    shutil.rmtree(out, ignore_errors=True)
    # skops, MLflow 3's default, refuses the tree classes unless they are listed as trusted.
    mlflow.sklearn.save_model(
        model, str(out), serialization_format="cloudpickle", input_example=example
    )
    print(json.dumps({"saved": str(out)}))


VENV_INFO = """
import importlib.metadata as m, importlib.util as u, json, sys
def v(d):
    try:
        return m.version(d)
    except m.PackageNotFoundError:
        return "-"
print(json.dumps({
    "versions": {d: v(d) for d in sys.argv[1:]},
    "loop": "uvloop" if u.find_spec("uvloop") else "asyncio",
    "http": "httptools" if u.find_spec("httptools") else "h11",
    "python": sys.version.split()[0],
}))
"""


def venv_info(python: Path | str, dists: list[str]) -> dict[str, Any]:
    """Versions of `dists` in the venv of `python`, and the loop and HTTP parser uvicorn's
    "auto" picks there (uvloop and httptools when importable, else asyncio and h11)."""
    out = subprocess.run(
        [str(python), "-c", VENV_INFO, *dists],
        capture_output=True,
        text=True,
        check=True,
        env=_peer_env(),
    ).stdout
    info: dict[str, Any] = json.loads(out)
    return info


def _peer_env(**extra: str) -> dict[str, str]:
    """This environment without PYTHONPATH (a peer's venv must not see ours), plus `extra`."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    return {**env, **extra}


# ======================================================================= processes


def _proc_table() -> dict[int, tuple[int, int, float, int]]:
    """pid -> (parent pid, session id, CPU seconds used, start time) of every live process
    (zombies left out)."""
    tick = os.sysconf("SC_CLK_TCK")
    table: dict[int, tuple[int, int, float, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # after "pid (comm)": state, ppid, pgrp, session, ..., utime (14), stime (15), ...,
        # starttime (22), counting from 1 in proc(5)
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            continue
        ppid, sid = int(fields[1]), int(fields[3])
        cpu = (int(fields[11]) + int(fields[12])) / tick
        table[int(entry.name)] = (ppid, sid, cpu, int(fields[19]))
    return table


def process_tree(root: int) -> dict[int, int]:
    """`root` and every live process it started (by parent, or in its session): pid -> start
    time (to tell a process from a later one that reuses its pid)."""
    table = _proc_table()
    found = {root} if root in table else set()
    found |= {pid for pid, row in table.items() if row[1] == root}
    grew = True
    while grew:
        more = {pid for pid, row in table.items() if row[0] in found} - found
        found |= more
        grew = bool(more)
    return {pid: table[pid][3] for pid in found}


def cpu_seconds(root: int) -> float:
    """CPU seconds used so far by `root` and the processes it started."""
    table = _proc_table()
    return sum(table[pid][2] for pid in process_tree(root) if pid in table)


class ServerFailed(RuntimeError):
    """A server did not start, or did not answer the benchmark's request."""


@dataclass
class Server:
    """How to start one server and talk to it."""

    key: str  # column of the results: bare, relayml, relayml-nolog, mlflow, bentoml
    label: str
    argv: list[str]
    health: str  # path answering 200 once the model is loaded
    predict: str  # path the load is sent to
    body: bytes
    prediction: Callable[[Any], Any]  # the predicted class in a response's JSON
    about: str  # what ran: versions, loop, HTTP parser, batching
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready: Callable[[bytes], bool] = lambda _body: True
    variant: str = ""  # which of a server's request forms this is (MLflow's)
    shape: str = ""  # the body's form, for the notes


@contextmanager
def running(server: Server, port: int, pin: bool) -> Iterator[subprocess.Popen[bytes]]:
    """Start `server` on `port` (pinned to SERVER_CORE), wait until it is ready, and stop it with
    everything it started when the block ends, however it ends."""
    SERVING_DIR.joinpath("logs").mkdir(parents=True, exist_ok=True)
    log_path = SERVING_DIR / "logs" / f"{server.key}.log"
    argv = [arg.replace("{port}", str(port)) for arg in server.argv]
    if pin:
        argv = ["taskset", "-c", str(SERVER_CORE), *argv]
    c.log(f"starting {server.label}: {' '.join(argv)}")
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=_peer_env(**server.env),
            cwd=server.cwd,
            start_new_session=True,  # its own process group: stopped as a whole
        )
    try:
        _wait_ready(server, proc, port, log_path)
        yield proc
    finally:
        stop(proc)


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_ready(server: Server, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    url = f"http://127.0.0.1:{port}{server.health}"
    start = time.monotonic()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(
                f"{server.label} exited with code {proc.returncode} before it was ready:\n"
                + _log_tail(log)
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200 and server.ready(response.read()):
                    c.log(f"{server.label} ready after {time.monotonic() - start:.1f} s")
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise ServerFailed(f"{server.label} not ready after {READY_TIMEOUT:.0f} s:\n{_log_tail(log)}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server and every process it started: SIGTERM to its process group and to each
    of them, SIGKILL to whatever is left after 15 s."""
    family = process_tree(proc.pid)
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        for pid in _alive(family | process_tree(proc.pid)):
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            family |= process_tree(proc.pid)
            if proc.poll() is not None and not _alive(family):
                return
            time.sleep(0.1)
    if _alive(family):
        c.log(f"processes {sorted(_alive(family))} outlived SIGKILL")


def _alive(family: dict[int, int]) -> set[int]:
    """The processes of `family` still running (the same processes: same start time)."""
    table = _proc_table()
    return {pid for pid, started in family.items() if pid in table and table[pid][3] == started}


def free_port() -> int:
    """A TCP port nobody listens on at the moment, on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ======================================================================= the load


@dataclass
class Point:
    """One measurement: one server at one number of connections."""

    key: str
    connections: int
    seconds: float
    requests: int
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    cpu_seconds: float

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx

    @property
    def failures(self) -> int:
        return self.non_2xx + self.socket_errors

    @property
    def rps(self) -> float:
        """Successful responses per second."""
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float | None:
        return self.cpu_seconds * 1000 / self.ok if self.ok else None


def _point(key: str, connections: int, r: dict[str, Any], cpu: float) -> Point:
    """A Point from wrk's result `r` and the server's CPU seconds meanwhile."""
    return Point(
        key=key,
        connections=connections,
        seconds=r["duration_us"] / 1e6,
        requests=r["requests"],
        non_2xx=r["status"],
        socket_errors=r["connect"] + r["read"] + r["write"] + r["timeout"],
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        cpu_seconds=cpu,
    )


def ensure_wrk() -> str:
    """The path of wrk; installs Debian's package when missing and this is root."""
    found = shutil.which("wrk") or (WRK if Path(WRK).exists() else None)
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed: run `sudo apt-get install -y wrk`, then again.")
    c.log("wrk is missing: apt-get install -y wrk")
    if subprocess.run(["apt-get", "install", "-y", "wrk"], check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    return shutil.which("wrk") or WRK


def load(
    wrk: str, url: str, body: Path, connections: int, seconds: float, pin: bool
) -> dict[str, Any]:
    """Run wrk (one thread) for `seconds` and return the JSON its Lua `done` prints."""
    argv = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={REQUEST_TIMEOUT}",
        "-s",
        str(LUA),
        url,
    ]
    if pin:
        argv = ["taskset", "-c", str(LOAD_CORE), *argv]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
        env={**os.environ, "WRK_BODY_FILE": str(body)},
    )
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            result: dict[str, Any] = json.loads(line[len("WRK_JSON ") :])
            return result
    raise ServerFailed(f"wrk printed no result (exit {done.returncode}):\n{done.stderr.strip()}")


def post(url: str, body: bytes) -> Any:
    """POST one body; the JSON of the answer. ServerFailed unless it is 2xx."""
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode(errors="replace")
        raise ServerFailed(f"answered HTTP {exc.code}: {detail}") from exc


# ======================================================================= the benchmark


@dataclass
class Model:
    """The fitted model, pickled, and the row every server gets."""

    pickle: Path
    row: list[float]
    row_json: Path
    expected: int
    fitted: Any
    frame: Any  # the training DataFrame (f0..f19)


def train() -> Model:
    """Fit the model once (fixed seed) and pickle it for every server."""
    import pickle

    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier

    x, y = make_classification(
        n_samples=N_TRAIN + 1, n_features=N_FEATURES, n_informative=10, random_state=SEED
    )
    frame = pd.DataFrame(x[:N_TRAIN], columns=COLUMNS)
    with c.clock() as t:
        model = GradientBoostingClassifier(n_estimators=100, random_state=SEED)
        model.fit(frame, y[:N_TRAIN])
    row = [float(v) for v in x[N_TRAIN]]  # held out: the request of every server
    expected = int(model.predict(pd.DataFrame([row], columns=COLUMNS))[0])
    SERVING_DIR.mkdir(parents=True, exist_ok=True)
    path = SERVING_DIR / "model.pkl"
    with path.open("wb") as f:
        pickle.dump(model, f, protocol=5)
    row_json = SERVING_DIR / "row.json"
    row_json.write_text(json.dumps({"columns": COLUMNS, "values": row}))
    c.log(f"trained GradientBoostingClassifier(100 trees) on {N_TRAIN:,} x 20 in {t[0]:.1f} s")
    return Model(path, row, row_json, expected, model, frame)


def _ensure_peer(env: c.PeerEnv) -> tuple[Path | None, str]:
    """(python of the peer's venv, "") or (None, why it did not install)."""
    if env.ready():
        return env.python, ""
    with tempfile.TemporaryFile() as err:
        saved = os.dup(2)
        os.dup2(err.fileno(), 2)  # pip's complaints, to quote the reason
        try:
            python: Path | None = env.ensure()
            reason = ""
        except (subprocess.CalledProcessError, OSError) as exc:
            python, reason = None, str(exc)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        err.seek(0)
        text = err.read().decode(errors="replace")
    lines = [line for line in text.splitlines() if not line.startswith("WARNING: Location")]
    sys.stderr.write("\n".join(lines[-20:]) + "\n")
    errors = [
        re.sub(r" \(from versions: [^)]*\)", "", line) for line in lines if line.startswith("ERROR")
    ]
    if python is None:
        reason = "; ".join(errors[-2:]) or reason
    elif not env.ready():
        python, reason = None, f"{env.probe} does not import in {env.path}"
    return python, reason


def relay_serve_available(relay: Path) -> bool:
    """Whether this relayml has `relay serve` (else the bundle server is used)."""
    try:
        done = subprocess.run(
            [str(relay), "serve", "--help"], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def relay_server_argv(
    use_serve: bool,
    relay: Path,
    ref: str,
    bundle: Path | None,
    prediction_log: bool,
    extra: list[str],
) -> list[str]:
    """The one command that serves relayml's model ({port} is filled in at start)."""
    if use_serve:
        argv = [str(relay), "serve", ref, *LISTEN, "--project", "bench", *extra]
        return argv if prediction_log else [*argv, "--no-prediction-log"]
    assert bundle is not None
    python = str(relay.parent / "python")
    return [python, "-m", "relayml.serve.bundle", str(bundle), *LISTEN]


class Bench:
    """Prepares every selected server, measures each in turn, and reports."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.duration: float = args.duration or (3.0 if args.quick else 10.0)
        self.warmup: float = (
            args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
        )
        self.connections: list[int] = args.connections
        self.pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
        self.wrk = ensure_wrk()
        self.points: list[Point] = []
        # alternating rounds, per (server, connections)
        self.rounds: dict[tuple[str, int], list[Point]] = {}
        self.labels: dict[str, str] = {}
        self.abouts: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self.notes: list[str] = []
        self.relay_mode = ""
        self.scratch: list[Path] = []
        self.model = train()
        main = venv_info(sys.executable, ["uvicorn", "starlette", "fastapi", "scikit-learn"])
        self.main_info = main

    # -------------------------------------------------------------- servers
    def body_file(self, server: Server) -> Path:
        """The server's request body in a file, for wrk."""
        name = f"body-{server.key}" + (f"-{server.variant}" if server.variant else "")
        path = SERVING_DIR / f"{name}.json"
        path.write_bytes(server.body)
        return path

    def bare(self) -> list[Server]:
        m = self.main_info
        v = m["versions"]
        about = (
            f"Starlette {v['starlette']} + uvicorn {v['uvicorn']} ({m['loop']} loop, {m['http']}"
            f"), 1 worker, no access log, predict on the event loop; scikit-learn "
            f"{v['scikit-learn']}; body a JSON list of 20 floats"
        )
        pkl = str(self.model.pickle)
        return [
            Server(
                key="bare",
                label="bare endpoint",
                argv=[sys.executable, str(c.BENCH_DIR / "serving_bare.py"), pkl, *LISTEN],
                health="/health",
                predict="/predict",
                body=json.dumps(self.model.row).encode(),
                prediction=lambda answer: answer["predictions"][0],
                about=about,
            )
        ]

    def relayml(self) -> list[Server]:
        """relayml's servers: `relay serve` (prediction log on, then off) and/or the bundle
        server, by --relayml-server (auto: `relay serve` when this relayml has it, else the
        bundle server)."""
        import relayml as relay

        home_root = SERVING_DIR / "relay-home"
        home_root.mkdir(parents=True, exist_ok=True)
        home = Path(tempfile.mkdtemp(prefix="run-", dir=home_root))
        self.scratch.append(home)
        relay.init(project="bench", home=home)
        with relay.start_run() as run:
            version = run.log_model(self.model.fitted, "gbm", input_example=self.model.frame[:5])
        relay.flush()
        ref = f"gbm/{getattr(version, 'version', 1)}"
        exe = Path(sys.executable).parent / "relay"
        mode = self.args.relayml_server
        has_serve = relay_serve_available(exe)
        if mode in ("serve", "both") and not has_serve:
            self.skipped["relayml"] = "did not run: this relayml has no `relay serve`"
            return []
        use_serve = has_serve if mode == "auto" else mode in ("serve", "both")
        use_bundle = mode in ("bundle", "both") or not use_serve
        # the server imports the relayml this process imported (a worktree's src, too)
        source = str(Path(relay.__file__).resolve().parents[1])
        env = {"RELAY_HOME": str(home), "RELAY_PROJECT": "bench", "PYTHONPATH": source}
        m = self.main_info
        v = m["versions"]
        base = (
            f"relayml {c.version_of('relayml')}{_git_state()}, {{how}}; FastAPI {v['fastapi']} "
            f"+ uvicorn {v['uvicorn']} ({m['loop']} loop, {m['http']}); body one JSON record"
        )
        record = json.dumps(dict(zip(COLUMNS, self.model.row, strict=True))).encode()

        def server(key: str, label: str, argv: list[str], how: str) -> Server:
            return Server(
                key=key,
                label=label,
                argv=argv,
                health="/v2/health/ready",
                predict="/predict",
                body=record,
                prediction=lambda answer: answer["predictions"][0],
                about=base.format(how=how),
                env=env,
                ready=lambda body: bool(json.loads(body).get("ready")),
            )

        servers = []
        if use_serve:
            extra = shlex.split(self.args.relay_args)
            shown = "".join(f" {arg}" for arg in extra)
            for log_on, key, label in (
                (True, "relayml", "relayml"),
                (False, "relayml-nolog", "relayml, no prediction log"),
            ):
                how = f"`relay serve {ref}{shown}" + ("`" if log_on else " --no-prediction-log`")
                how += ", prediction log on" if log_on else ""
                argv = relay_server_argv(True, exe, ref, None, log_on, extra)
                servers.append(server(key, label, argv, how))
        if use_bundle:
            bundle = home / "bundle"
            subprocess.run(
                [str(exe), "models", "build", ref, "--out", str(bundle), "--project", "bench"],
                check=True,
                capture_output=True,
                env=_peer_env(**env),
            )
            how = (
                f"`python -m relayml.serve.bundle` on a bundle of `relay models build {ref}` "
                "(the model server of `relay serve`; no --log-dir: no prediction log)"
            )
            key, label = (
                ("relayml-bundle", "relayml bundle") if use_serve else ("relayml", "relayml")
            )
            argv = relay_server_argv(False, exe, ref, bundle, True, [])
            servers.append(server(key, label, argv, how))
            if not use_serve:
                self.notes.append(
                    "relayml ran as the bundle server without --log-dir (no prediction log): "
                    "the prediction log's cost is measured with `relay serve`."
                )
        self.relay_mode = "`relay serve`" if use_serve else "the bundle server"
        if use_serve and use_bundle:
            self.relay_mode += " (and the bundle server)"
        c.log(f"relayml is served by {self.relay_mode}")
        return servers

    def mlflow(self) -> list[Server]:
        if self.args.mlflow_python:
            python: Path | None = Path(self.args.mlflow_python)
            reason = ""
        else:
            python, reason = _ensure_peer(MLFLOW)
        if python is None:
            self.skipped["mlflow"] = f"did not install: {reason}"
            return []
        out = SERVING_DIR / "mlflow-model"
        files = [str(self.model.pickle), str(self.model.row_json), str(out)]
        done = subprocess.run(
            [str(python), str(Path(__file__).resolve()), "--mlflow-save", *files],
            capture_output=True,
            text=True,
            env=_peer_env(),
            check=False,
        )
        if done.returncode != 0:
            self.skipped["mlflow"] = f"could not save the model: {done.stderr.strip()[-500:]}"
            return []
        info = venv_info(python, ["mlflow", "uvicorn", "fastapi", "scikit-learn"])
        v = info["versions"]
        if v["scikit-learn"] != self.main_info["versions"]["scikit-learn"]:
            self.notes.append(f"MLflow's venv has scikit-learn {v['scikit-learn']}.")
        about = (
            f"MLflow {v['mlflow']} `mlflow models serve --env-manager local -w 1`: FastAPI "
            f"{v['fastapi']} + uvicorn {v['uvicorn']} ({info['loop']} loop, {info['http']}), "
            "model saved with mlflow.sklearn in cloudpickle format, with its signature"
        )
        bodies = _mlflow_bodies(self.model.row)
        bin_dir = python.parent
        options = ["--env-manager", "local", "-h", "127.0.0.1", "-p", "{port}", "-w", "1"]
        return [
            Server(
                key="mlflow",
                label=f"MLflow ({fmt})",
                argv=[str(bin_dir / "mlflow"), "models", "serve", "-m", str(out), *options],
                health="/ping",
                predict="/invocations",
                body=bodies[fmt],
                prediction=lambda answer: answer["predictions"][0],
                about=about,
                variant=fmt,
                shape=_MLFLOW_FORMAT_TEXT[fmt],
                # it runs `uvicorn` by name: the venv's bin first on PATH
                env={
                    "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
                    "MLFLOW_DISABLE_TELEMETRY": "true",
                    "DO_NOT_TRACK": "true",
                },
            )
            for fmt in self.args.mlflow_formats
        ]

    def bentoml(self) -> list[Server]:
        spec = [f"bentoml=={BENTOML_VERSION}", f"scikit-learn=={c.version_of('scikit-learn')}"]
        if self.args.bentoml_python:
            python: Path | None = Path(self.args.bentoml_python)
            reason = ""
        else:
            python, reason = _ensure_peer(c.PeerEnv("bentoml", spec, "bentoml"))
        if python is None:
            self.skipped["bentoml"] = f"did not install: {reason}"
            return []
        info = venv_info(python, ["bentoml", "uvicorn", "starlette", "scikit-learn"])
        v = info["versions"]
        batching = not self.args.bentoml_no_batching
        about = (
            f"BentoML {v['bentoml']} `bentoml serve serving_bento:GBM`, 1 worker: Starlette "
            f"{v['starlette']} + uvicorn {v['uvicorn']} ({info['loop']} loop, {info['http']}); "
            + (
                "adaptive batching on with BentoML's defaults (max_batch_size 100, "
                "max_latency_ms 60000)"
                if batching
                else "plain API (no batching)"
            )
            + '; body {"rows": [[20 floats]]}'
        )
        bin_dir = python.parent
        return [
            Server(
                key="bentoml",
                label="BentoML",
                argv=[str(bin_dir / "bentoml"), "serve", "serving_bento:GBM", *LISTEN],
                health="/readyz",
                predict="/predict",
                body=json.dumps({"rows": [self.model.row]}).encode(),
                prediction=lambda answer: answer[0],
                about=about,
                env={
                    "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
                    "SERVING_MODEL": str(self.model.pickle),
                    "SERVING_BENTO_BATCH": "1" if batching else "0",
                    "BENTOML_HOME": str(SERVING_DIR / "bentoml-home"),
                    "BENTOML_DO_NOT_TRACK": "True",
                },
                cwd=c.BENCH_DIR,
            )
        ]

    # -------------------------------------------------------------- measuring
    def check(self, server: Server, port: int) -> None:
        """One request: it must answer 2xx with the class the model predicts in-process."""
        answer = post(f"http://127.0.0.1:{port}{server.predict}", server.body)
        try:
            got = server.prediction(answer)
        except (KeyError, IndexError, TypeError) as exc:
            raise ServerFailed(f"unexpected answer {str(answer)[:300]}") from exc
        if int(got) != self.model.expected:
            self.notes.append(
                f"{server.label} predicted {got!r} for the row; the model in-process predicts "
                f"{self.model.expected}."
            )

    def measure(self, server: Server, variants: list[Server] | None = None) -> bool:
        """Start, check, warm up, load at each connection count, stop. False if it failed.

        `variants` are other bodies for the same server (MLflow's request formats): each is
        probed for a few seconds after the warm-up, and the fastest is measured.
        """
        port = free_port()
        self.labels[server.key] = server.label
        try:
            with running(server, port, self.pin) as proc:
                self.check(server, port)
                if self.pin:
                    tree = process_tree(proc.pid)
                    cores = {tuple(sorted(os.sched_getaffinity(p))) for p in tree}
                    if cores != {(SERVER_CORE,)}:
                        self.notes.append(f"{server.label} ran on cores {sorted(cores)}.")
                url = f"http://127.0.0.1:{port}{server.predict}"
                load(self.wrk, url, self.body_file(server), GOAL_AT, self.warmup, self.pin)
                if variants:
                    server = self.fastest(variants, port)
                    self.labels[server.key] = server.label
                body = self.body_file(server)
                for n in self.connections:
                    time.sleep(SETTLE_S)  # the last load's log flush lands here, not in this point
                    cpu0 = cpu_seconds(proc.pid)
                    r = load(self.wrk, url, body, n, self.duration, self.pin)
                    point = _point(server.key, n, r, cpu_seconds(proc.pid) - cpu0)
                    self.points.append(point)
                    c.log(
                        f"  {server.label} at {n} connections: {point.rps:,.0f} req/s, p50 "
                        f"{point.p50_ms:.1f} ms, p99 {point.p99_ms:.1f} ms, failures "
                        f"{point.failures}"
                    )
        except ServerFailed as exc:
            c.log(f"{server.label} failed: {exc}")
            self.skipped[server.key] = f"did not run: {' '.join(str(exc).split())[:400]}"
            return False
        self.abouts[server.key] = server.about
        return True

    def fastest(self, variants: list[Server], port: int) -> Server:
        """Probe each body variant for a few seconds at GOAL_AT connections; the fastest."""
        seconds = 2.0 if self.args.quick else 4.0
        rates: dict[str, float] = {}
        for server in variants:
            self.check(server, port)
            url = f"http://127.0.0.1:{port}{server.predict}"
            r = load(self.wrk, url, self.body_file(server), GOAL_AT, seconds, self.pin)
            ok = r["requests"] - r["status"]
            rates[server.variant] = ok / (r["duration_us"] / 1e6) if ok > 0 else 0.0
            c.log(f"  {server.label}: {rates[server.variant]:,.0f} req/s")
        best = max(variants, key=lambda s: rates[s.variant])
        probed = ", ".join(f"{name} {rate:,.0f}" for name, rate in rates.items())
        self.notes.append(
            f"{best.label.split(' (')[0]}'s single-row bodies, probed {seconds:.0f} s each at "
            f"{GOAL_AT} connections (req/s): {probed}; measured with the fastest, "
            f"{best.variant}: `{best.shape}`."
        )
        return best

    def run(self, only: list[str]) -> None:
        makers = {
            "bare": self.bare,
            "relayml": self.relayml,
            "mlflow": self.mlflow,
            "bentoml": self.bentoml,
        }
        measured: dict[str, Server] = {}
        for key in only:
            servers = makers[key]()
            if key == "mlflow" and len(servers) > 1:
                self.measure(servers[0], variants=servers)
                continue
            for server in servers:
                if self.measure(server):
                    measured[server.key] = server
        trio = [measured.get(k) for k in ("bare", "relayml", "relayml-nolog")]
        if self.args.rounds and trio[0] and trio[1]:
            self.alternate([s for s in trio if s is not None])

    def alternate(self, servers: list[Server]) -> None:
        """The comparisons again at 1, GOAL_AT and MANY connections, in alternating short rounds.

        One long point per server, one server after the other, compares two moments of a
        machine whose speed drifts (a VM's neighbours): in one quiet session the same bare
        endpoint ran at 0.70 to 1.15 ms of CPU per request. Here every server stays up, idle
        while the others are loaded, and each round loads each in turn (the order flips each
        round), after a pause in which the previous one's log flush lands; the figures are the
        medians over rounds, and each round's ratio is printed.
        """
        rounds, seconds = self.args.rounds, self.args.round_seconds
        levels = [n for n in (1, GOAL_AT, MANY) if n in self.connections]
        names = ", ".join(s.key for s in servers)
        c.log(f"alternating rounds ({names}): {rounds} x {seconds:.0f} s each at {levels} conn")
        with ExitStack() as stack:
            targets = []
            for server in servers:
                port = free_port()
                proc = stack.enter_context(running(server, port, self.pin))
                url = f"http://127.0.0.1:{port}{server.predict}"
                load(self.wrk, url, self.body_file(server), GOAL_AT, self.warmup, self.pin)
                targets.append((server, url, proc))
            for i in range(rounds):
                for n in levels:
                    for server, url, proc in targets if i % 2 == 0 else targets[::-1]:
                        time.sleep(SETTLE_S)
                        cpu0 = cpu_seconds(proc.pid)
                        r = load(self.wrk, url, self.body_file(server), n, seconds, self.pin)
                        point = _point(server.key, n, r, cpu_seconds(proc.pid) - cpu0)
                        self.rounds.setdefault((server.key, n), []).append(point)
                    base, other = (self.rounds[(s.key, n)][-1] for s, _, _ in targets[:2])
                    c.log(
                        f"  round {i + 1}, {n} conn: relayml {other.rps:,.0f} vs bare "
                        f"{base.rps:,.0f} req/s ({other.rps / base.rps:.2f}x), p99 "
                        f"{other.p99_ms:.1f} vs {base.p99_ms:.1f} ms"
                    )

    def judged(self, key: str, n: int = GOAL_AT) -> tuple[float, float, str] | None:
        """(req/s, p99 ms, how) of a server at n connections: the medians of its alternating
        rounds when it has them, else its long point."""
        rounds = self.rounds.get((key, n))
        if rounds:
            return (
                statistics.median(p.rps for p in rounds),
                statistics.median(p.p99_ms for p in rounds),
                f"median of {len(rounds)} alternating rounds",
            )
        p = self.point(key, n)
        return None if p is None else (p.rps, p.p99_ms, f"{self.duration:.0f} s point")

    def close(self) -> None:
        if not self.args.keep:
            for path in self.scratch:
                shutil.rmtree(path, ignore_errors=True)

    # -------------------------------------------------------------- report
    def point(self, key: str, n: int = GOAL_AT) -> Point | None:
        for p in self.points:
            if p.key == key and p.connections == n:
                return p
        return None

    def figures(self) -> list[c.Figure]:
        relay, nolog, bare = (
            self.judged("relayml"),
            self.judged("relayml-nolog"),
            self.judged("bare"),
        )
        ml, bento = self.point("mlflow"), self.point("bentoml")
        at = f"{GOAL_AT} conn"
        vs_bare = f"{at}, {relay[2]}" if relay is not None else at
        relay_rps = None if relay is None else relay[0]
        relay_p99 = None if relay is None else relay[1]

        def rps(p: Point | None) -> float | None:
            return None if p is None else p.rps

        def p99(p: Point | None) -> float | None:
            return None if p is None else p.p99_ms

        figures = [
            c.Figure(
                f"req/s at {at}, vs MLflow",
                "req/s",
                relay_rps,
                rps(ml),
                None if ml is None else GOAL_VS_MLFLOW * ml.rps,
            ),
            c.Figure(
                f"req/s at {vs_bare}, vs bare endpoint",
                "req/s",
                relay_rps,
                None if bare is None else bare[0],
                None if bare is None else GOAL_VS_BARE * bare[0],
            ),
            c.Figure(
                f"p99 at {vs_bare}, vs bare endpoint",
                "ms",
                relay_p99,
                None if bare is None else bare[1],
                None if bare is None else bare[1],
            ),
            c.Figure(f"req/s at {at}, vs BentoML", "req/s", relay_rps, rps(bento)),
            c.Figure(f"p99 at {at}, vs BentoML", "ms", relay_p99, p99(bento)),
            c.Figure(f"p99 at {at}, vs MLflow", "ms", relay_p99, p99(ml)),
        ]
        many, bare_many = self.judged("relayml", MANY), self.judged("bare", MANY)
        if many is not None and bare_many is not None:
            figures.append(
                c.Figure(
                    f"req/s at {MANY} conn, {many[2]}, vs bare endpoint", "req/s", many[0],
                    bare_many[0], GOAL_VS_BARE * bare_many[0],
                )
            )  # fmt: skip
        one, bare_one = self.rounds.get(("relayml", 1)), self.rounds.get(("bare", 1))
        if one and bare_one:
            rps_one = statistics.median(p.rps for p in one)
            rps_bare = statistics.median(p.rps for p in bare_one)
            p99_one = statistics.median(p.p99_ms for p in one)
            p99_bare = statistics.median(p.p99_ms for p in bare_one)
            at_one = f"1 conn, median of {len(one)} alternating rounds"
            figures += [
                c.Figure(
                    f"req/s at {at_one}, vs bare", "req/s", rps_one, rps_bare,
                    GOAL_ONE_RPS * rps_bare,
                ),
                c.Figure(
                    f"p99 at {at_one}, vs bare", "ms", p99_one, p99_bare, GOAL_ONE_P99 * p99_bare
                ),
            ]  # fmt: skip
        if nolog is not None:
            figures.append(
                c.Figure(
                    f"req/s at {at} ({nolog[2]}), prediction log on vs off",
                    "req/s",
                    relay_rps,
                    nolog[0],
                    GOAL_LOG_KEPT * nolog[0],
                )
            )
        return figures

    def round_note(self) -> None:
        """Each alternating round's ratios: relayml (log on) to the bare endpoint, and to
        relayml without the log."""
        for n in (1, GOAL_AT, MANY):
            one, bare = self.rounds.get(("relayml", n)), self.rounds.get(("bare", n))
            if not one or not bare:
                continue
            paired = [a.rps / b.rps for a, b in zip(one, bare, strict=True)]
            rps = (
                " ".join(f"{r:.2f}" for r in paired) + f" (median {statistics.median(paired):.2f})"
            )
            p99 = " ".join(f"{a.p99_ms / b.p99_ms:.2f}" for a, b in zip(one, bare, strict=True))
            cpu = " ".join(
                f"{a.cpu_ms_per_request:.2f}/{b.cpu_ms_per_request:.2f}"
                for a, b in zip(one, bare, strict=True)
                if a.cpu_ms_per_request and b.cpu_ms_per_request
            )
            off = self.rounds.get(("relayml-nolog", n)) or []
            kept = " ".join(f"{a.rps / b.rps:.2f}" for a, b in zip(one, off, strict=True))
            self.notes.append(
                f"{n} connection{'s' if n > 1 else ''} in alternating rounds "
                f"({self.args.round_seconds:.0f} s each), relayml (log on) / bare per round: "
                f"req/s {rps}; p99 {p99}; server CPU ms/req {cpu}"
                + (f"; relayml log on / off, req/s: {kept}." if kept else ".")
            )

    def point_rows(self) -> list[list[str]]:
        rows = []
        for p in self.points:
            cpu = p.cpu_ms_per_request
            rows.append(
                [
                    self.labels.get(p.key, p.key),
                    str(p.connections),
                    f"{p.rps:,.0f}",
                    f"{p.p50_ms:,.1f}",
                    f"{p.p99_ms:,.1f}",
                    f"{p.requests:,}",
                    f"{p.failures:,}" + (f" ({p.non_2xx} non-2xx)" if p.non_2xx else ""),
                    "-" if cpu is None else f"{cpu:.2f}",
                ]
            )
        for key, why in self.skipped.items():
            rows.append([key, "-", "-", "-", "-", "-", why, "-"])
        return rows

    def loop_note(self) -> None:
        """Say so when the servers did not all run on the same event loop and HTTP parser."""
        stacks: dict[str, list[str]] = {}
        for key, about in self.abouts.items():
            found = re.search(r"\((\w+) loop, (\w+)\)", about)
            if found:
                stacks.setdefault(f"{found[1]} + {found[2]}", []).append(self.labels[key])
        if len(stacks) > 1:
            self.notes.append(
                "uvicorn picks uvloop and httptools when they are installed, else asyncio and "
                "h11; the servers did not all have the same: "
                + "; ".join(f"{stack}: {', '.join(who)}" for stack, who in stacks.items())
                + "."
            )

    def report(self, seconds: float) -> None:
        point_headers = [
            "server",
            "connections",
            "req/s",
            "p50 ms",
            "p99 ms",
            "requests",
            "failures",
            "server CPU ms/req",
        ]
        quick = " --quick" if self.args.quick else ""
        c.print_table(
            f"Serving, {self.duration:.0f} s per point{quick}", point_headers, self.point_rows()
        )
        headers = list(c.TABLE_HEADERS)
        figure_rows = [f.cells() for f in self.figures()]
        c.print_table(
            f"relayml {c.version_of('relayml')} vs peers at {GOAL_AT} connections{quick}",
            headers,
            figure_rows,
        )
        for key, about in self.abouts.items():
            print(f"- {self.labels[key]}: {about}")
        for note in self.notes:
            print(f"- {note}")
        print(f"- whole run: {c.fmt_seconds(seconds)}")
        if self.args.write_results:
            self.write(point_headers, headers, figure_rows, seconds)

    def write(
        self, point_headers: list[str], headers: list[str], rows: list[list[str]], secs: float
    ) -> None:
        m = c.machine_info()
        pin = (
            f"each server pinned to core {SERVER_CORE} with every process it starts, wrk (one "
            f"thread) to core {LOAD_CORE}"
            if self.pin
            else "no pinning (fewer than 2 cores or no taskset)"
        )
        body = [
            f"## Serving: relayml vs MLflow, BentoML and a bare endpoint "
            f"({dt.date.today().isoformat()})",
            "",
            f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory']}, {m['os']}; Python "
            f"{m['python']}. Model: scikit-learn GradientBoostingClassifier, 100 trees, 20 float "
            f"features, fitted once on {N_TRAIN:,} rows (seed {SEED}) and pickled; every server "
            "serves that fitted model and gets the same held-out row, one row per request, in "
            f"its own JSON form. Load: wrk {_wrk_version(self.wrk)} on loopback, {pin}; a "
            f"{self.warmup:.0f} s warm-up, then {self.duration:.0f} s at each of "
            f"{', '.join(map(str, self.connections))} connections; then "
            f"{self.args.rounds} alternating rounds of {self.args.round_seconds:.0f} s at "
            f"{', '.join(str(n) for n in (1, GOAL_AT, MANY) if n in self.connections)} "
            "connections, bare, relayml and relayml without the log loaded in "
            "turn (the goals are judged on their medians). req/s counts 2xx answers; "
            "failures are non-2xx answers and socket errors (timeout "
            f"{REQUEST_TIMEOUT}). Command: `python benchmarks/serving.py "
            f"{' '.join(sys.argv[1:])}`; whole run {c.fmt_seconds(secs)}.",
            "",
            c.markdown_table(headers, rows),
            "",
            c.markdown_table(point_headers, self.point_rows()),
            "",
            *[f"- {self.labels[k]}: {about}." for k, about in self.abouts.items()],
            *[f"- {note}" for note in self.notes],
        ]
        c.write_results_section("serving", "\n".join(body))
        c.log(f"wrote {c.RESULTS}")


_MLFLOW_FORMAT_TEXT = {
    "split": '{"dataframe_split": {"columns": [...], "data": [[...]]}}',
    "records": '{"dataframe_records": [{"f0": ...}]}',
    "instances": '{"instances": [{"f0": ...}]}',
    "inputs": '{"inputs": [{"f0": ...}]}',
}


def _mlflow_bodies(row: list[float]) -> dict[str, bytes]:
    """MLflow's accepted single-row bodies. ({"inputs": [[...]]}, a bare list, is refused by
    the signature's column names: 'Model is missing inputs f0..f19'.)"""
    record = dict(zip(COLUMNS, row, strict=True))
    forms = {
        "split": {"dataframe_split": {"columns": COLUMNS, "data": [row]}},
        "records": {"dataframe_records": [record]},
        "instances": {"instances": [record]},
        "inputs": {"inputs": [record]},
    }
    return {k: json.dumps(v).encode() for k, v in forms.items()}


def _wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    words = (done.stdout or done.stderr).split()
    return words[1] if len(words) > 1 else "?"


def _git_state() -> str:
    """' at <commit>' of the checkout measured, and whether src/ had uncommitted changes."""
    state = c.git_state()
    return f" {state}" if state else ""


def _interrupted(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per point, 1 s warm-up")
    parser.add_argument("--duration", type=float, help="seconds per point (default 10)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per server (default 3)")
    parser.add_argument(
        "--only", default=",".join(SERVERS), help=f"comma-separated: {', '.join(SERVERS)}"
    )
    parser.add_argument("--connections", default="1,16,64", help="comma-separated counts")
    parser.add_argument(
        "--mlflow-formats",
        default=",".join(MLFLOW_FORMATS),
        help="MLflow bodies to probe, the fastest is measured: " + ", ".join(MLFLOW_FORMATS),
    )
    parser.add_argument("--mlflow-python", help="python of an existing MLflow 3 environment")
    parser.add_argument("--bentoml-python", help="python of an existing BentoML environment")
    parser.add_argument(
        "--bentoml-no-batching", action="store_true", help="BentoML without adaptive batching"
    )
    parser.add_argument(
        "--relayml-server",
        choices=("auto", "serve", "bundle", "both"),
        default="auto",
        help="`relay serve`, the bundle server, or both (auto: `relay serve` if present)",
    )
    parser.add_argument(
        "--relay-args",
        default="",
        help="extra options for `relay serve`, e.g. '--no-access-log' (default: none, as shipped)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="alternating rounds at 1, 16 and 64 connections (those measured) of bare, relayml "
        "and relayml without the log after the points, each server in turn, medians reported "
        "and judged "
        "(default 8; 4 with --quick; 0: none)",
    )
    parser.add_argument(
        "--round-seconds", type=float, help="seconds per server per round (default 3)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the relayml home (RELAY_HOME)")
    parser.add_argument(
        "--write-results", action="store_true", help="update the serving section of RESULTS.md"
    )
    parser.add_argument("--mlflow-save", nargs=3, metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 4 if args.quick else 8
    if args.round_seconds is None:
        args.round_seconds = 3.0
    if args.rounds < 0 or args.round_seconds < 1:
        parser.error("--rounds must be 0 or more and --round-seconds at least 1")
    if args.mlflow_save:
        mlflow_save(*(Path(p) for p in args.mlflow_save))
        return 0
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    if not only or not set(only) <= set(SERVERS):
        parser.error(f"--only takes {', '.join(SERVERS)}; got {args.only!r}")
    only = [s for s in SERVERS if s in only]  # bare first: the limit the others are held to
    args.connections = sorted({int(x) for x in args.connections.split(",") if x.strip()})
    if GOAL_AT not in args.connections:
        parser.error(f"--connections must include {GOAL_AT}, where the goals are")
    args.mlflow_formats = [x.strip() for x in args.mlflow_formats.split(",") if x.strip()]
    if not args.mlflow_formats or not set(args.mlflow_formats) <= set(MLFLOW_FORMATS):
        parser.error(f"--mlflow-formats takes {', '.join(MLFLOW_FORMATS)}")
    signal.signal(signal.SIGTERM, _interrupted)  # stop the servers on kill as on Ctrl-C
    start = time.perf_counter()
    sampler = c.LoadSampler()
    bench = Bench(args)
    try:
        bench.run(only)
    except KeyboardInterrupt:
        c.log("interrupted: every server was stopped")
        return 130
    finally:
        bench.close()
    bench.loop_note()
    bench.round_note()
    bench.notes.append(sampler.stop() + ".")
    bench.report(time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
