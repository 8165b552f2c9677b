"""Start-up benchmark: cold start to the main window and to the first search result.

    python -m benchmarks.bench_startup --exe dist/hybridsearch/hybridsearch --runs 5
    python -m benchmarks.bench_startup --source --runs 5

Each run is a new process (Python, Qt, torch and the model are loaded afresh); the time is taken
from just before the process is started to the moment it prints the line that marks the event:

* **window**: ``hybridsearch --smoke-window`` (built app) or ``python -m hybridsearch.qt.smoke``
  (source) shows the main window offscreen and prints ``main window shown``;
* **first result**: ``hybridsearch search QUERY --library L --mode dense --k 1`` on a library of
  the self-test sample, indexed once beforehand; the time to its first line of output (the first
  result) — model load, query encoding and the search included.

The built app runs with a clean environment (``env -i PATH=/usr/bin:/bin HOME=<temp>``) from a
temporary working directory. Between runs nothing is cleared: the OS page cache keeps the files
warm after the first run (``--drop-caches`` drops it before every run where that is permitted,
i.e. as root outside containers). Prints each run and the medians; ``--json`` writes them too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO
from hybridsearch.cli.selftest import write_sample
QUERY = "How is bread baked in an oven?"


def drop_caches() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def time_until(cmd: list[str], marker: str | None, env: dict, cwd: Path, timeout: float = 300) -> float:
    """Seconds from starting ``cmd`` to its first output line containing ``marker`` (None: any)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                            text=True, encoding="utf-8", errors="replace")
    seen = None
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if seen is None and line.strip() and (marker is None or marker in line):
            seen = time.perf_counter() - t0
    proc.wait(timeout=timeout)
    if proc.returncode != 0 or seen is None:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{''.join(lines[-30:])}")
    return seen


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="cold start to the main window and to the first search result")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--exe", type=Path, help="the built executable (dist/hybridsearch/hybridsearch)")
    g.add_argument("--source", action="store_true", help="the source install (this Python)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--drop-caches", action="store_true", help="drop the OS page cache before each run")
    p.add_argument("--json", type=Path, help="also write the timings here")
    a = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="hybridsearch-bench-"))
    try:
        home = tmp / "home"
        home.mkdir()
        cwd = tmp / "cwd"
        cwd.mkdir()
        if a.exe:
            exe = str(a.exe.resolve())
            env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
            base = [exe]
            window_cmd = [exe, "--smoke-window"]
            what = f"built app {exe} (env -i)"
        else:
            env = dict(os.environ)
            env["HYBRIDSEARCH_HOME"] = str(home)  # converted base model: reuse the user's cache
            cache = Path(env.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hybridsearch" / "models"
            (home / "models").mkdir()
            for entry in (cache.iterdir() if cache.is_dir() else []):
                if not entry.name.startswith("."):
                    (home / "models" / entry.name).symlink_to(entry)
            base = [sys.executable, "-m", "hybridsearch"]
            window_cmd = [sys.executable, "-m", "hybridsearch.qt.smoke"]
            what = f"source install ({sys.executable})"
        env["QT_QPA_PLATFORM"] = "offscreen"
        env.setdefault("TOKENIZERS_PARALLELISM", "false")

        # a library of the self-test sample, indexed once (not timed)
        write_sample(tmp / "sample")
        lib = tmp / "library"
        subprocess.run(base + ["index", str(tmp / "sample"), "--library", str(lib)], env=env, cwd=cwd,
                       check=True, stdout=subprocess.DEVNULL)
        search_cmd = base + ["search", QUERY, "--library", str(lib), "--mode", "dense", "--k", "1"]

        print(f"{what}; {a.runs} runs each; page cache {'dropped' if a.drop_caches else 'kept'}")
        times: dict[str, list[float]] = {"window": [], "first_result": []}
        for i in range(a.runs):
            if a.drop_caches and not drop_caches():
                print("cannot drop the page cache here (not permitted); runs are warm-cache")
                a.drop_caches = False
            times["window"].append(time_until(window_cmd, "main window shown", env, cwd))
            if a.drop_caches:
                drop_caches()
            times["first_result"].append(time_until(search_cmd, None, env, cwd))
            print(f"run {i + 1}: main window {times['window'][-1]:.2f} s, "
                  f"first search result {times['first_result'][-1]:.2f} s", flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"median of {a.runs}: main window {med['window']:.2f} s, "
              f"first search result {med['first_result']:.2f} s")
        if a.json:
            a.json.write_text(json.dumps({"what": what, "runs": times, "median": med}, indent=2))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
