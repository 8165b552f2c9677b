"""A full disk: a short vector save keeps the old index and says so; a database write that fails says
"disk full" without a traceback, and status and search keep working; after space is freed the
next run completes. The small-filesystem test mounts a few-MB tmpfs (root only; skipped otherwise)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_documents import EN, RU

from hybridsearch.errors import HybridSearchError
from hybridsearch.library import Library

REPO = Path(__file__).resolve().parents[2]


def _docs(root: Path, n: int, start: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        (root / f"doc{i:03d}.txt").write_text(f"marker{i}word " + " ".join([EN, RU] * 20))
    return root


def test_a_short_vector_save_keeps_the_old_index_and_says_disk_full(tmp_path, tiny_encoder, monkeypatch):
    import hnswlib

    docs = _docs(tmp_path / "docs", 4)
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
        before = (tmp_path / "lib" / "vectors.hnsw").read_bytes()
        real_save = hnswlib.Index.save_index

        def short_save(self, path):  # what hnswlib did on a full disk: return normally, file cut
            real_save(self, path)
            with open(path, "r+b") as fh:
                fh.truncate(4096)

        monkeypatch.setattr(hnswlib.Index, "save_index", short_save)
        _docs(docs, 4, start=4)
        with pytest.raises(HybridSearchError, match="disk full"):
            lib.index()
        assert (tmp_path / "lib" / "vectors.hnsw").read_bytes() == before  # was renamed over it
        assert not list((tmp_path / "lib").glob("*.tmp"))
        monkeypatch.undo()
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.index()  # the next run re-embeds what the failed save lost
        st = lib.status()
        assert st["health"] == "ok" and st["documents"] == 8 and st["vectors"] == st["chunks"]


def test_a_failed_database_write_says_disk_full_not_cannot_rollback(tmp_path, tiny_encoder, monkeypatch):
    import sqlite3

    from hybridsearch import store as store_module

    docs = _docs(tmp_path / "docs", 3)
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
        real = store_module.Store.insert_chunks

        def full(self, *a, **kw):  # SQLite rolls the transaction back itself on SQLITE_FULL
            self.raw.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(store_module.Store, "insert_chunks", full)
        _docs(docs, 2, start=3)
        with pytest.raises(HybridSearchError, match="disk is full") as err:
            lib.index()
        assert "cannot rollback" not in str(err.value)
        monkeypatch.setattr(store_module.Store, "insert_chunks", real)
        assert lib.status()["documents"] == 3 and lib.search("marker1word", mode="lexical")


@pytest.fixture
def small_fs(tmp_path):
    """A 4 MB tmpfs mounted for the test (root only), unmounted after it."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root on Linux")
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"mount is not permitted here: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(mnt: Path, leave: int) -> Path:
    """Fill the filesystem, then free ``leave`` bytes."""
    filler = mnt / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave))
    return filler


@pytest.mark.slow  # five CLI runs (~90 s)
def test_a_full_small_filesystem_loses_nothing_and_reads_keep_working(tmp_path, small_fs, tiny_model_dir):
    docs = _docs(tmp_path / "docs", 6)
    lib_dir = small_fs / "lib"
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "hybridsearch", *map(str, args), "--library", lib_dir],
                              capture_output=True, text=True, env=env, timeout=300)

    r = cli("index", docs, "--model", tiny_model_dir)
    assert r.returncode == 0, r.stderr
    vectors_before = (lib_dir / "vectors.hnsw").read_bytes()
    _docs(docs, 60, start=6)  # far more than the space left
    filler = _fill(small_fs, leave=48 * 1024)
    r = cli("index", docs, "--model", tiny_model_dir)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert "disk" in r.stderr and "full" in r.stderr and "cannot rollback" not in r.stderr
    vec = lib_dir / "vectors.hnsw"
    assert vec.stat().st_size >= len(vectors_before) or vec.read_bytes() == vectors_before
    # reads keep working on the full disk
    r = cli("status", "--json")
    assert r.returncode == 0, r.stderr
    r = cli("search", "marker2word", "--model", tiny_model_dir, "--mode", "lexical", "--json")
    assert r.returncode == 0 and "doc002.txt" in r.stdout, r.stderr
    filler.unlink()
    r = cli("index", docs, "--model", tiny_model_dir)
    assert r.returncode == 0, r.stderr
    import json

    st = json.loads(cli("status", "--json").stdout)
    assert st["health"] == "ok" and st["documents"] == 66 and st["vectors"] == st["chunks"]
