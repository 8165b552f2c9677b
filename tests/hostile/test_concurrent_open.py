"""Two processes that open a new library at the same instant: neither may call it damaged."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OPEN = ("import sys, time\n"
        "from hybridsearch.store import Store\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "Store(sys.argv[1]).close()\n")


def test_two_processes_creating_one_library_at_once_both_succeed(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    failures = []
    for round_ in range(12):
        db = tmp_path / f"lib{round_}" / "library.db"
        start = time.time() + 0.8  # both are imported and waiting by then
        procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(db), str(start)], env=env,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for p in procs:
            err = p.communicate(timeout=60)[1]
            if p.returncode != 0:
                failures.append(err.strip().splitlines()[-1])
    assert not failures, failures
