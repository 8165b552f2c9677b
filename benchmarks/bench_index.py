"""Indexing and query performance: throughput, encoder share, latency, disk per chunk, peak memory.

Part 1 (ingestion): a generated multilingual corpus (sentences of XQuAD-R in 11 languages,
recombined into files of several paragraphs) is indexed with the real encoder through
``Library.index``; prints files/s, chunks/s, the share of time spent in the encoder, peak RSS
and bytes on disk per chunk beyond the text.

Part 2 (query latency): a library of ``--ann`` chunks (default 100,000): real texts in SQLite +
FTS5, and vectors made from real passage embeddings plus noise (embedding 100,000 chunks with
the real model takes hours on this CPU; the HNSW search cost depends on the count and
dimension, not on where the vectors came from). XQuAD questions are searched end to end
(query encoding included) in each mode; prints p50/p95 and bytes on disk per chunk.

    python -m benchmarks.bench_index --quick           # ~2,000 chunks, 20,000-vector ANN set
    python -m benchmarks.bench_index                   # >= 20,000 chunks, 100,000-vector ANN set
    python -m benchmarks.bench_index --skip-ingest --ann 100000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import LANGS, REPO, XQUAD_DIR


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 1e6


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return float("nan")


class RssSampler:
    """Samples the resident set size every 20 ms in a thread: the peak during one call
    (ru_maxrss would include the model-loading transient)."""

    def __init__(self):
        import threading

        self.peak = current_rss_mb()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, current_rss_mb())

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def sentences_by_lang() -> dict[str, list[str]]:
    out = {}
    for lang in LANGS:
        data = json.loads((XQUAD_DIR / f"{lang}.json").read_text(encoding="utf-8"))["data"]
        out[lang] = [s.strip() for art in data for p in art["paragraphs"] for s in p["sentences"] if s.strip()]
    return out


def generate_corpus(root: Path, n_files: int, seed: int = 0) -> Path:
    """Files of 2-6 paragraphs of 3-6 sentences, each file in one language (txt/md/html)."""
    rnd = random.Random(seed)
    sents = sentences_by_lang()
    for i in range(n_files):
        lang = LANGS[i % len(LANGS)]
        paras = ["".join((" " if lang not in ("zh", "th") else "") + rnd.choice(sents[lang])
                         for _ in range(rnd.randint(3, 6))).strip() for _ in range(rnd.randint(2, 6))]
        d = root / lang / f"d{i // 500:03}"
        d.mkdir(parents=True, exist_ok=True)
        kind = i % 10
        if kind == 8:
            (d / f"f{i:06}.html").write_text(
                "<html><head><title>Doc %d</title></head><body>%s</body></html>"
                % (i, "".join(f"<p>{p}</p>" for p in paras)), encoding="utf-8")
        elif kind == 9:
            (d / f"f{i:06}.md").write_text(f"# Doc {i}\n\n" + "\n\n".join(paras), encoding="utf-8")
        else:
            (d / f"f{i:06}.txt").write_text("\n\n".join(paras), encoding="utf-8")
    return root


def disk_per_chunk(libdir: Path, store) -> dict:
    files = sum(p.stat().st_size for p in libdir.iterdir() if p.is_file() and p.name != "library.lock")
    text = store.conn.execute("SELECT coalesce(sum(length(CAST(text AS BLOB))), 0), count(*) FROM chunks").fetchone()
    hnsw = sum(p.stat().st_size for p in libdir.glob("vectors.hnsw*"))
    return {"bytes_total": files, "text_bytes": text[0], "chunks": text[1], "hnsw_bytes": hnsw,
            "beyond_text_per_chunk": (files - text[0]) / max(1, text[1]),
            "hnsw_per_chunk": hnsw / max(1, text[1])}


def ingest(enc, n_files: int, tmp: Path) -> dict:
    from hybridsearch.library import Library

    folder = generate_corpus(tmp / "corpus", n_files)
    base_rss = current_rss_mb()
    with Library(tmp / "lib", encoder=enc) as lib:
        lib.add_folder(folder)
        t0 = time.perf_counter()
        with RssSampler() as mem:
            rep = lib.index()
        wall = time.perf_counter() - t0
        lib.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        disk = disk_per_chunk(tmp / "lib", lib.store)
    return {"files": rep.added, "chunks": rep.chunks_added, "seconds": wall,
            "files_per_s": rep.added / wall, "chunks_per_s": rep.chunks_added / wall,
            "encoder_share": rep.encode_seconds / wall, "rss_before_mb": base_rss,
            "peak_rss_mb": mem.peak, **disk}


def ann_library(enc, n: int, tmp: Path, questions: list[str]) -> dict:
    """Build an n-chunk library (real texts, synthetic-from-real vectors); time queries."""
    from hybridsearch.documents import Chunk, detect_language
    from hybridsearch.library import Library
    from hybridsearch.search import QUERY_VECTORS

    sents = sentences_by_lang()
    rnd = random.Random(1)
    np_rng = np.random.default_rng(1)
    pool_texts = [rnd.choice(sents[LANGS[i % len(LANGS)]]) for i in range(1000)]
    pool = enc.encode(pool_texts, kind="passage")
    folder = tmp / "annfolder"
    folder.mkdir()
    per_doc = 10
    t0 = time.perf_counter()
    with Library(tmp / "annlib", encoder=enc) as lib:
        lib.add_folder(folder)
        fid = lib.store.conn.execute("SELECT id FROM folders").fetchone()[0]
        lib.vectors.ensure(enc)
        for start in range(0, n, 5000):
            ids, vecs = [], []
            with lib.store.transaction() as st:
                for d in range(start // per_doc, min(n, start + 5000) // per_doc):
                    lang = LANGS[d % len(LANGS)]
                    texts = [" ".join(rnd.choice(sents[lang]) for _ in range(3)) for _ in range(per_doc)]
                    did = st.conn.execute(
                        "INSERT INTO documents (folder_id, path, file_type, title, size, mtime, status, language)"
                        " VALUES (?, ?, 'txt', ?, 1, ?, 'ok', ?)",
                        (fid, str(folder / f"{d:06}.txt"), f"doc {d}", time.time(), lang)).lastrowid
                    chunks, pos = [], 0
                    for t in texts:
                        chunks.append(Chunk(t, pos, pos + len(t), 60, lang))
                        pos += len(t) + 2
                    ids += st.insert_chunks(did, chunks)
            base = pool[np_rng.integers(0, len(pool), len(ids))]
            v = base + np_rng.normal(scale=0.02, size=base.shape).astype(np.float32)
            vecs = v / np.linalg.norm(v, axis=1, keepdims=True)
            with lib.lock:
                lib.vectors.add(vecs, ids)
        lib.vectors.checkpoint(force=True)
        lib.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        build_s = time.perf_counter() - t0
        disk = disk_per_chunk(tmp / "annlib", lib.store)
        del detect_language
        out = {"chunks": n, "build_s": build_s, **disk}
        # "-once": without cross-language feedback (one search of the vector index)
        for name in ("hybrid", "dense", "hybrid-once", "dense-once", "lexical"):
            mode, feedback = name.removesuffix("-once"), not name.endswith("-once")
            for q in questions[-5:]:  # warm-up (other queries than the timed ones)
                lib.search(q, mode=mode, feedback=feedback)
            QUERY_VECTORS.clear()  # time the query encoding in every mode
            lat = []
            for q in questions[:-5]:
                t = time.perf_counter()
                lib.search(q, k=10, mode=mode, feedback=feedback)
                lat.append(time.perf_counter() - t)
            lat.sort()
            out[f"{name}_p50_ms"] = statistics.median(lat) * 1000
            out[f"{name}_p95_ms"] = lat[int(0.95 * (len(lat) - 1))] * 1000
        enc_lat = []
        for q in questions:
            t = time.perf_counter()
            enc.encode([q], kind="query")
            enc_lat.append(time.perf_counter() - t)
        out["encode_query_p50_ms"] = statistics.median(enc_lat) * 1000
    return out


class HashEncoder:
    """Stand-in encoder for measuring everything but the model: the real tokenizer, vectors from
    a hash of the text (used with --fake-encoder to run the 20,000-chunk pipeline in minutes)."""

    def __init__(self, real):
        self.tokenizer, self.max_length, self.dim = real.tokenizer, real.max_length, real.dim
        self.identity, self.name = "hash-encoder-1", "hash-encoder"

    def encode(self, texts, kind="passage", **kw):
        import zlib

        out = np.empty((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            out[i] = np.random.default_rng(zlib.crc32(t.encode("utf-8"))).normal(size=self.dim)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="base")
    ap.add_argument("--quick", action="store_true", help="small corpus and ANN set (a few minutes)")
    ap.add_argument("--files", type=int, default=None, help="files in the ingestion corpus")
    ap.add_argument("--ann", type=int, default=None, help="chunks in the latency library")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-ann", action="store_true")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on this shared 2-core machine 2 threads thrash)")
    ap.add_argument("--fake-encoder", action="store_true",
                    help="ingestion with hash vectors instead of the model: measures the rest of the pipeline")
    args = ap.parse_args(argv)
    from hybridsearch.encoder import load_encoder

    files = args.files or (400 if args.quick else 4000)
    n_ann = args.ann or (20000 if args.quick else 100000)
    enc = load_encoder(args.model, device="cpu", threads=args.threads)
    en = json.loads((XQUAD_DIR / "en.json").read_text(encoding="utf-8"))["data"]
    qs = [qa["question"] for lang in ("en",) for art in en[28:36] for p in art["paragraphs"] for qa in p["qas"]]
    others = []
    for lang in ("ru", "zh", "th", "ar", "de"):
        data = json.loads((XQUAD_DIR / f"{lang}.json").read_text(encoding="utf-8"))["data"]
        others += [qa["question"] for art in data[28:36] for p in art["paragraphs"] for qa in p["qas"]]
    questions = random.Random(0).sample(qs + others, min(args.queries, len(qs) + len(others)))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not args.skip_ingest:
            r = ingest(HashEncoder(enc) if args.fake_encoder else enc, files, tmp)
            if args.fake_encoder:
                print("(hash encoder: the model is left out; 'encoder' time is the hashing)")
            print(f"ingestion: {r['files']} files, {r['chunks']} chunks in {r['seconds']:.1f} s: "
                  f"{r['files_per_s']:.1f} files/s, {r['chunks_per_s']:.1f} chunks/s, "
                  f"encoder {r['encoder_share'] * 100:.1f}% of the time")
            print(f"  memory: RSS {r['rss_before_mb']:.0f} MB before indexing (model loaded), peak while "
                  f"indexing {r['peak_rss_mb']:.0f} MB")
            print(f"  disk: {r['bytes_total'] / 1e6:.1f} MB for {r['chunks']} chunks, text {r['text_bytes'] / 1e6:.1f}"
                  f" MB; beyond the text {r['beyond_text_per_chunk']:.0f} B/chunk"
                  f" (hnsw {r['hnsw_per_chunk']:.0f} B/chunk)")
        if not args.skip_ann:
            r = ann_library(enc, n_ann, tmp, questions)
            print(f"latency library: {r['chunks']} chunks built in {r['build_s']:.0f} s; disk beyond the text "
                  f"{r['beyond_text_per_chunk']:.0f} B/chunk (hnsw {r['hnsw_per_chunk']:.0f} B/chunk)")
            for mode in ("hybrid", "dense", "hybrid-once", "dense-once", "lexical"):
                print(f"  {mode:>11}: p50 {r[mode + '_p50_ms']:.1f} ms, p95 {r[mode + '_p95_ms']:.1f} ms "
                      f"({len(questions)} queries, k=10, query encoding included)")
            print(f"  query encoding alone: p50 {r['encode_query_p50_ms']:.1f} ms")
            print(f"  peak RSS of the process: {rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
