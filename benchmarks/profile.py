"""Dataset profile benchmark: relayml's profile of a table against pandas, same process, same data.

    python benchmarks/profile.py [--quick] [--reps 3] [--write-results]

One table of 1,000,000 rows x 25 columns (--quick: 100,000 rows), built once from a fixed seed:
12 float64 and 8 int64 columns of varied distributions, and 5 string columns of 5 to 50 distinct
values (skewed frequencies), no nulls. relayml profiles the pyarrow Table with profile_table (per
number: count, nulls, distinct, min, max, mean, std, 7 quantiles, a 20-bin histogram; per string:
distinct, top 10, lengths); its content_hash is timed on its own. The yardstick is pandas on the
same data as a DataFrame (table.to_pandas(): float64, int64 and pandas' default `str` columns):
df.describe(include="all") plus value_counts() of every column, of which the number of values
and the top 10 are kept (what a profile keeps; the full counts are dropped column by column).

Each measurement runs in a child forked from this process after the data is built, so every one
starts from the same memory state with the data resident. Wall time is timed in the child around
the call. Peak memory above the data: the child resets the kernel's high-water mark of its
resident set (writes 5 to /proc/self/clear_refs), then reports VmHWM at the end minus VmRSS at
the start (/proc/self/status). That sees every allocation that becomes resident (Arrow's mimalloc,
numpy, Python objects), which tracemalloc does not; where clear_refs cannot be written, a thread
in the child samples the RSS with psutil every millisecond instead (and the notes say so).
relayml and pandas alternate; medians of 3.

(This file shadows the standard library's `profile` module for the script itself; nothing it
imports uses that module.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import math
import os
import pickle
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

SEED = 42
ROWS = 1_000_000
QUICK_ROWS = 100_000
FLOATS = 12
INTS = 8
# string columns and their number of distinct values
CATEGORIES = {"segment": 5, "channel": 8, "plan": 20, "region": 35, "city": 50}
TOP = 10  # values kept per column (relayml's TOP_VALUES)
WARMUP_ROWS = 2_000
MiB = 2**20
CLEAR_REFS = Path("/proc/self/clear_refs")
SAMPLE_EVERY = 0.001  # seconds, psutil fallback only


# ---------------------------------------------------------------- the data


def build_table(rows: int, seed: int = SEED) -> Any:
    """The benchmark table: 12 float64, 8 int64 and 5 string columns, from one seeded generator."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i in range(FLOATS):
        kind = i % 4
        if kind == 0:
            values = rng.normal(0.0, 1.0, rows)
        elif kind == 1:
            values = rng.lognormal(3.0, 1.0, rows)
        elif kind == 2:
            values = rng.uniform(-1000.0, 1000.0, rows)
        else:  # prices in cents: many repeated values
            values = np.round(rng.normal(100.0, 15.0, rows), 2)
        columns[f"f{i:02d}"] = values
    for i in range(INTS):
        kind = i % 4
        if kind == 0:  # ids: nearly all distinct
            values = rng.integers(0, 1_000_000_000, rows, dtype=np.int64)
        elif kind == 1:  # small counts
            values = rng.poisson(3.0, rows).astype(np.int64)
        elif kind == 2:
            values = rng.integers(0, 1_000, rows, dtype=np.int64)
        else:
            values = rng.integers(-1_000_000, 1_000_000, rows, dtype=np.int64)
        columns[f"i{i:02d}"] = values
    for name, distinct in CATEGORIES.items():
        weights = 1.0 / np.arange(1, distinct + 1)  # Zipf-like: a few values dominate
        codes = rng.choice(distinct, size=rows, p=weights / weights.sum()).astype(np.int32)
        labels = pa.array([f"{name}_{j:02d}" for j in range(distinct)], type=pa.string())
        columns[name] = pa.DictionaryArray.from_arrays(pa.array(codes), labels).cast(pa.string())
    return pa.table(columns)


# ---------------------------------------------------------------- the work measured


def relay_profile(table: Any) -> Any:
    from relayml.data.profile import profile_table

    return profile_table(table)


def relay_hash(table: Any) -> Any:
    from relayml.data.canonical import content_hash

    return content_hash(table)


def pandas_profile(df: Any) -> Any:
    """describe(include="all") and every column's value_counts (its length and top 10 kept)."""
    described = df.describe(include="all")
    counts = {}
    for name in df.columns:
        counted = df[name].value_counts()
        counts[name] = (len(counted), counted.head(TOP))
    return described, counts


def summary_of_relay(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The figures both sides compute, from relayml's profile."""
    out: dict[str, dict[str, Any]] = {}
    for name, col in profile["columns"].items():
        item: dict[str, Any] = {"count": col["count"], "distinct": col["distinct"]}
        if col["kind"] == "numeric":
            q = col["quantiles"]
            item.update(
                min=float(col["min"]),
                max=float(col["max"]),
                mean=col["mean"],
                std=col["std"],
                p25=q["p25"],
                p50=q["p50"],
                p75=q["p75"],
            )
        else:
            item["top"] = [(t["value"], t["count"]) for t in col["top"]]
        out[name] = item
    return out


def summary_of_pandas(result: Any) -> dict[str, dict[str, Any]]:
    """The same figures, from describe() and value_counts()."""
    described, counts = result
    out: dict[str, dict[str, Any]] = {}
    for name in described.columns:
        d = described[name]
        distinct, top = counts[name]
        item: dict[str, Any] = {"count": int(d["count"]), "distinct": int(distinct)}
        if name in CATEGORIES:
            item["top"] = [(str(v), int(n)) for v, n in top.items()]
        else:
            item.update(
                min=float(d["min"]),
                max=float(d["max"]),
                mean=float(d["mean"]),
                std=float(d["std"]),
                p25=float(d["25%"]),
                p50=float(d["50%"]),
                p75=float(d["75%"]),
            )
        out[name] = item
    return out


def differences(relay: dict[str, Any], pandas: dict[str, Any]) -> list[str]:
    """Where the two summaries disagree (means and std to 1e-9 relative, the rest exactly)."""
    found = []
    for name, mine in relay.items():
        theirs = pandas.get(name)
        if theirs is None:
            found.append(f"{name}: missing in pandas")
            continue
        for key, value in mine.items():
            other = theirs.get(key)
            if isinstance(value, float) and isinstance(other, float):
                tol = 1e-9 if key in ("mean", "std") else 0.0
                same = math.isclose(value, other, rel_tol=tol, abs_tol=tol)
            elif key == "top":
                # ties in the top 10 may come in either order
                same = sorted(value) == sorted(other) and [n for _, n in value] == [
                    n for _, n in other
                ]
            else:
                same = value == other
            if not same:
                found.append(f"{name}.{key}: relayml {value!r}, pandas {other!r}")
    return found


# ---------------------------------------------------------------- one measurement, in a child


def _status_bytes(field: str) -> int:
    """A 'kB' line of /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def hwm_resettable() -> bool:
    """Whether this kernel lets a process reset its peak RSS (VmHWM) through clear_refs."""
    try:
        CLEAR_REFS.write_text("5")
        _status_bytes("VmHWM")
    except (OSError, RuntimeError):
        return False
    return True


class RssSampler:
    """The psutil fallback: the highest RSS seen by a thread sampling every millisecond."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(SAMPLE_EVERY)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self._process.memory_info().rss)


def _in_child(work: Callable[[], Any], summarize: Callable[[Any], Any], hwm: bool) -> dict:
    if hwm:
        CLEAR_REFS.write_text("5")  # VmHWM := VmRSS now
        start = _status_bytes("VmRSS")
    else:
        sampler = RssSampler()
        start = sampler.peak
    began = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - began
    peak = _status_bytes("VmHWM") if hwm else sampler.stop()
    return {"seconds": seconds, "above": peak - start, "start": start, "summary": summarize(result)}


def measure(work: Callable[[], Any], summarize: Callable[[Any], Any], hwm: bool) -> dict:
    """Run work() in a forked child: its wall seconds, peak bytes above its start, a summary."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read_end)
            reply = _in_child(work, summarize, hwm)
        except BaseException:
            reply, code = {"error": traceback.format_exc()}, 1
        try:
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(reply, out)
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f"the measuring child died (wait status {status})")
    reply: dict = pickle.loads(data)
    if "error" in reply:
        raise RuntimeError(f"the measuring child failed:\n{reply['error']}")
    return reply


# ---------------------------------------------------------------- formatting


def _sig(x: float) -> str:
    """About 3 significant digits: 12.3 / 1.23 / 0.123."""
    if x == 0 or abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{2 - math.floor(math.log10(abs(x)))}f}"


def fmt_mib(value: float) -> str:
    return f"{value / MiB:,.1f} MiB"


def speed_words(pandas_over_relay: float) -> str:
    if pandas_over_relay >= 1:
        return f"{_sig(pandas_over_relay)}x faster"
    return f"{_sig(1 / pandas_over_relay)}x slower"


def memory_words(relay_over_pandas: float) -> str:
    if relay_over_pandas <= 1:
        return f"{_sig(1 / relay_over_pandas)}x less memory" if relay_over_pandas else "no memory"
    return f"{_sig(relay_over_pandas)}x more memory"


HEADERS = ["figure", "relayml", "pandas", "ratio", "ratio is", "relayml is"]
DETAIL_HEADERS = ["measurement", "tool", "each", "median"]


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows (smoke test)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per side (default 3)")
    parser.add_argument(
        "--write-results",
        action="store_true",
        help="update the profile section of benchmarks/RESULTS.md",
    )
    args = parser.parse_args(argv)
    if not hasattr(os, "fork"):
        parser.error("this benchmark forks a child per measurement: it needs Linux or macOS")
    rows = QUICK_ROWS if args.quick else ROWS
    began = time.perf_counter()
    load = c.LoadSampler()

    import numpy as np
    import pandas as pd
    import pyarrow as pa

    c.log(f"building {rows:,} rows x {FLOATS + INTS + len(CATEGORIES)} columns (seed {SEED})")
    with c.clock() as t_build:
        table = build_table(rows)
        df = table.to_pandas()
    kinds = sorted({str(d) for d in df.dtypes})
    table_bytes = table.nbytes
    frame_bytes = int(df.memory_usage(deep=True).sum())
    c.log(
        f"built in {c.fmt_seconds(t_build[0])}: Arrow table {fmt_mib(table_bytes)}, DataFrame "
        f"{fmt_mib(frame_bytes)} (dtypes {', '.join(kinds)})"
    )

    # warm up on a small slice (lazy imports, kernel registration), then keep the heap as it is
    small_table, small_df = table.slice(0, WARMUP_ROWS), df.head(WARMUP_ROWS)
    warm = differences(
        summary_of_relay(relay_profile(small_table)),
        summary_of_pandas(pandas_profile(small_df)),
    )
    relay_hash(small_table)
    del small_table, small_df
    gc.collect()
    gc.freeze()  # the children do not walk (and copy) the parent's objects
    hwm = hwm_resettable()
    method = (
        "VmHWM (the kernel's peak RSS, reset through clear_refs) minus VmRSS at start"
        if hwm
        else "psutil RSS sampled every 1 ms by a thread (which slows the work a little) minus "
        "RSS at start"
    )
    c.log(f"memory: {method}")

    sides: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {
        "relay": (lambda: relay_profile(table), summary_of_relay),
        "pandas": (lambda: pandas_profile(df), summary_of_pandas),
        "hash": (lambda: relay_hash(table), lambda digest: digest),
    }
    samples: dict[str, list[dict]] = {key: [] for key in sides}
    for rep in range(args.reps):
        for key, (work, summarize) in sides.items():
            sample = measure(work, summarize, hwm)
            samples[key].append(sample)
            c.log(
                f"rep {rep + 1}/{args.reps} {key}: {c.fmt_seconds(sample['seconds'])}, "
                f"peak {fmt_mib(sample['above'])} above {fmt_mib(sample['start'])}"
            )

    def med(key: str, field: str) -> float:
        return c.median([s[field] for s in samples[key]])

    r_time, p_time, h_time = (
        med("relay", "seconds"),
        med("pandas", "seconds"),
        med("hash", "seconds"),
    )
    r_mem, p_mem, h_mem = med("relay", "above"), med("pandas", "above"), med("hash", "above")
    time_ratio = p_time / r_time
    mem_ratio = r_mem / p_mem if p_mem else float("nan")
    rows_out = [
        [
            "profile: wall time",
            c.fmt_seconds(r_time),
            c.fmt_seconds(p_time),
            _sig(time_ratio),
            "pandas/relay time",
            speed_words(time_ratio),
        ],
        [
            "profile: peak memory above the data",
            fmt_mib(r_mem),
            fmt_mib(p_mem),
            _sig(mem_ratio),
            "relay/pandas memory",
            memory_words(mem_ratio),
        ],
        ["content_hash: wall time", c.fmt_seconds(h_time), "-", "-", "-", "-"],
        ["content_hash: peak memory above the data", fmt_mib(h_mem), "-", "-", "-", "-"],
        [
            "profile + content_hash: wall time",
            c.fmt_seconds(r_time + h_time),
            c.fmt_seconds(p_time),
            _sig(p_time / (r_time + h_time)),
            "pandas/relay time",
            speed_words(p_time / (r_time + h_time)),
        ],
    ]
    labels = {
        "relay": ("profile_table", "relayml"),
        "pandas": ("describe + value_counts", "pandas"),
        "hash": ("content_hash", "relayml"),
    }
    details = []
    for key, (what, tool) in labels.items():
        times = [s["seconds"] for s in samples[key]]
        peaks = [s["above"] for s in samples[key]]
        details.append(
            [
                f"{what}: time",
                tool,
                ", ".join(c.fmt_seconds(v) for v in times),
                c.fmt_seconds(c.median(times)),
            ]
        )
        details.append(
            [
                f"{what}: peak above the data",
                tool,
                ", ".join(fmt_mib(v) for v in peaks),
                fmt_mib(c.median(peaks)),
            ]
        )

    # the two sides found the same figures; the hash did not change
    diffs = differences(samples["relay"][0]["summary"], samples["pandas"][0]["summary"])
    digests = {s["summary"] for s in samples["hash"]}
    starts = [s["start"] for key in samples for s in samples[key]]
    cores = os.cpu_count() or 1
    notes = [
        f"data: {rows:,} rows x {FLOATS + INTS + len(CATEGORIES)} columns ({FLOATS} float64, "
        f"{INTS} int64, {len(CATEGORIES)} strings of {min(CATEGORIES.values())}-"
        f"{max(CATEGORIES.values())} distinct values), seed {SEED}, no nulls; Arrow table "
        f"{fmt_mib(table_bytes)}, DataFrame from table.to_pandas() {fmt_mib(frame_bytes)} "
        f"(dtypes {', '.join(kinds)}). Both held by the parent process, built once in "
        f"{c.fmt_seconds(t_build[0])}.",
        "relayml: profile_table(table) on the pyarrow Table as built (already canonical: plain "
        f"string columns); it profiles columns on min(4, cores) = {min(4, cores)} threads. "
        "pandas: df.describe(include='all'), then value_counts() of each column in turn, "
        f"keeping its length and head({TOP}); one column after another.",
        f"memory: {method}, one child per measurement, forked after the data was built and a "
        f"warm-up on {WARMUP_ROWS:,} rows (lazy imports); RSS of the children at start "
        f"{fmt_mib(min(starts))}-{fmt_mib(max(starts))} (the data and the interpreter).",
        f"order of each repetition: relayml profile, pandas, content_hash; medians of {args.reps}.",
        "the same figures (count, distinct, min, max, p25, p50, p75 exactly; mean, std to 1e-9; "
        f"top {TOP} values and counts of the strings): "
        + ("yes" if not diffs and not warm else "NO: " + "; ".join((warm + diffs)[:5])),
        f"content_hash {next(iter(digests))[:16]}…, the same in every repetition: "
        + ("yes" if len(digests) == 1 else "NO"),
        "relayml computes more than the yardstick (p01..p99, a histogram, string lengths); "
        "pandas' describe computes its quantiles with np.quantile (a partition), relayml sorts "
        "each number column once (quantiles, distinct values and histogram from the sorted copy).",
        load.stop() + ".",
    ]
    seconds = time.perf_counter() - began
    versions = (
        f"relayml {c.version_of('relayml')}, pyarrow {pa.__version__}, pandas {pd.__version__}, "
        f"numpy {np.__version__}"
    )
    c.print_table("Repetitions", DETAIL_HEADERS, details)
    c.print_table(
        f"Dataset profile, {rows:,} x {FLOATS + INTS + len(CATEGORIES)}: {versions}",
        HEADERS,
        rows_out,
    )
    for note in notes:
        print(f"- {note}")
    print(f"- whole run: {c.fmt_seconds(seconds)}")
    if args.write_results:
        info = c.machine_info()
        body = [
            f"## Dataset profile: relayml vs pandas ({dt.date.today().isoformat()})",
            "",
            f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory']}, {info['os']}; "
            f"Python {info['python']}. {versions}; relayml {c.git_state()}. Same process, same "
            f"data. Command: `python benchmarks/profile.py {' '.join(sys.argv[1:])}`; whole run "
            f"{c.fmt_seconds(seconds)}. Medians of {args.reps} repetitions, relayml and pandas "
            "alternating.",
            "",
            c.markdown_table(HEADERS, rows_out),
            "",
            *[f"- {note}" for note in notes],
            "",
            "<details><summary>Every repetition</summary>",
            "",
            c.markdown_table(DETAIL_HEADERS, details),
            "",
            "</details>",
        ]
        c.write_results_section("profile", "\n".join(body))
        c.log(f"wrote {c.RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
