"""Where a model's cross-lingual misses come from (XQuAD-R dev articles 28-35).

For every question (language X) and every other pool language Y, on the one-language pools of
the LAReQA protocol:

* top-1 rates: own-language pool (mono) and the other-language pools (cross), and cross given
  that mono is right;
* translation alignment: how often an answer's translation in Y is the nearest sentence of Y's
  pool to the answer in X (passage to passage);
* cross given mono right, split by whether the answer's translation is aligned that way.

If the passage side were the whole problem, cross would be right whenever mono is right and the
translation is aligned. Vectors are cached as in benchmarks/language_offset.py.

    python benchmarks/cross_errors.py --model default --threads 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from language_offset import add_vector_options, cached_vectors  # noqa: E402
from trainer.evaluate import EvalSet  # noqa: E402


def cross_error_rates(q: np.ndarray, c: np.ndarray, es: EvalSet) -> dict[str, float]:
    """The rates described above from query vectors ``q`` and candidate vectors ``c``."""
    scores, pair = q @ c.T, c @ c.T
    cand_lang = np.array([lang for lang, _ in es.candidates])
    pool = {lang: np.flatnonzero(cand_lang == lang) for lang in es.languages}

    def first(row: np.ndarray, target: int, lang: str) -> bool:
        return bool(row[target] >= row[pool[lang]].max())

    mono, cross, aligned = [], [], []  # cross and aligned: one per (query, other language)
    for qi, (qid, x, _) in enumerate(es.queries):
        rel = es.relevant[qid]
        if x not in rel:
            continue
        m = first(scores[qi], rel[x], x)
        for y, target in rel.items():
            if y == x:
                continue
            mono.append(m)
            cross.append(first(scores[qi], target, y))
            aligned.append(first(pair[rel[x]], target, y))
    mono, cross, aligned = (np.array(v, dtype=bool) for v in (mono, cross, aligned))
    ok = mono & aligned
    return {
        "mono_top1": float(mono.mean()), "cross_top1": float(cross.mean()),
        "cross_top1_given_mono": float(cross[mono].mean()),
        "translation_nearest": float(aligned.mean()),
        "cross_top1_given_mono_aligned": float(cross[ok].mean()),
        "cross_top1_given_mono_not_aligned": float(cross[mono & ~aligned].mean()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_vector_options(ap)
    args = ap.parse_args(argv)
    es, q, c = cached_vectors(args.data, args.model, "dev", args.cache, args.threads)
    for name, value in cross_error_rates(q, c, es).items():
        print(f"{name:36} {value:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
