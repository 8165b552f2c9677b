"""Inference engines side by side: torch (the trainer's runtime), ONNX Runtime fp32, CTranslate2.

For each engine: load time in this process (the export/conversion is done before timing), single
query latency p50, passages/s on ~180-token chunks (medians of ``--rounds`` interleaved rounds),
and the cosine of its vectors to torch's. All in one process, so the ratios are comparable.

    python -m benchmarks.bench_engines --model base --threads 2            # a few minutes on 2 cores
    python -m benchmarks.bench_engines --model base --threads 2 --quick

CTranslate2 converts only standalone model directories (no overlays), so it is measured on
``base`` (or any standalone directory).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


class CT2Encoder:
    """CTranslate2's BERT encoder behind the same tokenising and pooling as the app's engines."""

    def __init__(self, like, model_dir: Path, out: Path, compute_type: str, threads: int | None):
        import ctranslate2

        if not (out / "model.bin").is_file():
            ctranslate2.converters.TransformersConverter(str(model_dir)).convert(str(out), force=True)
        self.like = like
        self.enc = ctranslate2.Encoder(str(out), device="cpu", compute_type=compute_type,
                                       intra_threads=threads or 0)

    def encode(self, texts, kind="passage", batch_size=32):
        ids = self.like.tokenize(texts, kind)
        order = np.argsort([len(x) for x in ids], kind="stable")
        out = np.zeros((len(ids), self.like.dim), dtype=np.float32)
        for s in range(0, len(ids), batch_size):
            idx = order[s:s + batch_size]
            batch = [ids[i] for i in idx]
            hidden = np.array(self.enc.forward_batch(batch).last_hidden_state)
            lens = np.array([len(x) for x in batch])
            mask = (np.arange(hidden.shape[1])[None, :] < lens[:, None]).astype(np.float32)[:, :, None]
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "xquad-r"))
    ap.add_argument("--model", default="base")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-ct2", action="store_true")
    args = ap.parse_args(argv)

    from benchmarks.bench_encoder import load_sentences, make_chunks

    from hybridsearch.encoder import Encoder, resolve_model
    from hybridsearch.encoder.onnx_engine import OnnxEncoder, ensure_exported
    from hybridsearch.encoder.runtime import model_files

    model_dir = resolve_model(args.model)
    ensure_exported(model_files(model_dir))  # the one-time export is not part of the load time
    engines, load_s = {}, {}
    t = time.perf_counter()
    engines["torch fp32"] = Encoder(model_dir, device="cpu", threads=args.threads)
    load_s["torch fp32"] = time.perf_counter() - t
    t = time.perf_counter()
    engines["onnxruntime fp32"] = OnnxEncoder(model_dir, threads=args.threads)
    load_s["onnxruntime fp32"] = time.perf_counter() - t
    files = model_files(model_dir)
    if not args.no_ct2 and files.overlay is None:
        cache = Path(tempfile.gettempdir()) / "hybridsearch-ct2"
        for ct in ("float32", "int8"):
            t = time.perf_counter()
            engines[f"ctranslate2 {ct}"] = CT2Encoder(engines["torch fp32"], files.weights_dir, cache / ct, ct,
                                                     args.threads)
            load_s[f"ctranslate2 {ct}"] = time.perf_counter() - t

    n_chunk, n_query = (32, 20) if args.quick else (96, 60)
    ref = engines["torch fp32"]
    sentences = load_sentences(Path(args.data), 20000, seed=1)
    chunks = make_chunks(sentences, ref, n_chunk, tokens=180)
    queries = [s[:80] for s in sentences[-n_query:]]
    truth = ref.encode(chunks)
    rates = {k: [] for k in engines}
    lat = {k: [] for k in engines}
    for _ in range(args.rounds):  # interleaved, so load on the machine hits every engine alike
        for name, enc in engines.items():
            t = time.perf_counter()
            enc.encode(chunks)
            rates[name].append(len(chunks) / (time.perf_counter() - t))
            enc.encode([queries[0]], "query")
            for q in queries:
                t = time.perf_counter()
                enc.encode([q], "query")
                lat[name].append((time.perf_counter() - t) * 1000)
    base_rate = statistics.median(rates["torch fp32"])
    print(f"{len(chunks)} chunks of ~180 tokens, {len(queries)} queries, {args.rounds} rounds, "
          f"threads={args.threads}")
    print("| engine | load s | passages/s | ratio to torch | query p50 ms | cosine to torch (min / mean) |")
    print("|---|---|---|---|---|---|")
    for name, enc in engines.items():
        cos = (enc.encode(chunks) * truth).sum(1)
        rate = statistics.median(rates[name])
        print(f"| {name} | {load_s[name]:.2f} | {rate:.1f} | {rate / base_rate:.2f}x | "
              f"{statistics.median(lat[name]):.1f} | {cos.min():.5f} / {cos.mean():.5f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
