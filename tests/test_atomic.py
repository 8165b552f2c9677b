"""Directories written atomically: what a killed writer leaves is removed; a live writer is left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hybridsearch import atomic

#: A writer in another process: fills the temporary directory, says so, then waits for ``go``.
WRITER = """
import sys, time
from pathlib import Path
from hybridsearch import atomic
target, started, go = map(Path, sys.argv[1:4])
def write(tmp):
    (tmp / "weights.bin").write_bytes(b"x" * 1_000_000)
    started.touch()
    while not go.exists():
        time.sleep(0.05)
atomic.write_dir(target, write)
"""


def _start_writer(tmp_path: Path, target: Path) -> tuple[subprocess.Popen, Path]:
    started, go = tmp_path / "started", tmp_path / "go"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(started), str(go)],
                            cwd=Path(__file__).resolve().parents[1])
    deadline = time.monotonic() + 60
    while not started.exists():
        assert proc.poll() is None, "the writer died before it wrote"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc, go


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_what_a_killed_writer_left_is_removed_by_the_next_write(tmp_path):
    cache = tmp_path / "engine"
    cache.mkdir()
    atomic.write_dir(cache / "model-a", lambda d: (d / "engine.json").write_text("{}"))
    proc, _ = _start_writer(tmp_path, cache / "model-b")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = [p for p in cache.iterdir() if p.is_dir() and p.name.startswith(".model-b.")]
    assert len(left) == 1 and (left[0] / "weights.bin").stat().st_size == 1_000_000

    atomic.write_dir(cache / "model-c", lambda d: (d / "engine.json").write_text("{}"))

    assert _hidden(cache) == []  # the half-written export and its lock are gone
    assert sorted(p.name for p in cache.iterdir()) == ["model-a", "model-c"]
    assert (cache / "model-a" / "engine.json").read_text() == "{}"


def test_a_write_in_progress_elsewhere_is_left_alone(tmp_path):
    cache = tmp_path / "engine"
    cache.mkdir()
    proc, go = _start_writer(tmp_path, cache / "model-b")
    try:
        atomic.remove_abandoned(cache)
        atomic.write_dir(cache / "model-c", lambda d: (d / "engine.json").write_text("{}"))
        assert any(p.is_dir() and p.name.startswith(".model-b.") for p in cache.iterdir())
    finally:
        go.touch()
    assert proc.wait(timeout=60) == 0
    assert (cache / "model-b" / "weights.bin").stat().st_size == 1_000_000
    assert _hidden(cache) == []


def test_a_failed_write_leaves_nothing_and_keeps_the_old_directory(tmp_path):
    target = tmp_path / "index"
    atomic.write_dir(target, lambda d: (d / "v").write_text("1"))

    def fail(d):
        (d / "v").write_text("2")
        raise OSError(28, "No space left on device")
    try:
        atomic.write_dir(target, fail)
    except OSError:
        pass
    assert (target / "v").read_text() == "1"
    assert _hidden(tmp_path) == []


def test_leftovers_of_writers_without_lock_files_go_once_they_are_old(tmp_path):
    """Exports killed under earlier versions (no lock file) are removed after an hour unchanged."""
    old, recent = tmp_path / ".model-a-onnx.k2j4_x9q", tmp_path / ".model-b-onnx.p0o9i8u7"
    for d in (old, recent):
        d.mkdir()
        (d / "model.onnx").write_bytes(b"x" * 1000)
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    (tmp_path / ".model-c.old").mkdir()  # not a temporary directory of a write: kept

    atomic.remove_abandoned(tmp_path)
    assert old.exists()  # without the age rule nothing but locked-writer leftovers goes
    atomic.remove_abandoned(tmp_path, unlocked_after=3600)
    assert _hidden(tmp_path) == [".model-b-onnx.p0o9i8u7", ".model-c.old"]
