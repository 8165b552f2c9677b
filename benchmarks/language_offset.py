"""How much of the remaining language bias a same-language score offset removes (XQuAD-R).

Encodes articles 0-27 (train) and 28-35 (dev) once with a model (vectors cached under
``--cache``), then re-scores the multilingual pool with ``cosine - delta`` for every candidate in
the question's own language and prints the LAReQA summary per delta. Monolingual and
cross-lingual MRR cannot change (each is measured inside one language); mAP and the
query-language-first rate show what a calibrated offset would buy. Pick delta on train, read dev.

    python benchmarks/language_offset.py --model default --threads 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from trainer.data import load_xquad_r  # noqa: E402
from trainer.evaluate import (SUMMARY_COLUMNS, EvalSet, compute_metrics, encode_eval_set,  # noqa: E402
                              with_language_offset)

SPLITS = {"train": range(0, 28), "dev": range(28, 36)}


def add_vector_options(ap: argparse.ArgumentParser) -> None:
    """The options of :func:`cached_vectors`: --data, --model, --cache, --threads."""
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "xquad-r"))
    ap.add_argument("--model", default="default")
    ap.add_argument("--cache", default="runs/offset-cache")
    ap.add_argument("--threads", type=int, default=None)


def cached_vectors(data: str, model: str, split: str, cache: str | Path, threads=None,
                   _encoders: dict = {}) -> tuple[EvalSet, np.ndarray, np.ndarray]:
    """(eval set, question vectors, candidate vectors) of a split ('train': articles 0-27, 'dev':
    28-35), encoded once per model and cached as ``<cache>/<model name>_<split>.npz``."""
    es = EvalSet.from_parallel_qa(load_xquad_r(data, articles=SPLITS[split]))
    path = Path(cache) / f"{Path(model).name}_{split}.npz"
    if path.is_file():
        z = np.load(path)
        return es, z["q"], z["c"]
    if model not in _encoders:
        from hybridsearch.encoder import load_encoder

        _encoders[model] = load_encoder(model, threads=threads)
    q, c = encode_eval_set(_encoders[model], es)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, q=q, c=c)
    return es, q, c


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_vector_options(ap)
    ap.add_argument("--deltas", default="0,0.01,0.02,0.03,0.04,0.06")
    args = ap.parse_args(argv)
    print("split  delta  " + "  ".join(h for _, h in SUMMARY_COLUMNS))
    for split in SPLITS:
        es, q, c = cached_vectors(args.data, args.model, split, args.cache, args.threads)
        scores = q @ c.T
        for delta in (float(x) for x in args.deltas.split(",")):
            m = compute_metrics(with_language_offset(scores, es, delta), es)
            print(f"{split:5}  {delta:6.4f}  " + "  ".join(f"{m[k]:.3f}" for k, _ in SUMMARY_COLUMNS), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
