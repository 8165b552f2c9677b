"""kill -9 a real ``hybridsearch index`` run at random points, several times, then finish it:
every file indexed exactly once, no duplicate chunks, one vector per chunk."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

from hybridsearch.library import Library

N_FILES = 800
WORDS = ("river mountain forest harbour castle meadow glacier canyon island valley desert lagoon "
         "Москва Берлин 北京 東京 กรุงเทพ Αθήνα").split()


def _corpus(d):
    rnd = random.Random(7)
    d.mkdir()
    for i in range(N_FILES):
        paras = []
        for p in range(3):
            words = [rnd.choice(WORDS) for _ in range(60)]
            paras.append(" ".join(words) + ".")
        # a unique marker word per file: finds it again after all the kills
        (d / f"doc{i:03}.txt").write_text(f"marker{i:03}x\n\n" + "\n\n".join(paras), encoding="utf-8")


def _count(db, sql):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_kill_9_during_indexing_then_resume(tmp_path, tiny_model_dir):
    docs = tmp_path / "docs"
    _corpus(docs)
    libdir = tmp_path / "lib"
    db = libdir / "library.db"
    cmd = [sys.executable, "-m", "hybridsearch", "index", str(docs), "--library", str(libdir),
           "--model", str(tiny_model_dir), "--device", "cpu", "--threads", "1"]
    env = {**os.environ, "HYBRIDSEARCH_CHECKPOINT_S": "0.3"}  # checkpoints happen between kills
    rnd = random.Random(int(os.environ.get("KILL_SEED", "12345")))
    done_at_kill = []
    for attempt in range(10):
        if sum(0 < n < N_FILES for n in done_at_kill) >= 3:
            break
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = _count(db, "SELECT count(*) FROM documents")
        target = before + rnd.randint(1, 60)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if _count(db, "SELECT count(*) FROM documents") >= target:
                break
            time.sleep(0.01)
        time.sleep(rnd.random() * 0.15)  # land anywhere: mid-batch, mid-commit, mid-checkpoint
        if proc.poll() is not None:
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        done_at_kill.append(_count(db, "SELECT count(*) FROM documents"))
    print("documents committed at each kill:", done_at_kill)
    assert sum(0 < n < N_FILES for n in done_at_kill) >= 3, done_at_kill
    # kills in the embedding phase: with the vectors lost (as if killed before the first
    # checkpoint), a run has every chunk to embed again, from the database alone
    (libdir / "vectors.hnsw").unlink(missing_ok=True)
    for _ in range(2):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2 + rnd.random() * 2)
        if proc.poll() is not None:
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # the final, uninterrupted run finishes the job
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]

    with Library(libdir) as lib:
        st = lib.status()
        assert st["documents"] == N_FILES and st["failed"] == 0
        assert st["health"] == "ok" and st["vectors"] == st["chunks"], st
        c = lib.store.conn
        assert c.execute("SELECT count(DISTINCT path) FROM documents").fetchone()[0] == N_FILES
        dup = c.execute("SELECT count(*) FROM (SELECT document_id, ordinal FROM chunks GROUP BY 1, 2"
                        " HAVING count(*) > 1)").fetchone()[0]
        assert dup == 0
        # ordinals are 0..n-1 per document: no leftovers of an interrupted batch
        bad = c.execute("SELECT count(*) FROM (SELECT document_id FROM chunks GROUP BY document_id"
                        " HAVING max(ordinal) + 1 != count(*))").fetchone()[0]
        assert bad == 0
        assert sorted(lib.vectors.ann.labels()) == sorted(lib.store.chunk_ids())
        for i in rnd.sample(range(N_FILES), 10):
            hits = lib.search(f"marker{i:03}x", mode="lexical", k=2)
            assert [os.path.basename(h.path) for h in hits] == [f"doc{i:03}.txt"]
