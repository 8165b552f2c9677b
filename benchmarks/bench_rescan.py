"""Start-up rescan: ``Library.index()`` over a folder of unchanged files (target: 10,000 in <= 2 s).

At start-up the app rescans the library's folders in the background: every file is listed and
stat'ed, and only new or changed ones are read. This measures that rescan when nothing changed.

A library of ``--files`` small text files (default 10,000; XQuAD-R sentences, 100 files a
subfolder) is built once under ``--work``, indexed with the real tokenizer and chunker but hash
vectors stamped with the real model's identity (as :mod:`benchmarks.bench_fast` does), so the
build takes about half a minute instead of an hour. Then each run opens a new :class:`Library` on it (as after a
restart; the encoder is passed in, its loading is not timed) and times ``index()``; the page cache
is warm (one untimed run first). Prints every run and the median, and, from one run under
cProfile, where the time went.

    python -m benchmarks.bench_rescan --runs 5
    python -m benchmarks.bench_rescan --files 2000 --runs 3     # a smaller library
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

from benchmarks.common import LANGS

#: the functions whose cumulative time is reported, in the order they run
PHASES = [
    ("open the database", "store.py", "__init__"),
    ("check model / load vectors", "vectors.py", "ensure"),
    ("list and stat files", "documents.py", "walk"),
    ("scan: listing plus comparing with the database", "indexer.py", "_scan"),
    ("embedding phase (nothing to do)", "indexer.py", "repair"),
    ("save / compact vectors", "vectors.py", "checkpoint"),
]


def write_files(folder: Path, n: int, seed: int = 0) -> None:
    """``n`` text files of 2-4 XQuAD-R sentences, one language each, 100 files a subfolder."""
    from benchmarks.bench_index import sentences_by_lang

    rnd = random.Random(seed)
    sents = sentences_by_lang()
    for i in range(n):
        lang = LANGS[i % len(LANGS)]
        d = folder / f"d{i // 100:03}"
        if i % 100 == 0:
            d.mkdir(parents=True, exist_ok=True)
        text = " ".join(rnd.choice(sents[lang]) for _ in range(rnd.randint(2, 4)))
        (d / f"f{i:05}.txt").write_text(text, encoding="utf-8")


def hash_encoder(model: str):
    """The hash encoder of :mod:`benchmarks.bench_index`, with the real model's identity."""
    from benchmarks.bench_index import HashEncoder

    from hybridsearch.encoder import load_encoder

    real = load_encoder(model, device="cpu")
    fake = HashEncoder(real)
    fake.identity, fake.name = real.identity, real.name
    return fake


def build(lib_dir: Path, folder: Path, n: int, enc) -> None:
    from hybridsearch.library import Library

    t = time.perf_counter()
    write_files(folder, n)
    with Library(lib_dir, encoder=enc) as lib:
        lib.add_folder(folder)
        rep = lib.index()
    print(f"built a library of {rep.added} files, {rep.chunks_added} chunks in "
          f"{time.perf_counter() - t:.0f} s ({lib_dir})")


def rescan(lib_dir: Path, enc):
    """One restart: a new Library, ``index()`` on the unchanged folder -> (seconds, report)."""
    from hybridsearch.library import Library

    t = time.perf_counter()
    with Library(lib_dir, encoder=enc) as lib:
        rep = lib.index()
    return time.perf_counter() - t, rep


def phases(lib_dir: Path, enc) -> list[tuple[str, float]]:
    """Cumulative seconds of :data:`PHASES` in one rescan under cProfile (inflated by the profiler)."""
    prof = cProfile.Profile()
    prof.enable()
    total, _ = rescan(lib_dir, enc)
    prof.disable()
    stats = pstats.Stats(prof).stats
    out = [("total (profiled)", total)]
    for label, file, func in PHASES:
        cum = sum(v[3] for (f, _, name), v in stats.items() if f.endswith(file) and name == func)
        out.append((label, cum))
    walk, scan = out[3][1], out[4][1]
    out.insert(5, ("  of which comparing", scan - walk))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--model", default="default")
    ap.add_argument("--work", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "hybridsearch-bench-rescan"))
    args = ap.parse_args(argv)
    work = Path(args.work) / str(args.files)
    lib_dir, folder = work / "library", work / "docs"
    enc = hash_encoder(args.model)
    if not (lib_dir / "library.db").is_file():
        build(lib_dir, folder, args.files, enc)
    _, rep = rescan(lib_dir, enc)  # warm-up: page cache, imports
    assert rep.unchanged == args.files and not (rep.added or rep.updated or rep.removed), rep
    times = []
    for _ in range(args.runs):
        t, rep = rescan(lib_dir, enc)
        assert rep.unchanged == args.files and not (rep.added or rep.updated or rep.removed), rep
        times.append(t)
    med = statistics.median(times)
    print(f"rescan of {args.files} unchanged files: median {med:.2f} s "
          f"({args.files / med:,.0f} files/s)  runs {' '.join(f'{x:.2f}' for x in times)}")
    print("where the time goes (one run under cProfile, cumulative):")
    for label, sec in phases(lib_dir, enc):
        print(f"  {label:<48} {sec:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
