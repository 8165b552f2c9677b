"""Fast and light: cold ``hybridsearch search`` per engine, and time to keyword-searchable.

``cold-search``: a library of ``--chunks`` passages (default 20,000) is built once under
``--work``: XQuAD-R sentences in 11 languages joined into text files of ~5 chunks, indexed with the
real tokenizer and chunker but hash vectors stamped with the real model's identity (so the CLI
accepts the library and a search costs what it costs on a real one; embedding 20,000 chunks with
the model would take about half an hour on 2 cores). Then ``hybridsearch search`` runs in a new
process ``--runs`` times per engine, interleaved (``HYBRIDSEARCH_ENGINE=torch`` vs the default
ONNX Runtime), page cache warm; the time is the whole process, start to exit.

``keyword``: a folder of ``--files`` such files is indexed with the real model; the run stops
when the embedding phase starts, and the report's ``keyword_seconds`` says when every file was
keyword-searchable.

    python -m benchmarks.bench_fast cold-search --runs 5
    python -m benchmarks.bench_fast keyword --files 2000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def write_corpus(folder: Path, files: int, data: Path, sentences_per_file: int = 25) -> None:
    """``files`` text files of XQuAD-R sentences (about 5 chunks of 180 tokens each)."""
    from benchmarks.bench_encoder import load_sentences

    folder.mkdir(parents=True, exist_ok=True)
    sents = load_sentences(data, 100_000, seed=3)
    for i in range(files):
        start = (i * sentences_per_file) % max(1, len(sents) - sentences_per_file)
        (folder / f"doc{i:05}.txt").write_text(" ".join(sents[start:start + sentences_per_file]), encoding="utf-8")


def build_library(lib_dir: Path, folder: Path, model: str) -> int:
    from benchmarks.bench_index import HashEncoder

    from hybridsearch.encoder import load_encoder
    from hybridsearch.library import Library

    real = load_encoder(model, device="cpu")
    fake = HashEncoder(real)
    fake.identity, fake.name = real.identity, real.name  # the CLI searches it with the real model
    with Library(lib_dir, encoder=fake) as lib:
        lib.add_folder(folder)
        lib.index()
        return lib.status()["chunks"]


def cold_search(args) -> None:
    work = Path(args.work)
    lib_dir, folder = work / "library", work / "docs"
    if not (lib_dir / "library.db").is_file():
        write_corpus(folder, args.chunks // 5, Path(args.data))
        t = time.perf_counter()
        n = build_library(lib_dir, folder, args.model)
        print(f"built a library of {n} chunks in {time.perf_counter() - t:.0f} s ({lib_dir})")
    if args.runs == 0:  # --runs 0: build the library (and export the model) only
        from hybridsearch.encoder import load_encoder

        load_encoder(args.model, device="cpu")
        return
    cmd = [sys.executable, "-m", "hybridsearch", "search", args.query, "--library", str(lib_dir),
           "--model", args.model, "--k", "5"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    times = {"torch": [], "onnx": []}
    for engine in times:  # warm-up: exports the model once, fills the page cache
        subprocess.run(cmd, env={**env, "HYBRIDSEARCH_ENGINE": engine}, capture_output=True, check=True)
    for _ in range(args.runs):
        for engine in times:
            t = time.perf_counter()
            out = subprocess.run(cmd, env={**env, "HYBRIDSEARCH_ENGINE": engine}, capture_output=True, text=True)
            times[engine].append(time.perf_counter() - t)
            assert out.returncode == 0 and out.stdout.strip(), out.stderr[-1000:]
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"cold search, {k:>5}: median {med[k]:.2f} s  runs {' '.join(f'{x:.2f}' for x in v)}")
    print(f"torch / onnx: {med['torch'] / med['onnx']:.2f}x")


def keyword(args) -> None:
    from hybridsearch.library import Library
    from hybridsearch.progress import CancelToken

    work = Path(args.work)
    folder = work / f"kw-docs-{args.files}"
    if not folder.is_dir():
        write_corpus(folder, args.files, Path(args.data))
    lib_dir = work / f"kw-lib-{time.time_ns()}"
    token = CancelToken()

    def stop_at_embedding(p):
        if p.stage == "embed":
            token.cancel()

    with Library(lib_dir, model=args.model, device="cpu") as lib:
        lib.encoder  # loaded before the clock starts, as in the app
        lib.add_folder(folder)
        rep = lib.index(cancel=token, on_progress=stop_at_embedding)
        st = lib.status()
    print(f"{args.files} files, {st['keyword_indexed']} chunks keyword-searchable after "
          f"{rep.keyword_seconds:.1f} s ({st['keyword_indexed'] / rep.keyword_seconds:.0f} chunks/s)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["cold-search", "keyword"])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "xquad-r"))
    ap.add_argument("--model", default="default")
    ap.add_argument("--work", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "hybridsearch-bench-fast"))
    ap.add_argument("--chunks", type=int, default=20_000)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--query", default="когда была построена башня?")
    args = ap.parse_args(argv)
    cold_search(args) if args.what == "cold-search" else keyword(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
