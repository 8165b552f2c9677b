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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "xquad-r"))
    ap.add_argument("--model", default="default")
    ap.add_argument("--cache", default="runs/offset-cache")
    ap.add_argument("--deltas", default="0,0.01,0.02,0.03,0.04,0.06")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    encoder = None
    print("split  delta  " + "  ".join(h for _, h in SUMMARY_COLUMNS))
    for split, articles in SPLITS.items():
        es = EvalSet.from_parallel_qa(load_xquad_r(args.data, articles=articles))
        path = cache / f"{Path(args.model).name}_{split}.npz"
        if path.is_file():
            z = np.load(path)
            q, c = z["q"], z["c"]
        else:
            if encoder is None:
                from hybridsearch.encoder import load_encoder

                encoder = load_encoder(args.model, threads=args.threads)
            q, c = encode_eval_set(encoder, es)
            np.savez(path, q=q, c=c)
        scores = q @ c.T
        for delta in (float(x) for x in args.deltas.split(",")):
            m = compute_metrics(with_language_offset(scores, es, delta), es)
            print(f"{split:5}  {delta:6.4f}  " + "  ".join(f"{m[k]:.3f}" for k, _ in SUMMARY_COLUMNS), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
