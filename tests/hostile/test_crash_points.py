"""Crash injection at exact points (file rename, fsync, database commit) during ``index``, ``remove``
and ``reembed``: whatever point the process dies at, the library reopens consistent.

A "kill" here is an exception no code catches (BaseException), raised just before or just after
the N-th call of the point; the library is then abandoned as a killed process leaves it (its
uncommitted transaction is dropped by closing the connection, its lock released, nothing saved).
Invariants checked after reopening and letting the next ``index`` repair: SQLite integrity, FTS
rows = chunks, every chunk has exactly one vector, and it is the vector of the model the database
records (re-encoded and compared), and a known sentence is found in its file.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from test_documents import EN, RU

from hybridsearch import store as store_module
from hybridsearch.library import Library


class Killed(BaseException):
    """The process died here."""


@pytest.fixture(scope="module")
def second_encoder(tiny_model_dir, tmp_path_factory):
    """Another tiny model (other random weights, same size): a re-embed that mixes the two shows."""
    import torch
    from transformers import BertModel

    from hybridsearch.encoder import Encoder

    d = tmp_path_factory.mktemp("tiny-model-2")
    torch.manual_seed(1)
    model = BertModel.from_pretrained(str(tiny_model_dir))
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    model.save_pretrained(str(d), safe_serialization=True)
    shutil.copy(tiny_model_dir / "tokenizer.json", d / "tokenizer.json")
    (d / "hybridsearch.json").write_text(json.dumps({"name": "tiny-test-bert-2"}))
    return Encoder(d, device="cpu", max_length=128)


def _write_docs(folder: Path, names: range) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in names:
        (folder / f"doc{i:03d}.txt").write_text(f"marker{i}word " + " ".join([EN, RU] * (3 + i % 5)))


def _arm(monkeypatch, point: str, n: int, after: bool) -> dict:
    """Make the n-th call of ``point`` (replace, fsync, commit) raise :class:`Killed`."""
    seen = {"calls": 0, "fired": False}

    def wrap(real):
        def call(*a, **kw):
            seen["calls"] += 1
            hit = seen["calls"] == n
            if hit and not after:
                seen["fired"] = True
                raise Killed(point)
            out = real(*a, **kw)
            if hit and after:
                seen["fired"] = True
                raise Killed(point)
            return out
        return call

    if point == "replace":
        monkeypatch.setattr(os, "replace", wrap(os.replace))
    elif point == "fsync":
        monkeypatch.setattr(os, "fsync", wrap(os.fsync))
    else:  # the commit of a write transaction
        real_exit = store_module._Tx.__exit__

        def exit_(self, et, ev, tb):
            if et is not None:
                return real_exit(self, et, ev, tb)
            seen["calls"] += 1
            if seen["calls"] == n and not after:
                seen["fired"] = True
                self.store.lock.release()  # the connection is dropped uncommitted below
                raise Killed("commit")
            out = real_exit(self, et, ev, tb)
            if seen["calls"] == n and after:
                seen["fired"] = True
                raise Killed("commit")
            return out

        monkeypatch.setattr(store_module._Tx, "__exit__", exit_)
    return seen


def _abandon(lib: Library) -> None:
    """Leave the library as a killed process does: no save, transaction dropped, lock gone."""
    lib.store.raw.close()
    lib._file_lock.release()


def _check(lib_dir: Path, encoders: dict, docs: Path) -> None:
    con = sqlite3.connect(lib_dir / "library.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {r[0] for r in con.execute("SELECT id FROM chunks")}
        assert {r[0] for r in con.execute("SELECT id FROM chunks_fts_docsize")} == ids
        con.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        model = json.loads(con.execute("SELECT value FROM settings WHERE key = 'model_identity'").fetchone()[0])
    finally:
        con.close()
    enc = encoders[model]
    with Library(lib_dir, encoder=enc) as lib:
        lib.index()  # what the user does next: repairs what the kill left
        st = lib.status()
        assert st["health"] == "ok" and st["vectors"] == st["chunks"] > 0, st
        assert st["model_identity"] == model
        rows = lib.store.conn.execute("SELECT id, text FROM chunks ORDER BY id LIMIT 6").fetchall()
        stored = lib.vectors.ann.get([r[0] for r in rows])
        fresh = enc.encode([r[1] for r in rows], kind="passage")
        cos = np.sum(stored * fresh, axis=1) / (np.linalg.norm(stored, axis=1) * np.linalg.norm(fresh, axis=1))
        assert cos.min() > 0.999, f"vectors are not the recorded model's ({cos.min():.3f})"
        some = sorted(docs.glob("doc*.txt"))[1]
        hits = lib.search(some.read_text().split()[0], mode="hybrid", k=3)
        assert hits and hits[0].path == str(some)


POINTS = [("replace", 1, False), ("replace", 1, True), ("replace", 2, True), ("fsync", 1, False),
          ("fsync", 2, True), ("commit", 1, False), ("commit", 1, True), ("commit", 2, True)]
#: run by default (the points a non-atomic re-embed failed at, and one per other job); the rest
#: are marked slow (~2.5 s each)
DEFAULT = {("reembed", "replace", 1, True), ("reembed", "replace", 2, True), ("reembed", "commit", 1, False),
           ("reembed", "commit", 1, True), ("index", "commit", 1, True), ("remove", "replace", 1, True)}
CASES = [pytest.param(op, *pt, marks=() if (op, *pt) in DEFAULT else pytest.mark.slow)
         for op in ["index", "remove", "reembed"] for pt in POINTS if (op, *pt) != ("reembed", "commit", 2, True)]


@pytest.mark.parametrize("op,point,n,after", CASES)
def test_a_crash_at_any_point_leaves_one_consistent_library(tmp_path, tiny_encoder, second_encoder,
                                                              monkeypatch, op, point, n, after):
    docs, other = tmp_path / "docs", tmp_path / "other"
    _write_docs(docs, range(0, 6))
    _write_docs(other, range(100, 103))
    lib_dir = tmp_path / "lib"
    with Library(lib_dir, encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.add_folder(other)
        lib.index()
    _write_docs(docs, range(6, 10))  # work for the next index
    lib = Library(lib_dir, encoder=tiny_encoder)
    lib.add_folder(docs)  # takes the write lock (already a folder: no change)
    seen = _arm(monkeypatch, point, n, after)
    try:
        if op == "index":
            lib.index()
        elif op == "remove":
            lib.remove_folder(other)
        else:
            lib.reembed(encoder=second_encoder)
    except Killed:
        pass
    finally:
        monkeypatch.undo()
    if not seen["fired"]:
        lib.close()
        pytest.skip(f"{op} makes fewer than {n} {point} calls")
    _abandon(lib)
    _check(lib_dir, {tiny_encoder.identity: tiny_encoder, second_encoder.identity: second_encoder}, docs)


def test_a_kill_while_a_large_file_is_embedded_keeps_the_small_files_read_before_it(tmp_path, tiny_encoder,
                                                                                   monkeypatch):
    docs = tmp_path / "docs"
    _write_docs(docs, range(0, 3))
    (docs / "zz-large.txt").write_text(" ".join([EN] * 2500))  # ~ 500 chunks
    lib = Library(tmp_path / "lib", encoder=tiny_encoder)
    lib.add_folder(docs)
    real = type(tiny_encoder).encode

    def encode(self, texts, **kw):
        if len(texts) >= 256:  # the large file's chunks: the process dies during their encode
            raise Killed("encode")
        return real(self, texts, **kw)

    monkeypatch.setattr(type(tiny_encoder), "encode", encode)
    with pytest.raises(Killed):
        lib.index()
    monkeypatch.undo()
    _abandon(lib)
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        names = {Path(r[0]).name for r in lib.store.conn.execute("SELECT path FROM documents WHERE status = 'ok'")}
    # files are committed before they are embedded: a kill while the large file's chunks are
    # embedded keeps every file read (the small ones were lost with it when both were one batch)
    assert names == {"doc000.txt", "doc001.txt", "doc002.txt", "zz-large.txt"}
