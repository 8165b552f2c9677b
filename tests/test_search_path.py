"""Fast and light: the search path runs without torch, and a new folder is searchable at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO

from hybridsearch.library import Library
from hybridsearch.progress import CancelToken


def _folder(d, n: int):
    d.mkdir()
    for i in range(n):
        p = d / f"f{i:03}.txt"
        p.write_text(f"Document {i} about the harbour walrus{i:03}x and topic {i % 7}. " * 6, encoding="utf-8")
        os.utime(p, (1_600_000_000 + i, 1_600_000_000 + i))  # f299 is the most recently modified


def test_a_cli_search_in_a_fresh_process_imports_neither_torch_nor_transformers(tmp_path, tiny_model_dir):
    _folder(tmp_path / "docs", 5)
    lib_dir = tmp_path / "lib"
    common = ["--library", str(lib_dir), "--model", str(tiny_model_dir), "--device", "cpu"]
    # the first index exports the model for ONNX Runtime (with torch, once); later processes load it
    with Library(lib_dir, model=str(tiny_model_dir), device="cpu") as lib:
        lib.add_folder(tmp_path / "docs")
        lib.index()
    code = ("import io, json, sys, contextlib\n"
            "from hybridsearch.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    codes = [main(a) for a in json.loads(sys.argv[1])]\n"
            "print(json.dumps({'codes': codes, 'out': out.getvalue(),\n"
            "                  'loaded': [m for m in ('torch', 'transformers') if m in sys.modules]}))\n")
    runs = [["search", "harbour walrus003x", "--json", *common], ["status", "--library", str(lib_dir)],
            ["index", str(tmp_path / "docs"), *common]]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(runs)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["codes"] == [0, 0, 0]
    hits, _ = json.JSONDecoder().raw_decode(got["out"])
    assert hits and hits[0]["path"].endswith("f003.txt")
    assert got["loaded"] == [], "torch/transformers imported on the search path"
    assert "ONNX Runtime engine is unavailable" not in proc.stderr


def test_a_folder_is_keyword_searchable_before_its_vectors_are_done(tmp_path, tiny_encoder, tiny_model_dir,
                                                                  capsys):
    _folder(tmp_path / "docs", 300)
    token = CancelToken()
    stages = []

    def stop_when_embedding_starts(p):
        stages.append(p.stage)
        if p.stage == "embed" and p.done > 0:  # after the first batch of vectors
            token.cancel()

    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(tmp_path / "docs")
        rep = lib.index(cancel=token, on_progress=stop_when_embedding_starts)
        assert rep.cancelled and rep.added == 300
        assert stages.index("embed") > max(i for i, s in enumerate(stages) if s == "index")
        # every file is found by its keywords although most have no vector yet
        for i in (0, 150, 299):
            assert [os.path.basename(h.path) for h in lib.search(f"walrus{i:03}x", mode="lexical", k=1)] \
                == [f"f{i:03}.txt"]
        st = lib.status()
        assert st["keyword_indexed"] == 300 and 0 < st["embedded"] < 300
        assert st["embedding_eta_s"] is not None and st["embedding_eta_s"] > 0
        # the most recently modified files were embedded first
        embedded_docs = {r[0] for r in lib.store.conn.execute(
            "SELECT d.path FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN (%s)"
            % ",".join(map(str, lib.vectors.current.labels())))}
        newest = {str((tmp_path / "docs" / f"f{i:03}.txt").resolve()) for i in range(300 - len(embedded_docs), 300)}
        assert embedded_docs == newest
        # hybrid search still answers, fusing what is embedded with keywords over everything
        hits = lib.search("walrus010x harbour", k=3)
        assert hits and os.path.basename(hits[0].path) == "f010.txt"

    from hybridsearch.cli import main

    capsys.readouterr()
    assert main(["search", "walrus010x", "--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir),
                 "--json"]) == 0
    err = capsys.readouterr().err
    assert "not embedded yet" in err and "300 passages" in err

    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        rep = lib.index()  # resume: only the vectors are left to make
        assert rep.added == 0 and rep.chunks_embedded == 300 - st["embedded"]
        st = lib.status()
        assert st["embedded"] == st["keyword_indexed"] == 300 and st["health"] == "ok"
