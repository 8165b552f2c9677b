"""How much of the remaining language bias a same-language score offset removes (XQuAD-R).

Encodes articles 0-27 (train) and 28-35 (dev) once with a model (vectors cached under
``--cache``), then re-scores the multilingual pool with ``cosine - delta`` for every candidate in
the question's own language and prints the LAReQA summary per delta. Monolingual and
cross-lingual MRR cannot change (each is measured inside one language); mAP and the
query-language-first rate show what a calibrated offset buys; this is how the same-language offset
was chosen (training now calibrates it on its dev split: ``trainer.evaluate.calibrate_language_offset``).

    python -m experiments.language_offset --model default --threads 2
"""

from __future__ import annotations

import argparse

from benchmarks.common import SPLITS, add_vector_options, cached_vectors
from hybridsearch.records import SUMMARY_COLUMNS
from trainer.evaluate import compute_metrics, with_language_offset


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
