"""CLI start-up benchmark: the wall time of common `relay` commands, each a fresh process.

    python benchmarks/cli.py [--quick] [--reps 15] [--baseline REF] [--write-results]

Commands timed (issue #11's goals: `--help` < 0.3 s, a list or show on the embedded store
< 0.5 s): `relay --help`, `relay runs list`, `relay runs show RUN`, `relay models list`,
`relay models show MODEL`, `relay alerts list`, `relay feedback list`, and `relay monitor --help`;
and a floor: a process that only imports SQLAlchemy, pydantic-settings, Typer and Rich, which
every list command needs, so each command's time above the floor is relayml's own.
They run on a small embedded store this script makes first in benchmarks/.work/ (one project,
20 runs with 5 params and 5 metrics each, one model with two versions, one alert rule).

Like hyperfine: one warm-up run per command (bytecode written), then --reps runs of each, the
commands taking turns so that a change of the machine's load touches every one alike; each run is
a subprocess timed from spawn to exit (perf_counter), and its CPU time (user + system) is read
from getrusage. Printed: median, mean ± standard deviation, min..max, median CPU, and the data
libraries each command imported (one more run, listing sys.modules at exit).

--baseline REF also measures the relayml of a git commit (its src/ extracted with git archive
into benchmarks/.work/), alternating with this checkout on the same store: before and after in
one run. When MLflow is installed in the benchmarks' own venv (benchmarks/.work/mlflow-venv,
made by benchmarks/tracking.py), `mlflow --help` and `mlflow experiments search` (on a SQLite
store of its own) are timed the same way as a yardstick; else relayml's figures are printed
alone (this script installs nothing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
STORE = c.WORK_DIR / "cli-store"
MLFLOW = c.PeerEnv("mlflow", ["mlflow==3.17.2"], "mlflow")  # the one benchmarks/tracking.py makes
HELP_GOAL, LIST_GOAL = 0.3, 0.5  # seconds
RUNS = 20
HEAVY = (
    "pandas", "pyarrow", "numpy", "scipy", "sklearn", "sqlalchemy", "alembic", "httpx",
    "fastapi", "uvicorn", "fsspec", "pydantic_settings",
)  # fmt: skip

# Runs the console script's code (relayml.cli:main) with argv after it; with RELAY_BENCH_MODULES
# set, writes the heavy modules loaded to that file at exit.
RELAY = (
    "import sys\n"
    "from relayml.cli import main\n"
    "def _report():\n"
    "    import json, os\n"
    "    path = os.environ.get('RELAY_BENCH_MODULES')\n"
    "    if path:\n"
    f"        heavy = {HEAVY!r}\n"
    "        with open(path, 'w') as out:\n"
    "            json.dump([m for m in heavy if m in sys.modules], out)\n"
    "import atexit\n"
    "atexit.register(_report)\n"
    "sys.argv[0] = 'relay'\n"
    "main()\n"
)

# Fills the store through the SDK of the relayml measured (run once, in a subprocess).
FILL = """
import sys
import pandas as pd
from sklearn.linear_model import LogisticRegression
import relayml as relay

runs = int(sys.argv[1])
relay.init(project="bench")
x = pd.DataFrame({"tenure": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "charges": [9, 7, 5, 3, 2, 1.0]})
y = [0, 0, 0, 1, 1, 1]
first = None
for i in range(runs):
    with relay.start_run(name=f"run-{i:02d}") as run:
        relay.log_params({f"p{j}": i * j for j in range(5)})
        relay.log_metrics({f"m{j}": (i + 1) / (j + 2) for j in range(5)})
        if i < 2:
            run.log_model(LogisticRegression(C=1.0 + i).fit(x, y), "churn", input_example=x.head(2))
        first = first or run.id
print(first)
"""

ALERTS = (
    "alerts:\n  - name: accuracy-low\n    model: churn\n    env: production\n"
    "    figure: accuracy\n    below: 0.8\n"
)


@dataclass
class Command:
    """One command line of one tool, and what it measured."""

    tool: str  # relayml, baseline or mlflow
    label: str  # as shown in the tables
    argv: list[str]
    env: dict[str, str]
    goal: float | None
    expect: str  # a fragment of the standard output of a good run
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    modules: list[str] | None = None

    def run_once(self, modules_file: Path | None = None) -> tuple[float, float]:
        """Run the command; its wall and CPU seconds. A failure stops the benchmark."""
        env = dict(self.env)
        if modules_file is not None:
            env["RELAY_BENCH_MODULES"] = str(modules_file)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(self.argv, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0 or self.expect not in done.stdout:
            raise SystemExit(
                f"{self.tool} `{self.label}` failed (exit {done.returncode}):\n"
                f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu


def relay_env(src: Path, store: Path = STORE) -> dict[str, str]:
    """The environment of a relay process: the src measured first on the path, the bench store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the warm-up run writes bytecode, as installs do
    env.update(
        PYTHONPATH=str(src),
        RELAY_HOME=str(store / "home"),
        RELAY_PROJECT="bench",
        COLUMNS="160",
    )
    return env


def make_store(src: Path, runs: int, store: Path = STORE) -> str:
    """A fresh embedded store with the bench project, made by that src's code; returns a run id.

    Each version measured gets a store its own code made: an older release cannot open a store
    that a newer one has migrated past its head.
    """
    if store.exists():
        shutil.rmtree(store)
    (store / "home").mkdir(parents=True)
    env = relay_env(src, store)
    done = subprocess.run(
        [sys.executable, "-c", FILL, str(runs)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"filling the store failed:\n{done.stderr[-3000:]}")
    rules = store / "alerts.yaml"
    rules.write_text(ALERTS)
    subprocess.run(
        [sys.executable, "-c", RELAY, "alerts", "set", str(rules)],
        env=env,
        check=True,
        capture_output=True,
    )
    return done.stdout.strip().splitlines()[-1]


def baseline_src(ref: str) -> tuple[Path, str]:
    """src/ of a git commit, extracted once into benchmarks/.work/; (its path, short sha)."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folder = c.WORK_DIR / f"cli-baseline-{sha}"
    if not (folder / "src" / "relayml").is_dir():
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", sha, "src"],
            capture_output=True,
            check=True,
        ).stdout
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
    return folder / "src", sha


def relay_commands(tool: str, src: Path, run_id: str, store: Path = STORE) -> list[Command]:
    env = relay_env(src, store)
    base = [sys.executable, "-c", RELAY]
    table = [
        ("--help", ["--help"], HELP_GOAL, "Usage: relay"),
        ("runs list", ["runs", "list"], LIST_GOAL, "run-19"),
        ("runs show RUN", ["runs", "show", run_id], LIST_GOAL, run_id),
        ("models list", ["models", "list"], LIST_GOAL, "churn"),
        ("models show churn", ["models", "show", "churn"], LIST_GOAL, "churn"),
        ("alerts list", ["alerts", "list"], LIST_GOAL, "accuracy-low"),
        ("feedback list", ["feedback", "list"], LIST_GOAL, "No flags"),
        ("monitor --help", ["monitor", "--help"], HELP_GOAL, "Usage: relay monitor"),
    ]
    return [
        Command(tool, label, [*base, *args], env, goal, expect)
        for label, args, goal, expect in table
    ]


# The libraries the design names for a command on the embedded store (SQLAlchemy, pydantic
# settings, Typer, Rich), imported and nothing else: what no relay list command can go under.
FLOOR = "import sqlalchemy, pydantic_settings, typer, rich.console, rich.table\nprint('ok')"


def floor_command() -> Command:
    """The import of the CLI's own libraries alone, in a process like the others."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("RELAY_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    argv = [sys.executable, "-c", FLOOR]
    return Command("floor", "import the libraries only", argv, env, None, "ok")


def mlflow_commands() -> list[Command]:
    """`mlflow --help` and `mlflow experiments search` on a SQLite store of its own."""
    mlflow = MLFLOW.path / "bin" / "mlflow"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{STORE / 'mlflow.db'}",
        MLFLOW_DISABLE_TELEMETRY="true",
        COLUMNS="160",
    )
    return [
        Command("mlflow", "mlflow --help", [str(mlflow), "--help"], env, None, "Usage: mlflow"),
        Command(
            "mlflow",
            "mlflow experiments search",
            [str(mlflow), "experiments", "search"],
            env,
            None,
            "Default",
        ),
    ]


def stats(values: list[float]) -> tuple[float, float, float, float, float]:
    """median, mean, standard deviation, min, max."""
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return c.median(values), statistics.fmean(values), spread, min(values), max(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs per command (smoke test)")
    parser.add_argument("--reps", type=int, default=15, help="runs per command (default 15)")
    parser.add_argument(
        "--baseline", metavar="REF", help="also measure this git commit's relayml (before/after)"
    )
    parser.add_argument(
        "--write-results", action="store_true", help="update the cli section of RESULTS.md"
    )
    args = parser.parse_args(argv)
    reps = 3 if args.quick else args.reps
    began = time.perf_counter()
    load = c.LoadSampler()

    c.log(f"making the store in {STORE} ({RUNS} runs, a model with 2 versions, an alert rule)")
    run_id = make_store(SRC, RUNS)
    commands = [*relay_commands("relayml", SRC, run_id), floor_command()]
    notes: list[str] = []
    base_sha = ""
    if args.baseline:
        src, base_sha = baseline_src(args.baseline)
        base_store = c.WORK_DIR / f"cli-store-{base_sha}"
        base_run = make_store(src, RUNS, base_store)
        commands += relay_commands(f"relayml {base_sha}", src, base_run, base_store)
    if MLFLOW.ready():
        commands += mlflow_commands()
        notes.append(
            f"MLflow {MLFLOW.spec[0].split('==')[-1]} from its own venv ({MLFLOW.path.name}), "
            "on an empty SQLite store of its own (its warm-up run creates the tables)."
        )
    else:
        notes.append(
            "MLflow is not installed in benchmarks/.work/mlflow-venv (benchmarks/tracking.py "
            "makes it): relayml's figures alone."
        )

    c.log(f"warm-up: one run of each of {len(commands)} commands")
    for command in commands:
        command.run_once()
    c.log(f"{reps} runs of each command, taking turns")
    for rep in range(reps):
        for command in commands:
            wall, cpu = command.run_once()
            command.wall.append(wall)
            command.cpu.append(cpu)
        c.log(f"round {rep + 1}/{reps} done")
    scratch = c.WORK_DIR / "cli-modules.json"
    for command in commands:
        if command.tool not in ("mlflow", "floor"):
            command.run_once(scratch)
            command.modules = json.loads(scratch.read_text())
    scratch.unlink(missing_ok=True)

    headers = ["tool", "command", "median", "mean ± sd", "min .. max", "CPU", "goal", "met"]
    rows = []
    for command in commands:
        median, mean, spread, low, high = stats(command.wall)
        met = "-" if command.goal is None else ("yes" if median < command.goal else "NO")
        rows.append([
            command.tool, command.label, ms(median), f"{ms(mean)} ± {ms(spread)}",
            f"{ms(low)} .. {ms(high)}", ms(c.median(command.cpu)),
            "-" if command.goal is None else f"< {ms(command.goal)}", met,
        ])  # fmt: skip
    module_rows = [
        [command.tool, command.label, ", ".join(command.modules or []) or "none of them"]
        for command in commands
        if command.modules is not None
    ]
    if args.baseline:
        ours = {cmd.label: c.median(cmd.wall) for cmd in commands if cmd.tool == "relayml"}
        theirs = {cmd.label: c.median(cmd.wall) for cmd in commands if cmd.tool != "relayml"}
        ratios = [f"{k} {theirs[k] / ours[k]:.2f}x" for k in ours if k in theirs]
        notes.append(f"speed-up against {base_sha} (its median / ours): " + ", ".join(ratios))
    floor = c.median(next(cmd for cmd in commands if cmd.tool == "floor").wall)
    above = {
        cmd.label: c.median(cmd.wall) - floor
        for cmd in commands
        if cmd.tool == "relayml" and cmd.goal == LIST_GOAL
    }
    notes.append(
        f"the floor, a process importing only SQLAlchemy, pydantic-settings, Typer and Rich (the "
        f"libraries the design names), took {ms(floor)}; relayml's lists and shows above it: "
        + ", ".join(f"{k} +{ms(v)}" for k, v in above.items())
    )
    notes.append(
        f"the store: {RUNS} runs (5 params, 5 metrics), model churn with 2 versions, 1 alert "
        f"rule, on SQLite in {STORE.relative_to(ROOT)}; each command is `python -c` running "
        "relayml.cli:main as the `relay` console script does, with PYTHONPATH on the src measured"
    )
    notes.append(load.stop())
    title = f"relay start-up, {reps} runs per command (subprocess wall time)"
    c.print_table(title, headers, rows)
    c.print_table("Libraries each command imported", ["tool", "command", "loaded"], module_rows)
    for note in notes:
        print(f"- {note}")
    if args.write_results:
        info = c.machine_info()
        versions = ", ".join(
            f"{name} {c.version_of(name)}" for name in ("typer", "rich", "pydantic", "sqlalchemy")
        )
        body = [
            f"## CLI start-up: relay commands as processes ({dt.date.today().isoformat()})",
            "",
            f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory']}, {info['os']}; "
            f"Python {info['python']}; {versions}. relayml {c.git_state()}. Command: "
            f"`python benchmarks/cli.py{' --quick' if args.quick else ''}"
            f"{f' --reps {args.reps}' if args.reps != 15 and not args.quick else ''}"
            f"{f' --baseline {args.baseline}' if args.baseline else ''} --write-results`; whole "
            f"run {c.fmt_seconds(time.perf_counter() - began)}.",
            "",
            c.markdown_table(headers, rows),
            "",
            "Libraries among " + ", ".join(HEAVY) + " that each command imported:",
            "",
            c.markdown_table(["tool", "command", "loaded"], module_rows),
            "",
            *[f"- {note}" for note in notes],
        ]
        c.write_results_section("cli", "\n".join(body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
